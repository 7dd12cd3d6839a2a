"""Layer base class, symbolic tensors and graph nodes (Keras' functional API, kept small)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from .parameter import Parameter, touch

Shape = tuple[int, ...]

_counters: defaultdict[str, int] = defaultdict(int)


def _snake(name: str) -> str:
    """Conv2D -> conv2d, MaxPool2D -> max_pool2d, ReLU -> relu (Keras' default names)."""
    return re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", name).lower()


def auto_name(prefix: str) -> str:
    n = _counters[prefix]
    _counters[prefix] += 1
    return prefix if n == 0 else f"{prefix}_{n}"


class Tensor:
    """A symbolic tensor: the shape without the batch dimension and the node that makes it."""

    __slots__ = ("shape", "node")

    def __init__(self, shape: Shape, node: Node):
        self.shape = tuple(int(d) for d in shape)
        self.node = node

    def __repr__(self) -> str:
        return f"<Tensor shape={(None, *self.shape)} from {self.node.layer.name!r}>"


class Node:
    """One application of a layer to symbolic inputs."""

    __slots__ = ("layer", "inputs", "output")

    def __init__(self, layer: Layer, inputs: list[Tensor], out_shape: Shape):
        self.layer = layer
        self.inputs = inputs
        self.output = Tensor(out_shape, self)


class Layer:
    """A layer owns its parameters, builds them lazily from the input shape, and runs ops.

    Subclasses implement ``build``, ``compute_output_shape``, ``_forward(x, training, relu)
    -> (y, ctx)`` and ``_backward(dy, ctx, need_dx) -> (dx, grads)`` (grads aligned with
    ``parameters()``, None for frozen ones). ``relu=True`` asks the layer to fuse a following
    ReLU (only layers with ``fuses_relu``).
    """

    fuses_relu = False
    multi_input = False

    def __init__(self, *, name: str | None = None, trainable: bool = True):
        self.auto_named = name is None
        self.prefix = _snake(type(self).__name__)
        self.name = name if name is not None else auto_name(self.prefix)
        self._params: list[Parameter] = []
        self._buffers: list[str] = []
        self._trainable = trainable
        self.built = False
        self.nodes: list[Node] = []
        self._ctx = None

    # -- parameters -------------------------------------------------------------------------
    def add_param(self, name: str, shape: Shape, init: str) -> Parameter:
        p = Parameter(name, None, self._trainable, shape=tuple(shape), init=init)
        self._params.append(p)
        return p

    def add_buffer(self, name: str, value: np.ndarray) -> None:
        """Non-trainable state saved with the weights (BatchNorm's running statistics)."""
        setattr(self, name, value)
        self._buffers.append(name)

    def parameters(self) -> list[Parameter]:
        return list(self._params)

    def buffers(self) -> dict[str, np.ndarray]:
        return {b: getattr(self, b) for b in self._buffers}

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for p in self._params:
            p.trainable = self._trainable

    def count_params(self) -> int:
        return sum(p.size for p in self._params)

    def get_weights(self) -> list[np.ndarray]:
        """Parameter values, then buffers (Keras order: gamma, beta, moving mean, variance)."""
        return [p.value for p in self._params] + [getattr(self, b) for b in self._buffers]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        names = [p.name for p in self._params] + self._buffers
        if len(weights) != len(names):
            raise ValueError(f"{self.name}: expected {len(names)} arrays ({names}), "
                             f"got {len(weights)}")
        for p, w in zip(self._params, weights, strict=False):
            p.value = np.asarray(w, dtype=p.value.dtype).copy()
        for b, w in zip(self._buffers, weights[len(self._params):], strict=False):
            old = getattr(self, b)
            w = np.asarray(w, dtype=old.dtype)
            if w.shape != old.shape:
                raise ValueError(f"{self.name}.{b}: expected shape {old.shape}, got {w.shape}")
            setattr(self, b, w.copy())
        touch()

    # -- shapes and cost --------------------------------------------------------------------
    def build(self, input_shape: Shape | list[Shape]) -> None:
        """Create the parameters for this input shape (no batch dimension)."""

    def compute_output_shape(self, input_shape: Shape | list[Shape]) -> Shape:
        return input_shape  # type: ignore[return-value]

    def macs(self, input_shape: Shape | list[Shape], output_shape: Shape) -> int:
        """Multiply-adds of one sample's forward pass."""
        return 0

    # -- running ----------------------------------------------------------------------------
    def _ensure_built(self, input_shape: Shape | list[Shape]) -> None:
        if not self.built:
            self.build(input_shape)
            self.built = True

    def __call__(self, inputs, training: bool = False):
        """On symbolic tensors: add a node to the graph. On arrays: ``forward``."""
        items = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if not all(isinstance(t, Tensor) for t in items):
            return self.forward(inputs, training=training)
        if self.multi_input != isinstance(inputs, (list, tuple)):
            raise TypeError(f"{self.name}: expected "
                            f"{'a list of tensors' if self.multi_input else 'one tensor'}")
        in_shape = [t.shape for t in items] if self.multi_input else items[0].shape
        self._ensure_built(in_shape)
        node = Node(self, list(items), self.compute_output_shape(in_shape))
        self.nodes.append(node)
        return node.output

    def forward(self, x, training: bool = False):
        """Run the layer on arrays (NHWC batch); keeps what backward needs."""
        self._ensure_built([a.shape[1:] for a in x] if self.multi_input else x.shape[1:])
        if training:
            touch()
        y, self._ctx = self._forward(x, training)
        return y

    def backward(self, dy):
        """dL/dx from dL/dy of the last forward; sets (overwrites) the parameters' grads.
        Frees what the forward saved: one backward per forward."""
        if self._ctx is None:
            raise RuntimeError(f"{self.name}: backward before forward")
        ctx, self._ctx = self._ctx, None  # the saved tensors go with this backward
        dx, grads = self._backward(dy, ctx, True)
        for p, g in zip(self._params, grads, strict=False):
            p.grad = g
        touch()
        return dx

    def _forward(self, x, training: bool, relu: bool = False):
        raise NotImplementedError

    def _backward(self, dy, ctx, need_dx: bool):
        raise NotImplementedError

    # -- Keras conveniences -----------------------------------------------------------------
    @property
    def output(self) -> Tensor:
        if not self.nodes:
            raise AttributeError(f"{self.name}: the layer has not been called on a tensor")
        return self.nodes[-1].output

    @property
    def input(self) -> Tensor | list[Tensor]:
        if not self.nodes:
            raise AttributeError(f"{self.name}: the layer has not been called on a tensor")
        ins = self.nodes[-1].inputs
        return ins if self.multi_input else ins[0]

    @property
    def output_shape(self) -> tuple:
        return (None, *self.output.shape)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class InputLayer(Layer):
    """The source of a graph: holds the input shape (no batch dimension)."""

    def __init__(self, shape: Shape, *, name: str | None = None):
        super().__init__(name=name)
        self.shape = tuple(int(d) for d in shape)
        if not self.shape or min(self.shape) < 1:
            raise ValueError(f"Input shape must be positive ints, got {shape!r}")
        self.built = True
        node = Node(self, [], self.shape)
        self.nodes.append(node)

    def _forward(self, x, training: bool, relu: bool = False):
        return x, None

    def _backward(self, dy, ctx, need_dx: bool):
        return dy, []


def Input(shape: Sequence[int], *, name: str | None = None) -> Tensor:  # noqa: N802 (Keras)
    """A symbolic model input of `shape` (without the batch dimension), e.g. (224, 224, 3)."""
    return InputLayer(tuple(shape), name=name).output
