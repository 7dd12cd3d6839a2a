"""Reference 2-D pooling (NHWC): loops over the window taps, vectorised over pixels."""

from __future__ import annotations

import numpy as np

from .._args import PaddingArg
from .._pool_args import PoolGeometry
from .eltwise import tanh_backward


def _padded(x: np.ndarray, g: PoolGeometry, value: float) -> np.ndarray:
    return np.pad(x, ((0, 0), g.pads[0], g.pads[1], (0, 0)), constant_values=value)


def _real_cells(g: PoolGeometry) -> np.ndarray:
    """(Hp, Wp, 1) bool mask of the padded input: True on real cells, False on padding."""
    h, w = g.x_shape[1], g.x_shape[2]
    return np.pad(np.ones((h, w, 1), bool), (g.pads[0], g.pads[1], (0, 0)))


def _crop(xp: np.ndarray, g: PoolGeometry) -> np.ndarray:
    (t, _), (l, _) = g.pads
    return np.ascontiguousarray(xp[:, t:t + g.x_shape[1], l:l + g.x_shape[2], :])


def max_pool2d(x: np.ndarray, pool_size: object = 2, stride: object = None,
               padding: PaddingArg = 0) -> np.ndarray:
    """y[n,p,q,c] = max over the window at (p*sh - top, q*sw - left) of x; padding never wins.

    pool_size, stride (None = pool_size): int or pair; padding as for conv2d ('same' is
    TensorFlow's), each side smaller than the window.
    """
    g = PoolGeometry(x.shape, pool_size, stride, padding)
    xp = _padded(x, g, -np.inf)
    y = np.full(g.y_shape, -np.inf, x.dtype)
    for _, _, rows, cols in g.taps():
        np.maximum(y, xp[:, rows, cols, :], out=y)
    return y


def max_pool2d_backward(dy: np.ndarray, x: np.ndarray, pool_size: object = 2,
                        stride: object = None, padding: PaddingArg = 0) -> np.ndarray:
    """dx of max_pool2d: each window's dy goes to its FIRST maximum in row-major scan order."""
    g = PoolGeometry(x.shape, pool_size, stride, padding)
    if tuple(dy.shape) != g.y_shape:
        raise ValueError(f"dy: expected shape {g.y_shape}, got {tuple(dy.shape)}")
    dtype = np.result_type(dy, x)
    y = max_pool2d(x, pool_size, stride, padding)
    xp = _padded(x, g, -np.inf)
    real = _real_cells(g)
    dxp = np.zeros(xp.shape, dtype)
    taken = np.zeros(g.y_shape, bool)
    for _, _, rows, cols in g.taps():
        win = (xp[:, rows, cols, :] == y) & real[rows, cols] & ~taken
        dxp[:, rows, cols, :] += np.where(win, dy, 0)
        taken |= win
    return _crop(dxp, g)


def _divisor(g: PoolGeometry, count_include_pad: bool, dtype) -> np.ndarray | float:
    """Per-output divisor, shape (P, Q, 1): window area, or the real cells it covers."""
    if count_include_pad:
        return float(g.pool_size[0] * g.pool_size[1])
    real = _real_cells(g).astype(dtype)
    count = np.zeros((*g.out_hw, 1), dtype)
    for _, _, rows, cols in g.taps():
        count += real[rows, cols]
    return count


def avg_pool2d(x: np.ndarray, pool_size: object = 2, stride: object = None,
               padding: PaddingArg = 0, *, count_include_pad: bool = False) -> np.ndarray:
    """Window mean; count_include_pad=False divides by the real cells in the window (Keras),
    True by the window area (PyTorch's default)."""
    g = PoolGeometry(x.shape, pool_size, stride, padding)
    xp = _padded(x, g, 0)
    y = np.zeros(g.y_shape, x.dtype)
    for _, _, rows, cols in g.taps():
        y += xp[:, rows, cols, :]
    return (y / _divisor(g, count_include_pad, x.dtype)).astype(x.dtype, copy=False)


def avg_pool2d_backward(dy: np.ndarray, x: np.ndarray, pool_size: object = 2,
                        stride: object = None, padding: PaddingArg = 0, *,
                        count_include_pad: bool = False, through_tanh: bool = False
                        ) -> np.ndarray:
    """dx of avg_pool2d: each window's dy / divisor added to every real cell of the window.

    through_tanh: x is the output of a tanh; return dx * (1 - x^2), the gradient with respect
    to the tanh's input.
    """
    g = PoolGeometry(x.shape, pool_size, stride, padding)
    if tuple(dy.shape) != g.y_shape:
        raise ValueError(f"dy: expected shape {g.y_shape}, got {tuple(dy.shape)}")
    dtype = np.result_type(dy, x)
    share = (dy / _divisor(g, count_include_pad, dtype)).astype(dtype, copy=False)
    hp, wp = g.x_shape[1] + sum(g.pads[0]), g.x_shape[2] + sum(g.pads[1])
    dxp = np.zeros((g.x_shape[0], hp, wp, g.x_shape[3]), dtype)
    for _, _, rows, cols in g.taps():
        dxp[:, rows, cols, :] += share
    dx = _crop(dxp, g)
    return tanh_backward(dx, x) if through_tanh else dx


def global_avg_pool2d(x: np.ndarray) -> np.ndarray:
    """Mean over H and W: (N, H, W, C) -> (N, C)."""
    if x.ndim != 4:
        raise ValueError(f"x: expected 4 dimensions (N, H, W, C), got shape {x.shape}")
    return x.mean(axis=(1, 2), dtype=np.float64).astype(x.dtype)


def global_avg_pool2d_backward(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dx of global_avg_pool2d: dy / (H * W) broadcast over every pixel."""
    n, h, w, c = x.shape
    if tuple(dy.shape) != (n, c):
        raise ValueError(f"dy: expected shape {(n, c)}, got {tuple(dy.shape)}")
    dtype = np.result_type(dy, x)
    share = (dy / (h * w)).astype(dtype, copy=False)
    return np.ascontiguousarray(np.broadcast_to(share[:, None, None, :], x.shape))
