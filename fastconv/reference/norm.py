"""Reference batch normalization (Keras conventions), statistics per channel (last axis).

Statistics are accumulated in float64 (two passes: mean, then the mean squared deviation),
so large-mean inputs stay accurate; results have the input's dtype.
"""

from __future__ import annotations

import numpy as np


def _axes(x: np.ndarray) -> tuple[int, ...]:
    if x.ndim not in (2, 4):
        raise ValueError(f"x: expected 2 (N, C) or 4 (N, H, W, C) dimensions, got {x.ndim}")
    return tuple(range(x.ndim - 1))


def batch_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel batch mean and biased variance, float64."""
    axes = _axes(x)
    mean = x.mean(axis=axes, dtype=np.float64)
    var = np.square(x - mean).mean(axis=axes, dtype=np.float64)
    return mean, var


def update_running(running_mean: np.ndarray | None, running_var: np.ndarray | None,
                   mean: np.ndarray, var: np.ndarray, momentum: float) -> None:
    """running = momentum * running + (1 - momentum) * batch_stat, in place."""
    if running_mean is not None:
        running_mean[...] = momentum * running_mean + (1 - momentum) * mean
    if running_var is not None:
        running_var[...] = momentum * running_var + (1 - momentum) * var


def batch_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
               running_mean: np.ndarray | None = None, running_var: np.ndarray | None = None,
               *, training: bool = False, momentum: float = 0.99, eps: float = 1e-3,
               relu: bool = False, return_stats: bool = False,
               residual: np.ndarray | None = None):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta (+ residual), optionally max(y, 0).

    training: batch mean and biased variance over every axis but the last; running_* (if
    given) are updated in place. Otherwise running_mean / running_var are used (required).
    return_stats: returns (y, mean, invstd) with the statistics used.
    """
    _axes(x)
    dtype = x.dtype
    if training:
        mean, var = batch_stats(x)
        update_running(running_mean, running_var, mean, var, momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("running_mean, running_var: required when training=False")
        mean = np.asarray(running_mean, np.float64)
        var = np.asarray(running_var, np.float64)
    invstd = 1.0 / np.sqrt(var + eps)
    scale = np.asarray(gamma, np.float64) * invstd
    y = ((x - mean) * scale + np.asarray(beta, np.float64)).astype(dtype)
    if residual is not None:
        y += residual
    if relu:
        np.maximum(y, 0, out=y)
    if return_stats:
        return y, mean.astype(dtype), invstd.astype(dtype)
    return y


def batch_norm_backward(dy: np.ndarray, x: np.ndarray, gamma: np.ndarray, mean: np.ndarray,
                        invstd: np.ndarray, *, training: bool = True,
                        y: np.ndarray | None = None):
    """(dx, dgamma, dbeta) of batch_norm given the (mean, invstd) the forward used.

    y (the fused relu=True forward's output) masks dy by (y > 0) first. training=False
    treats mean/invstd as constants: dx = dy * gamma * invstd.
    """
    axes = _axes(x)
    dtype = np.result_type(dy, x)
    if y is not None:
        dy = np.where(y > 0, dy, 0).astype(dtype, copy=False)
    m = x.size // x.shape[-1]
    mean64 = np.asarray(mean, np.float64)
    inv64 = np.asarray(invstd, np.float64)
    xhat = (x - mean64) * inv64
    dbeta = dy.sum(axis=axes, dtype=np.float64)
    dgamma = (dy * xhat).sum(axis=axes, dtype=np.float64)
    k = np.asarray(gamma, np.float64) * inv64
    if training:
        dx = k * (dy - dbeta / m - xhat * (dgamma / m))
    else:
        dx = dy * k
    return dx.astype(dtype), dgamma.astype(dtype), dbeta.astype(dtype)


def fold_batch_norm(w: np.ndarray, b: np.ndarray | None, gamma: np.ndarray, beta: np.ndarray,
                    mean: np.ndarray, var: np.ndarray, eps: float = 1e-3):
    """(w', b') with conv(x, w', b') == batch_norm(conv(x, w, b)) in inference mode.

    w: HWIO (..., K) or dense (in, K); b: (K,) or None (zeros).
    """
    dtype = w.dtype
    scale = np.asarray(gamma, np.float64) / np.sqrt(np.asarray(var, np.float64) + eps)
    b64 = np.zeros(w.shape[-1]) if b is None else np.asarray(b, np.float64)
    w_f = (w * scale).astype(dtype)
    b_f = ((b64 - np.asarray(mean, np.float64)) * scale + np.asarray(beta, np.float64))
    return w_f, b_f.astype(dtype)
