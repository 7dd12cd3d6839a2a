"""Reference fully connected layer: y = x @ w + b (a BLAS matmul is the right tool)."""

from __future__ import annotations

import numpy as np


def dense(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
          relu: bool = False) -> np.ndarray:
    """x (N, in) @ w (in, out) + b (out,), optionally max(., 0)."""
    y = x @ w
    if b is not None:
        y += b
    return np.maximum(y, 0, out=y) if relu else y


def dense_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, *, need_dx: bool = True,
                   need_dw: bool = True, need_db: bool = True):
    """(dx, dw, db) = (dy @ w.T, x.T @ dy, sum_n dy); a gradient not needed is None.

    After a fused ReLU, mask dy first with ``relu_backward(dy, y)``.
    """
    dx = dy @ w.T if need_dx else None
    dw = x.T @ dy if need_dw else None
    db = dy.sum(axis=0) if need_db else None
    return dx, dw, db
