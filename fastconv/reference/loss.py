"""Reference softmax and softmax cross-entropy (numerically stable: the max is subtracted)."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """exp(z - max z) / sum exp(z - max z) along `axis`."""
    z = logits - logits.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _targets(labels: np.ndarray, shape: tuple[int, int], dtype) -> np.ndarray:
    """One-hot rows for int labels (N,), or the given (N, K) probabilities."""
    if labels.ndim == 1:
        t = np.zeros(shape, dtype)
        t[np.arange(shape[0]), labels] = 1
        return t
    return labels.astype(dtype, copy=False)


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean over the batch of -sum_k t_k log softmax(z)_k; labels int (N,) or (N, K)."""
    z = logits - logits.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    t = _targets(labels, logits.shape, logits.dtype)
    return float(-(t * log_p).sum(dtype=np.float64) / logits.shape[0])


def softmax_cross_entropy_with_grad(logits: np.ndarray, labels: np.ndarray
                                    ) -> tuple[float, np.ndarray]:
    """(softmax_cross_entropy, softmax_cross_entropy_backward) in one pass over the logits:
    the exponentials serve both (a training step needs both)."""
    n = logits.shape[0]
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=-1, keepdims=True)
    log_p = z - np.log(s)
    g = e / s
    if labels.ndim == 1:
        rows = np.arange(n)
        loss = float(-log_p[rows, labels].sum(dtype=np.float64) / n)
        g[rows, labels] -= 1
    else:
        t = labels.astype(logits.dtype, copy=False)
        loss = float(-(t * log_p).sum(dtype=np.float64) / n)
        g -= t
    g /= n
    return loss, g.astype(logits.dtype, copy=False)


def softmax_cross_entropy_backward(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Gradient of the batch mean: (softmax(z) - t) / N."""
    p = softmax(logits, axis=-1)
    return ((p - _targets(labels, logits.shape, logits.dtype)) / logits.shape[0]).astype(
        logits.dtype, copy=False)
