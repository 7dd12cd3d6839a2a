"""Sequential: a Model that is a plain stack of layers."""

from __future__ import annotations

from collections.abc import Sequence

from .layer import Input, InputLayer, Layer, Shape, Tensor, auto_name
from .model import Model


class Sequential(Model):
    """``Sequential([nn.Input((28, 28, 1)), nn.Conv2D(...), ...])`` or ``input_shape=``.

    Without an input shape the graph is built from the first batch it sees.
    """

    def __init__(self, layers: Sequence[Layer | Tensor] = (), *,
                 input_shape: Shape | None = None, name: str | None = None):
        self.name = name or auto_name("sequential")
        self._stack: list[Layer] = []
        self._input: Tensor | None = Input(input_shape) if input_shape is not None else None
        self._built_graph = False
        for layer in layers:
            self.add(layer)

    def add(self, layer: Layer | Tensor) -> None:
        if isinstance(layer, Tensor):
            if self._stack or not isinstance(layer.node.layer, InputLayer):
                raise ValueError("an Input can only be the first entry of a Sequential")
            self._input = layer
        elif isinstance(layer, Layer):
            if layer.multi_input:
                raise TypeError(f"{layer.name}: a merge layer cannot be part of a Sequential")
            self._stack.append(layer)
        else:
            raise TypeError(f"Sequential.add: expected a Layer, got {type(layer).__name__}")
        if self._input is not None and self._stack:
            self._build(self._input)

    def _build(self, inp: Tensor) -> None:
        x = inp
        for layer in self._stack:
            x = layer.nodes[-1].output if layer.nodes and layer.nodes[-1].inputs == [x] \
                else layer(x)
        self._init_graph(inp, x, self.name, None)
        self._built_graph = True

    def _ensure_graph(self, x=None) -> None:
        if self._built_graph:
            return
        if x is None or not self._stack:
            raise RuntimeError(f"{self.name}: give the model an input shape (nn.Input or "
                               "input_shape=) or run it on data first")
        self._input = Input(x.shape[1:])
        self._build(self._input)

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    def __repr__(self) -> str:
        if not self._built_graph:
            return f"<Sequential {self.name!r}: {len(self._stack)} layers, not built yet>"
        return super().__repr__()

    def forward(self, x, training: bool = False):
        self._ensure_graph(x)
        return super().forward(x, training)

    def predict(self, x, batch_size: int = 32):
        self._ensure_graph(x)
        return super().predict(x, batch_size)

    def __getattr__(self, name: str):
        # graph attributes (inputs, nodes, ...) exist once built
        if name in ("inputs", "outputs", "nodes", "keys", "_layers", "_plans", "_ctxs",
                    "_multi_in", "_multi_out", "inference_outputs", "loss_weights", "fuse",
                    "_ctx_plan"):
            if name == "loss_weights":
                return None
            self._ensure_graph()
            return object.__getattribute__(self, name)
        raise AttributeError(name)
