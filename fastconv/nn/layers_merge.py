"""Layers that join branches: Add (residual skips) and Concatenate (Inception)."""

from __future__ import annotations

import fastconv as F

from .layer import Layer, Shape


class Add(Layer):
    """Element-wise sum of equally shaped inputs; a following ReLU is fused."""

    fuses_relu = True
    multi_input = True

    def compute_output_shape(self, input_shape: list[Shape]) -> Shape:
        if len(input_shape) < 2 or any(s != input_shape[0] for s in input_shape):
            raise ValueError(f"{self.name}: needs >= 2 inputs of one shape, got {input_shape}")
        return input_shape[0]

    def _forward(self, xs, training, relu=False):
        if len(xs) == 2:
            y = F.add(xs[0], xs[1], relu=relu)
        else:
            y = F.add(xs[0], xs[1])
            for x in xs[2:-1]:
                y = F.add(y, x)
            y = F.add(y, xs[-1], relu=relu)
        return y, (len(xs), y if relu else None)

    def _backward(self, dy, ctx, need_dx):
        n, y = ctx
        if y is not None:
            dy = F.relu_backward(dy, y)
        return [dy] * n, []  # the same (read-only) array for every input


class Concatenate(Layer):
    """Join inputs along `axis` (default: channels)."""

    multi_input = True

    def __init__(self, axis: int = -1, *, name: str | None = None):
        super().__init__(name=name)
        self.axis = int(axis)

    def _shape_axis(self, ndim: int) -> int:
        """The axis in shapes without the batch dimension."""
        ax = self.axis if self.axis < 0 else self.axis - 1
        if not -ndim <= ax < ndim:
            raise ValueError(f"{self.name}: axis {self.axis} out of range")
        return ax % ndim

    def compute_output_shape(self, input_shape: list[Shape]) -> Shape:
        ax = self._shape_axis(len(input_shape[0]))
        rest = [s[:ax] + s[ax + 1:] for s in input_shape]
        if len(input_shape) < 2 or any(r != rest[0] for r in rest):
            raise ValueError(f"{self.name}: inputs must match except on axis {self.axis}, "
                             f"got {input_shape}")
        out = list(input_shape[0])
        out[ax] = sum(s[ax] for s in input_shape)
        return tuple(out)

    def _forward(self, xs, training, relu=False):
        ax = self._shape_axis(xs[0].ndim - 1) + 1
        return F.concat(list(xs), axis=ax), ([x.shape[ax] for x in xs], ax)

    def _backward(self, dy, ctx, need_dx):
        sizes, ax = ctx
        return list(F.concat_backward(dy, sizes, axis=ax)), []
