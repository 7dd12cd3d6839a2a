"""batch_norm, batch_norm_backward and fold_batch_norm: validation, then the op table."""

from __future__ import annotations

import numbers

import numpy as np

from .. import _cpu_ops, reference
from .._optable import Op, register
from .._validate import FLOAT_DTYPES, array, same_shape
from .conv import compute_dtype


def _bn_bytes(x, *_, training=False, **__) -> int:
    """Training reads x twice (statistics, then normalise) and writes y."""
    return 4 * x.size * (3 if training else 2)


def _bn_bwd_bytes(dy, x, *_, y=None, **__) -> int:
    """Two passes over dy and x (and y after a fused ReLU), dx written once."""
    return 4 * x.size * (5 if y is None else 7)


_batch_norm = register(Op(
    "batch_norm", reference.batch_norm, kernels={"cpu": _cpu_ops.batch_norm}, bytes=_bn_bytes,
    doc="batch normalization forward (training/inference, +ReLU)"))
_batch_norm_backward = register(Op(
    "batch_norm_backward", reference.batch_norm_backward,
    kernels={"cpu": _cpu_ops.batch_norm_backward}, bytes=_bn_bwd_bytes,
    doc="batch normalization backward (dx, dgamma, dbeta)"))
_fold_batch_norm = register(Op(
    "fold_batch_norm", reference.fold_batch_norm, kernels={"cpu": _cpu_ops.fold_batch_norm},
    doc="fold inference BN into the preceding conv/dense"))


def _activation(x: object, name: str) -> np.ndarray:
    x = array(x, name, dtype=compute_dtype())
    if x.ndim not in (2, 4):
        raise ValueError(f"{name}: expected 2 (N, C) or 4 (N, H, W, C) dimensions, "
                         f"got {x.ndim} (shape {x.shape})")
    return x


def _vector(v: object, name: str, c: int) -> np.ndarray:
    v = array(v, name, 1, dtype=compute_dtype())
    same_shape(v, name, (c,))
    return v


def _running(v: object, name: str, c: int) -> np.ndarray:
    """A running statistic updated in place: must already be a writable float (C,) array."""
    if not isinstance(v, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array (it is updated in place)")
    if v.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected a float32 or float64 array, got dtype {v.dtype}")
    same_shape(v, name, (c,))
    if not v.flags.writeable:
        raise ValueError(f"{name}: array is read-only (it is updated in place)")
    return v


def _number(v: object, name: str, lo: float, hi: float, *, open_lo: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {v!r}")
    v = float(v)
    if not (lo < v <= hi if open_lo else lo <= v <= hi):
        raise ValueError(f"{name}: must be in {'(' if open_lo else '['}{lo}, {hi}], got {v}")
    return v


def batch_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
               running_mean: np.ndarray | None = None, running_var: np.ndarray | None = None,
               *, training: bool = False, momentum: float = 0.99, eps: float = 1e-3,
               relu: bool = False, return_stats: bool = False,
               residual: np.ndarray | None = None):
    """Batch normalization over every axis but the channels (last), Keras conventions.

    Args:
        x: (N, H, W, C) or (N, C).
        gamma, beta: scale and offset, (C,).
        running_mean, running_var: (C,) float arrays. training=True: updated IN PLACE
            (running = momentum * running + (1 - momentum) * batch statistic, biased
            variance), may be None. training=False: the statistics used (required).
        training: batch statistics (True) or running statistics (False).
        momentum: EWMA factor in [0, 1]. eps: added to the variance, > 0.
        relu: fuse max(y, 0).
        return_stats: return (y, mean, invstd), invstd = 1 / sqrt(var + eps).
        residual: an array of x's shape added to the normalised output before the ReLU
            (a residual block's join, in the same pass).
    """
    x = _activation(x, "x")
    c = x.shape[-1]
    gamma, beta = _vector(gamma, "gamma", c), _vector(beta, "beta", c)
    momentum = _number(momentum, "momentum", 0.0, 1.0)
    eps = _number(eps, "eps", 0.0, float("inf"), open_lo=True)
    if training:
        running_mean = None if running_mean is None else _running(running_mean,
                                                                  "running_mean", c)
        running_var = None if running_var is None else _running(running_var, "running_var", c)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("running_mean, running_var: required when training=False")
        running_mean = _vector(running_mean, "running_mean", c)
        running_var = _vector(running_var, "running_var", c)
    extra = {}
    if residual is not None:
        extra["residual"] = array(residual, "residual", dtype=compute_dtype())
        same_shape(extra["residual"], "residual", x.shape)
    return _batch_norm(x, gamma, beta, running_mean, running_var, training=bool(training),
                       momentum=momentum, eps=eps, relu=bool(relu),
                       return_stats=bool(return_stats), **extra)


def batch_norm_backward(dy: np.ndarray, x: np.ndarray, gamma: np.ndarray, mean: np.ndarray,
                        invstd: np.ndarray, *, training: bool = True,
                        y: np.ndarray | None = None):
    """(dx, dgamma, dbeta) of :func:`batch_norm` from dy = dL/dy.

    mean, invstd: the statistics the forward used (``return_stats=True``).
    y: the output of a fused ``relu=True`` forward; dy is masked by (y > 0) first.
    training=False: the statistics are constants (frozen BN): dx = dy * gamma * invstd.
    """
    x = _activation(x, "x")
    c = x.shape[-1]
    dy = array(dy, "dy", dtype=compute_dtype())
    same_shape(dy, "dy", x.shape)
    if y is not None:
        y = array(y, "y", dtype=compute_dtype())
        same_shape(y, "y", x.shape)
    gamma = _vector(gamma, "gamma", c)
    mean, invstd = _vector(mean, "mean", c), _vector(invstd, "invstd", c)
    return _batch_norm_backward(dy, x, gamma, mean, invstd, training=bool(training), y=y)


def fold_batch_norm(w: np.ndarray, b: np.ndarray | None, gamma: np.ndarray, beta: np.ndarray,
                    mean: np.ndarray, var: np.ndarray, eps: float = 1e-3):
    """Fold inference batch norm into the preceding conv/dense: returns (w', b').

    conv2d(x, w', b') == batch_norm(conv2d(x, w, b), gamma, beta, mean, var, eps=eps).
    w: HWIO (f_h, f_w, C, K) or dense (in, K); b: (K,) or None (zeros).
    """
    w = array(w, "w", dtype=compute_dtype())
    if w.ndim not in (2, 4):
        raise ValueError(f"w: expected 4 (HWIO) or 2 (in, out) dimensions, got {w.ndim}")
    k = w.shape[-1]
    if b is not None:
        b = _vector(b, "b", k)
    gamma, beta = _vector(gamma, "gamma", k), _vector(beta, "beta", k)
    mean, var = _vector(mean, "mean", k), _vector(var, "var", k)
    eps = _number(eps, "eps", 0.0, float("inf"), open_lo=True)
    return _fold_batch_norm(w, b, gamma, beta, mean, var, eps=eps)
