"""Reference element-wise and shape ops: ReLU, residual add, channel concat."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def relu(x: np.ndarray) -> np.ndarray:
    """max(x, 0)."""
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def relu_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dx = dy where y > 0, else 0 (y: the forward's output)."""
    dtype = np.result_type(dy, y)
    return np.where(y > 0, dy, 0).astype(dtype, copy=False)


def sum_relu_backward(a: np.ndarray, b: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dx = (a + b) where y > 0, else 0: a ReLU's backward of a two-part gradient."""
    return relu_backward(np.add(a, b), y)


def tanh_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dx = dy * (1 - y^2), with y = tanh(x) the forward's output."""
    g = np.multiply(y, y, dtype=np.result_type(dy, y))
    np.subtract(1, g, out=g)
    g *= dy
    return g


def add(a: np.ndarray, b: np.ndarray, *, relu: bool = False) -> np.ndarray:
    """a + b (same shapes), optionally max(a + b, 0) (the residual block's join)."""
    y = np.add(a, b)
    return np.maximum(y, 0, out=y) if relu else y


def add_backward(dy: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(da, db): dy (masked by y > 0 after a fused ReLU) for both inputs.

    da and db are the SAME array (and may be dy itself): treat them as read-only.
    """
    g = dy if y is None else relu_backward(dy, y)
    return g, g


def concat(xs: Sequence[np.ndarray], axis: int = -1) -> np.ndarray:
    """Concatenate along `axis` (default: the channels of NHWC tensors)."""
    return np.concatenate(list(xs), axis=axis)


def concat_backward(dy: np.ndarray, sizes: Sequence[int], axis: int = -1) -> list[np.ndarray]:
    """Split dy along `axis` into contiguous pieces of the given sizes."""
    if sum(sizes) != dy.shape[axis]:
        raise ValueError(f"sizes: sum {sum(sizes)} != dy.shape[{axis}] = {dy.shape[axis]}")
    cuts = np.cumsum(sizes)[:-1]
    return [np.ascontiguousarray(p) for p in np.split(dy, cuts, axis=axis)]
