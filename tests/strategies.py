"""Shared hypothesis strategies: convolution/pooling configurations and bounded float arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from fastconv._args import ConvGeometry


@dataclass(frozen=True)
class ConvCase:
    """One convolution configuration: shapes plus hyper-parameters (NHWC / HWIO)."""

    N: int
    H: int
    W: int
    C: int
    K: int
    R: int
    S: int
    stride: tuple[int, int]
    padding: object
    dilation: tuple[int, int]
    groups: int

    @property
    def x_shape(self) -> tuple[int, int, int, int]:
        return (self.N, self.H, self.W, self.C)

    @property
    def w_shape(self) -> tuple[int, int, int, int]:
        return (self.R, self.S, self.C // self.groups, self.K)

    @property
    def kwargs(self) -> dict:
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    groups=self.groups)

    def geometry(self) -> ConvGeometry:
        return ConvGeometry(self.x_shape, self.w_shape, **self.kwargs)


def arrays(rng: np.random.Generator, shape: tuple[int, ...], dtype=np.float32,
           scale: float = 1.0) -> np.ndarray:
    """Bounded uniform values in [-scale, scale): no overflow in float32 sums."""
    return (rng.uniform(-scale, scale, size=shape)).astype(dtype)


seeds = st.integers(0, 2**32 - 1)
small = st.integers(1, 4)


@st.composite
def paddings(draw, r: int, s: int) -> object:
    kind = draw(st.sampled_from(["int", "pair", "asym", "valid", "same"]))
    if kind == "int":
        return draw(st.integers(0, max(r, s)))
    if kind == "pair":
        return (draw(st.integers(0, r)), draw(st.integers(0, s)))
    if kind == "asym":
        return ((draw(st.integers(0, r)), draw(st.integers(0, r))),
                (draw(st.integers(0, s)), draw(st.integers(0, s))))
    return kind


@st.composite
def conv_cases(draw, max_hw: int = 12, max_c: int = 9, max_k: int = 20, max_n: int = 3,
               depthwise: bool = True) -> ConvCase:
    """Random valid convolutions: odd sizes, stride > kernel, dilation, groups, C=1, odd K."""
    groups = draw(st.sampled_from([1, 1, 1, 2, 3] + (["dw"] if depthwise else [])))
    if groups == "dw":
        groups = C = K = draw(st.integers(1, max_c))
    else:
        C = groups * draw(st.integers(1, max(1, max_c // groups)))
        K = groups * draw(st.integers(1, max(1, max_k // groups)))
    R, S = draw(small), draw(small)
    stride = (draw(small), draw(small))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(paddings(R, S))
    H = draw(st.integers(1, max_hw))
    W = draw(st.integers(1, max_hw))
    case = ConvCase(draw(st.integers(1, max_n)), H, W, C, K, R, S, stride, padding, dilation,
                    groups)
    try:
        case.geometry()
    except ValueError:
        # kernel larger than the padded input: grow the input until it fits
        eff_h, eff_w = (R - 1) * dilation[0] + 1, (S - 1) * dilation[1] + 1
        case = ConvCase(case.N, max(H, eff_h), max(W, eff_w), C, K, R, S, stride, padding,
                        dilation, groups)
        case.geometry()
    return case


@dataclass(frozen=True)
class PoolCase:
    """One pooling configuration (NHWC x)."""

    N: int
    H: int
    W: int
    C: int
    pool_size: tuple[int, int]
    stride: tuple[int, int] | None
    padding: object

    @property
    def x_shape(self) -> tuple[int, int, int, int]:
        return (self.N, self.H, self.W, self.C)

    @property
    def args(self) -> tuple:
        return (self.pool_size, self.stride, self.padding)

    def geometry(self):
        from fastconv._pool_args import PoolGeometry

        return PoolGeometry(self.x_shape, *self.args)


@st.composite
def pool_paddings(draw, kh: int, kw: int) -> object:
    """Paddings with every side smaller than the window (the pooling rule)."""
    kind = draw(st.sampled_from(["int", "pair", "asym", "valid", "same", "same"]))
    if kind == "int":
        return draw(st.integers(0, min(kh, kw) - 1))
    if kind == "pair":
        return (draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)))
    if kind == "asym":
        return ((draw(st.integers(0, kh - 1)), draw(st.integers(0, kh - 1))),
                (draw(st.integers(0, kw - 1)), draw(st.integers(0, kw - 1))))
    return kind


@st.composite
def pool_cases(draw, max_hw: int = 9, max_c: int = 19, max_n: int = 2) -> PoolCase:
    """Random valid poolings: windows 1..4, strides 1..4 or None, paddings < window."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 4), st.integers(1, 4))))
    padding = draw(pool_paddings(kh, kw))
    H, W = draw(st.integers(1, max_hw)), draw(st.integers(1, max_hw))
    if not isinstance(padding, str):  # the window must fit in the padded input
        (t, b), (l, r) = (((padding, padding), (padding, padding)) if isinstance(padding, int)
                          else padding if isinstance(padding[0], tuple)
                          else ((padding[0],) * 2, (padding[1],) * 2))
        H, W = max(H, kh - t - b), max(W, kw - l - r)
    elif padding == "valid":
        H, W = max(H, kh), max(W, kw)
    case = PoolCase(draw(st.integers(1, max_n)), H, W, draw(st.integers(1, max_c)), (kh, kw),
                    stride, padding)
    case.geometry()
    return case


def tie_arrays(rng: np.random.Generator, shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
    """Values from a handful of levels: many ties inside pooling windows."""
    return rng.integers(-2, 3, size=shape).astype(dtype)
