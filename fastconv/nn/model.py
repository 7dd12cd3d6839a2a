"""Model: a graph of layers from symbolic inputs to outputs (Keras' functional API)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from . import serialization, summary
from .graph import Plan, topological_nodes
from .layer import InputLayer, Layer, Tensor, auto_name
from .parameter import Parameter, touch


def _as_list(x) -> tuple[list, bool]:
    return (list(x), True) if isinstance(x, (list, tuple)) else ([x], False)


class Model:
    """``Model(inputs, outputs)``: residual skips and branches are just tensors used twice.

    Args:
        inputs, outputs: a symbolic tensor or a list of them (see :func:`Input`). Outputs may
            be intermediate tensors of another model (transfer learning: a new head).
        inference_outputs: how many leading outputs ``training=False`` returns (GoogLeNet's
            auxiliary heads are training-only); default all.
    Forward with ``training=False`` folds BatchNorm into the preceding convolution and fuses
    ReLUs (see fastconv.nn.graph); ``loss_weights`` is a hint for compile() (one per output).
    """

    def __init__(self, inputs, outputs, *, name: str | None = None,
                 inference_outputs: int | None = None):
        self._init_graph(inputs, outputs, name, inference_outputs)

    def _init_graph(self, inputs, outputs, name, inference_outputs) -> None:
        self.inputs, self._multi_in = _as_list(inputs)
        self.outputs, self._multi_out = _as_list(outputs)
        for t in self.inputs + self.outputs:
            if not isinstance(t, Tensor):
                raise TypeError(f"inputs and outputs must be symbolic tensors (nn.Input(...) "
                                f"and layer calls), got {type(t).__name__}")
        self.name = name or getattr(self, "name", None) or auto_name("model")
        n = len(self.outputs) if inference_outputs is None else int(inference_outputs)
        if not 1 <= n <= len(self.outputs):
            raise ValueError(f"inference_outputs: must be in [1, {len(self.outputs)}], got {n}")
        self.inference_outputs = n
        self.loss_weights: list[float] | None = getattr(self, "loss_weights", None)
        self.nodes = topological_nodes(self.inputs, self.outputs)
        in_ids = {id(t) for t in self.inputs}
        # an intermediate tensor may be an input (a head model); its producer is not ours
        self.nodes = [n for n in self.nodes
                      if id(n.output) not in in_ids or isinstance(n.layer, InputLayer)]
        layers: list[Layer] = []
        for node in self.nodes:
            if node.layer not in layers:
                layers.append(node.layer)
        self._layers = layers
        self.keys = _unique_keys(layers)
        self._plans: dict[tuple[bool, bool], Plan] = {}
        #: fold BN into convolutions and fuse ReLUs (False: run every layer as written)
        self.fuse = True
        self._ctxs: list | None = None

    # -- structure --------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            return self.layers[index]
        for layer in self._layers:
            if layer.name == name or self.keys[layer] == name:
                return layer
        raise ValueError(f"no layer named {name!r} in {self.name!r}")

    @property
    def input_shape(self):
        shapes = [(None, *t.shape) for t in self.inputs]
        return shapes if self._multi_in else shapes[0]

    @property
    def output_shape(self):
        shapes = [(None, *t.shape) for t in self.outputs]
        return shapes if self._multi_out else shapes[0]

    def parameters(self) -> list[Parameter]:
        return [p for layer in self._layers for p in layer.parameters()]

    def trainable_parameters(self) -> list[Parameter]:
        # each training step asks: no per-layer list copies
        return [p for layer in self._layers for p in layer._params if p.trainable]

    def count_params(self) -> int:
        """Weights, biases and BN gamma/beta (not the running statistics)."""
        return sum(p.size for p in self.parameters())

    @property
    def trainable(self) -> bool:
        return any(layer.trainable for layer in self._layers)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        for layer in self._layers:
            layer.trainable = value

    def freeze(self, up_to: str | int | None = None) -> None:
        """Freeze layers (no updates, BN on running statistics) up to and including the
        named or indexed layer; all layers if None."""
        stop = len(self._layers) - 1
        if isinstance(up_to, str):
            stop = self._layers.index(self.get_layer(up_to))
        elif up_to is not None:
            stop = range(len(self._layers))[up_to]
        for layer in self._layers[:stop + 1]:
            layer.trainable = False

    def unfreeze(self) -> None:
        self.trainable = True

    # -- running ----------------------------------------------------------------------------
    def _plan(self, training: bool) -> Plan:
        key = (training, self.fuse)
        if key not in self._plans:
            outs = self.outputs if training else self.outputs[:self.inference_outputs]
            self._plans[key] = Plan(self.inputs, outs, training, self.fuse)
        return self._plans[key]

    def forward(self, x, training: bool = False):
        """Run on an array (or a list, one per input). Training returns every output;
        inference the first ``inference_outputs`` (an array when that is one)."""
        xs, _ = _as_list(x)
        if len(xs) != len(self.inputs):
            raise ValueError(f"{self.name}: expected {len(self.inputs)} inputs, got {len(xs)}")
        for i, (a, t) in enumerate(zip(xs, self.inputs, strict=False)):
            if not isinstance(a, np.ndarray) or a.shape[1:] != t.shape:
                raise ValueError(f"{self.name}: input {i} must be an array of shape "
                                 f"(N, {', '.join(map(str, t.shape))}), got "
                                 f"{getattr(a, 'shape', type(a).__name__)}")
        if training:
            touch()
            self._ctxs = None  # the last step's saved tensors go before this forward's arrive
            for plan in self._plans.values():  # BN-folded inference weights (a copy of every
                plan.drop_folded()            # conv kernel) would go stale anyway
        plan = self._plan(bool(training))
        ys, ctxs = plan.forward(xs, bool(training))
        if training:  # an inference forward in between does not spoil the next backward
            self._ctxs, self._ctx_plan = ctxs, plan
        return ys if len(ys) > 1 or self._multi_out and training else ys[0]

    def __call__(self, x, training: bool = False):
        items, _ = _as_list(x)
        if any(isinstance(t, Tensor) for t in items):
            raise TypeError("calling a Model on symbolic tensors is not supported; build a "
                            "new Model from this one's tensors (model.inputs, layer.output)")
        return self.forward(x, training=training)

    def backward(self, dy, *, input_grad: bool = True):
        """Backpropagate dL/d(outputs) of the last ``forward(training=True)``.

        dy: an array, or a list with one entry per output (None for an output without loss).
        Sets every reached trainable parameter's ``grad`` (others get None). Frees the saved
        activations as it goes: a second backward needs a new training forward. Returns
        dL/d(input) (a list for several inputs), or None with ``input_grad=False``, which also
        stops backpropagation below the last trainable layer (cheap fine-tuning).
        """
        if self._ctxs is None:
            raise RuntimeError(f"{self.name}: backward needs a forward(x, training=True) first")
        dys, _ = _as_list(dy)
        if len(dys) != len(self.outputs):
            raise ValueError(f"{self.name}: expected {len(self.outputs)} output gradients, "
                             f"got {len(dys)}")
        for layer in self._layers:  # not parameters(): no list copies every step
            for p in layer._params:
                p.grad = None
        touch()
        ctxs, self._ctxs = self._ctxs, None  # one backward per forward: it frees as it goes
        dxs = self._ctx_plan.backward(dys, ctxs, input_grad)
        if not input_grad:
            return None
        return dxs if self._multi_in else dxs[0]

    def predict(self, x, batch_size: int = 32):
        """Inference in batches of `batch_size`; outputs concatenated along the batch."""
        xs, _ = _as_list(x)
        n = xs[0].shape[0]
        outs: list[list[np.ndarray]] = []
        for i in range(0, n, int(batch_size)):
            y = self.forward([a[i:i + batch_size] for a in xs] if self._multi_in
                             else xs[0][i:i + batch_size])
            outs.append(y if isinstance(y, list) else [y])
        cat = [np.concatenate(parts) for parts in zip(*outs, strict=False)]
        return cat if len(cat) > 1 else cat[0]

    # -- weights ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        return serialization.state_dict(self)

    def load_state_dict(self, d: dict[str, np.ndarray], strict: bool = True):
        return serialization.load_state_dict(self, d, strict)

    def save_weights(self, path: str) -> None:
        serialization.save(self.state_dict(), path)

    def load_weights(self, path: str, strict: bool = True):
        return self.load_state_dict(serialization.load(path), strict)

    def get_weights(self) -> list[np.ndarray]:
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        i = 0
        for layer in self._layers:
            k = len(layer.get_weights())
            layer.set_weights(weights[i:i + k])
            i += k
        if i != len(weights):
            raise ValueError(f"{self.name}: expected {i} arrays, got {len(weights)}")

    def invalidate_inference_cache(self) -> None:
        """Call after editing weights in place outside training (rebuilds folded weights)."""
        touch()

    # -- reporting and training ---------------------------------------------------------------
    def summary(self, print_fn: Callable[[str], None] = print) -> None:
        """Keras-style table: layer, output shape, parameters, multiply-adds per sample."""
        for line in summary.summary_text(self).splitlines():
            print_fn(line)

    def compile(self, optimizer="adam", loss="sparse_categorical_crossentropy", metrics=(),
                loss_weights=None, **kwargs):
        from ..train import loop

        return loop.compile(self, optimizer=optimizer, loss=loss, metrics=metrics,
                            loss_weights=loss_weights, **kwargs)

    def fit(self, *args, **kwargs):
        from ..train import loop

        return loop.fit(self, *args, **kwargs)

    def evaluate(self, *args, **kwargs):
        from ..train import loop

        return loop.evaluate(self, *args, **kwargs)

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name!r}: {len(self._layers)} layers, "
                f"{self.count_params():,} params>")


def _unique_keys(layers: list[Layer]) -> dict[Layer, str]:
    """State-dict names: explicit layer names, auto-named layers renumbered per model
    (conv2d, conv2d_1, ...) so they do not depend on what was built before."""
    keys: dict[Layer, str] = {}
    counts: dict[str, int] = {}
    for layer in layers:
        if layer.auto_named:
            prefix = layer.prefix
            c = counts.get(prefix, 0)
            counts[prefix] = c + 1
            keys[layer] = prefix if c == 0 else f"{prefix}_{c}"
        else:
            keys[layer] = layer.name
    if len(set(keys.values())) != len(keys):
        seen: set[str] = set()
        dup = next(k for k in keys.values() if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ValueError(f"two layers of one model are named {dup!r}; names must be unique")
    return keys
