"""Argument normalisation shared by every backend (no imports from above this floor)."""

from __future__ import annotations

import math

import numpy as np

Pair = tuple[int, int]
Pads = tuple[tuple[int, int], tuple[int, int]]  # ((top, bottom), (left, right))
PaddingArg = int | str | tuple | list

#: Largest number of elements any array argument or result may have (2**40 floats = 4 TiB):
#: beyond this, sizes are absurd and are refused before anything is allocated.
MAX_ELEMENTS = 1 << 40


def _is_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def pair(value: object, name: str, *, minimum: int = 1) -> Pair:
    """An int or a pair of ints, each >= minimum, as a pair."""
    if _is_int(value):
        vals = (int(value), int(value))  # type: ignore[arg-type]
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        vals = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name}: expected an int or a pair of ints, got {value!r}")
    if min(vals) < minimum:
        raise ValueError(f"{name}: every value must be >= {minimum}, got {value!r}")
    if max(vals) > MAX_ELEMENTS:
        raise ValueError(f"{name}: absurd value {value!r}")
    return vals


def same_pads(size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's 'same': output ceil(size / stride); the odd extra pixel goes at the end."""
    out = -(-size // stride)
    eff = (k - 1) * dilation + 1
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


def padding4(padding: PaddingArg, hw: Pair, kernel: Pair, stride: Pair, dilation: Pair) -> Pads:
    """Normalise int | (ph, pw) | ((top, bottom), (left, right)) | 'valid' | 'same'."""
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return (0, 0), (0, 0)
        if mode == "same":
            return (same_pads(hw[0], kernel[0], stride[0], dilation[0]),
                    same_pads(hw[1], kernel[1], stride[1], dilation[1]))
        raise ValueError(f"padding: expected 'valid', 'same' or ints, got {padding!r}")
    if (isinstance(padding, (tuple, list)) and len(padding) == 2
            and all(isinstance(p, (tuple, list)) for p in padding)):
        (t, b), (l, r) = (pair(padding[0], "padding", minimum=0),
                          pair(padding[1], "padding", minimum=0))
        return (t, b), (l, r)
    ph, pw = pair(padding, "padding", minimum=0)
    return (ph, ph), (pw, pw)


def out_size(size: int, k: int, stride: int, pad: tuple[int, int], dilation: int,
             what: str = "kernel") -> int:
    """Output length of a sliding window; ValueError if the window does not fit."""
    eff = (k - 1) * dilation + 1
    padded = size + pad[0] + pad[1]
    if eff > padded:
        raise ValueError(
            f"{what} extent {eff} (after dilation) is larger than the padded input {padded}")
    return (padded - eff) // stride + 1


def check_elements(shape: tuple[int, ...], name: str) -> None:
    """Refuse absurd sizes before allocating."""
    if math.prod(shape) > MAX_ELEMENTS:
        raise ValueError(f"{name}: shape {shape} is absurdly large")


class ConvGeometry:
    """Checked hyper-parameters and output size of one convolution (NHWC x, HWIO w)."""

    __slots__ = ("stride", "pads", "dilation", "groups", "out_hw", "x_shape", "w_shape")

    def __init__(self, x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: object = 1,
                 padding: PaddingArg = 0, dilation: object = 1, groups: object = 1):
        if len(x_shape) != 4:
            raise ValueError(f"x: expected 4 dimensions (N, H, W, C), got shape {x_shape}")
        if len(w_shape) != 4:
            raise ValueError(f"w: expected 4 dimensions (f_h, f_w, C/groups, K), got {w_shape}")
        if not _is_int(groups):
            raise TypeError(f"groups: expected an int, got {groups!r}")
        groups = int(groups)  # type: ignore[arg-type]
        if groups < 1:
            raise ValueError(f"groups: must be >= 1, got {groups}")
        n, h, w, c = x_shape
        r, s, cg, k = w_shape
        if c % groups or k % groups:
            raise ValueError(f"groups: {groups} must divide input channels {c} and filters {k}")
        if cg * groups != c:
            raise ValueError(
                f"w: has {cg} input channels per group, x has {c} channels "
                f"(groups={groups} needs w.shape[2] == {c // groups})")
        self.stride = pair(stride, "stride")
        self.dilation = pair(dilation, "dilation")
        self.groups = groups
        self.pads = padding4(padding, (h, w), (r, s), self.stride, self.dilation)
        self.out_hw = (out_size(h, r, self.stride[0], self.pads[0], self.dilation[0]),
                       out_size(w, s, self.stride[1], self.pads[1], self.dilation[1]))
        self.x_shape = tuple(x_shape)
        self.w_shape = tuple(w_shape)
        check_elements(self.y_shape, "output")

    @property
    def y_shape(self) -> tuple[int, int, int, int]:
        return (self.x_shape[0], *self.out_hw, self.w_shape[3])

    def flops(self) -> int:
        """2 x multiply-adds of the forward pass."""
        n, p, q, k = self.y_shape
        r, s, cg, _ = self.w_shape
        return 2 * n * p * q * k * r * s * cg
