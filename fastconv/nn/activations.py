"""Activation functions (forward, backward from the output) and their layers."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import fastconv as F

from .layer import Layer


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _tanh_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dy * (1 - y^2): one fused pass (the tanh_backward op)."""
    return F.tanh_backward(dy, y)


def _softmax_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


#: name -> (forward(x), backward(dy, y)); the backward needs only the output.
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "linear": (lambda x: x, lambda dy, y: dy),
    "relu": (lambda x: F.relu(x), lambda dy, y: F.relu_backward(dy, y)),
    "tanh": (np.tanh, lambda dy, y: _tanh_backward(dy, y)),
    "sigmoid": (_sigmoid, lambda dy, y: dy * y * (1 - y)),
    "softmax": (lambda x: F.softmax(x, axis=-1), _softmax_backward),
}


def check_activation(name: str | None) -> str:
    name = "linear" if name is None else name
    if name not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)} or None, "
                         f"got {name!r}")
    return name


class Activation(Layer):
    """Element-wise activation by name: 'relu', 'tanh', 'sigmoid', 'softmax', 'linear'."""

    def __init__(self, activation: str, *, name: str | None = None):
        super().__init__(name=name)
        self.activation = check_activation(activation)

    def _forward(self, x, training, relu=False):
        y = ACTIVATIONS[self.activation][0](x)
        return y, y

    def _backward(self, dy, y, need_dx):
        return ACTIVATIONS[self.activation][1](dy, y), []


class ReLU(Activation):
    """max(x, 0); a graph fuses it into the preceding Conv2D, Dense, BatchNorm or Add."""

    def __init__(self, *, name: str | None = None):
        super().__init__("relu", name=name)


class Tanh(Activation):
    def __init__(self, *, name: str | None = None):
        super().__init__("tanh", name=name)


class Sigmoid(Activation):
    def __init__(self, *, name: str | None = None):
        super().__init__("sigmoid", name=name)


class Softmax(Activation):
    """Softmax over the last axis."""

    def __init__(self, *, name: str | None = None):
        super().__init__("softmax", name=name)


def is_relu(layer: Layer) -> bool:
    return isinstance(layer, Activation) and layer.activation == "relu"
