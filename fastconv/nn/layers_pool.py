"""Pooling layers: max, average and global average (Keras names are aliases)."""

from __future__ import annotations

import fastconv as F

from .._args import Pads, out_size, padding4, pair
from .layer import Layer, Shape


class _Pool2D(Layer):
    def __init__(self, pool_size: object = 2, strides: object = None, padding: object = "valid",
                 *, name: str | None = None):
        super().__init__(name=name)
        self.pool_size = pair(pool_size, "pool_size")
        self.strides = pair(strides, "strides") if strides is not None else self.pool_size
        self.padding = padding

    def pads(self, hw: tuple[int, int]) -> Pads:
        return padding4(self.padding, hw, self.pool_size, self.strides, (1, 1))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: expects (H, W, C) inputs, got {input_shape}")
        h, w, c = input_shape
        pads = self.pads((h, w))
        return (out_size(h, self.pool_size[0], self.strides[0], pads[0], 1, "pool window"),
                out_size(w, self.pool_size[1], self.strides[1], pads[1], 1, "pool window"), c)

    def _args(self, x) -> dict:
        """The op's keyword arguments for input x (kept per input size and settings: every
        training step asks twice)."""
        key = (x.shape[1], x.shape[2], self.pool_size, self.strides, self.padding)
        cache = self.__dict__.setdefault("_args_cache", {})
        try:
            args = cache.get(key)
        except TypeError:  # an unhashable padding (a list): no cache
            key, args = None, None
        if args is None:
            args = dict(pool_size=self.pool_size, stride=self.strides,
                        padding=self.pads(x.shape[1:3]))
            if key is not None:
                cache[key] = args
        return args


class MaxPool2D(_Pool2D):
    """Max pooling; 'same' padding never lets a padded cell win (TensorFlow semantics)."""

    def _forward(self, x, training, relu=False):
        return F.max_pool2d(x, **self._args(x)), x

    def _backward(self, dy, x, need_dx):
        return F.max_pool2d_backward(dy, x, **self._args(x)), []


class AvgPool2D(_Pool2D):
    """Average pooling; with 'same' padding the mean is over the real cells only (Keras),
    ``count_include_pad=True`` divides by the window area instead (PyTorch's default)."""

    def __init__(self, pool_size: object = 2, strides: object = None, padding: object = "valid",
                 count_include_pad: bool = False, *, name: str | None = None):
        super().__init__(pool_size, strides, padding, name=name)
        self.count_include_pad = bool(count_include_pad)

    def _forward(self, x, training, relu=False):
        y = F.avg_pool2d(x, count_include_pad=self.count_include_pad, **self._args(x))
        return y, x

    def _backward(self, dy, x, need_dx):
        return F.avg_pool2d_backward(dy, x, count_include_pad=self.count_include_pad,
                                     **self._args(x)), []

    def _backward_through_tanh(self, dy, x):
        """dL/du for x = tanh(u) (the previous layer's activation) in one pass: see
        nn.graph's backward fusions."""
        return F.avg_pool2d_backward(dy, x, count_include_pad=self.count_include_pad,
                                     through_tanh=True, **self._args(x)), []


class GlobalAvgPool2D(Layer):
    """Mean over H and W: (N, H, W, C) -> (N, C)."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: expects (H, W, C) inputs, got {input_shape}")
        return (input_shape[2],)

    def _forward(self, x, training, relu=False):
        return F.global_avg_pool2d(x), x

    def _backward(self, dy, x, need_dx):
        return F.global_avg_pool2d_backward(dy, x), []


MaxPooling2D = MaxPool2D
AveragePooling2D = AvgPool2D
GlobalAveragePooling2D = GlobalAvgPool2D
