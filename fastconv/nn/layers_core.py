"""Shape and regularisation layers: Flatten, Dropout, ZeroPadding2D."""

from __future__ import annotations

import math

import numpy as np

from .._args import padding4
from .layer import Layer, Shape
from .parameter import rng


class Flatten(Layer):
    """(N, H, W, C) -> (N, H * W * C), in NHWC order."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (math.prod(input_shape),)

    def _forward(self, x, training, relu=False):
        return x.reshape(x.shape[0], -1), x.shape

    def _backward(self, dy, shape, need_dx):
        return dy.reshape(shape), []


class Dropout(Layer):
    """Inverted dropout: in training zero each value with probability `rate` and scale the
    rest by 1 / (1 - rate); identity at inference."""

    def __init__(self, rate: float, *, name: str | None = None):
        super().__init__(name=name)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"rate: must be in [0, 1), got {rate}")
        self.rate = float(rate)

    def _forward(self, x, training, relu=False):
        if not training or self.rate == 0.0:
            return x, None
        mask = (rng().random(x.shape, dtype=np.float32) >= self.rate).astype(x.dtype)
        mask *= x.dtype.type(1.0 / (1.0 - self.rate))
        return x * mask, mask

    def _backward(self, dy, mask, need_dx):
        return (dy if mask is None else dy * mask), []


class ZeroPadding2D(Layer):
    """Zero rows/columns around H and W: int, (ph, pw) or ((top, bottom), (left, right))."""

    def __init__(self, padding: object = 1, *, name: str | None = None):
        super().__init__(name=name)
        if isinstance(padding, str):
            raise TypeError("padding: expected ints, not a string")
        self.pads = padding4(padding, (1, 1), (1, 1), (1, 1), (1, 1))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        (t, b), (l, r) = self.pads
        h, w, c = input_shape
        return (h + t + b, w + l + r, c)

    def _forward(self, x, training, relu=False):
        return np.pad(x, ((0, 0), *self.pads, (0, 0))), x.shape

    def _backward(self, dy, shape, need_dx):
        (t, _), (l, _) = self.pads
        return np.ascontiguousarray(dy[:, t:t + shape[1], l:l + shape[2], :]), []
