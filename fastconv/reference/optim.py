"""Reference optimizer updates (NumPy, in place)."""

from __future__ import annotations

import numpy as np


def adam_update(w: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, *, lr_t: float,
                b1: float, b2: float, c2: float, eps: float, l2: float = 0.0,
                decay: float = 0.0) -> None:
    """One Adam step in place on ``w``, ``m``, ``v`` (bias corrections folded in the scalars):

    g' = g + l2 w;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2;
    w -= lr_t m / (sqrt(v) c2 + eps) + decay w
    with lr_t = lr / (1 - b1^t), c2 = 1 / sqrt(1 - b2^t), decay = lr * weight_decay (AdamW).
    """
    if l2:
        g = g + l2 * w
    tmp = np.multiply(g, 1 - b1)
    m *= b1
    m += tmp
    np.multiply(g, g, out=tmp)
    tmp *= 1 - b2
    v *= b2
    v += tmp
    np.sqrt(v, out=tmp)
    tmp *= c2
    tmp += eps
    np.divide(m, tmp, out=tmp)
    tmp *= lr_t
    if decay:
        tmp += decay * w
    w -= tmp
