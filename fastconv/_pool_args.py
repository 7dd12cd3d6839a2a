"""Checked pooling-window hyper-parameters (shared by the reference and every backend)."""

from __future__ import annotations

from ._args import PaddingArg, Pads, check_elements, out_size, padding4, pair


class PoolGeometry:
    """Window, stride, paddings and output size of one 2-D pooling over NHWC `x`.

    Each padding side must be smaller than the window, so every window holds at least one
    real input cell (padded cells never win a max and never count in an average).
    """

    __slots__ = ("pool_size", "stride", "pads", "out_hw", "x_shape")

    def __init__(self, x_shape: tuple[int, ...], pool_size: object = 2, stride: object = None,
                 padding: PaddingArg = 0):
        if len(x_shape) != 4:
            raise ValueError(f"x: expected 4 dimensions (N, H, W, C), got shape {x_shape}")
        self.pool_size = pair(pool_size, "pool_size")
        self.stride = self.pool_size if stride is None else pair(stride, "stride")
        h, w = x_shape[1], x_shape[2]
        self.pads: Pads = padding4(padding, (h, w), self.pool_size, self.stride, (1, 1))
        for (lo, hi), k in zip(self.pads, self.pool_size, strict=True):
            if lo >= k or hi >= k:
                raise ValueError(
                    f"padding: each side must be smaller than pool_size {self.pool_size}, "
                    f"got {self.pads}")
        self.out_hw = (
            out_size(h, self.pool_size[0], self.stride[0], self.pads[0], 1, what="pool_size"),
            out_size(w, self.pool_size[1], self.stride[1], self.pads[1], 1, what="pool_size"))
        self.x_shape = tuple(x_shape)
        check_elements(self.y_shape, "output")

    @property
    def y_shape(self) -> tuple[int, int, int, int]:
        return (self.x_shape[0], *self.out_hw, self.x_shape[3])

    def taps(self):
        """(r, s, rows, cols): for each window tap, the padded-input rows/cols it reads."""
        (p, q), (sh, sw) = self.out_hw, self.stride
        for r in range(self.pool_size[0]):
            for s in range(self.pool_size[1]):
                yield r, s, slice(r, r + (p - 1) * sh + 1, sh), slice(s, s + (q - 1) * sw + 1, sw)
