"""softmax and softmax cross-entropy: validation, then the op table."""

from __future__ import annotations

import numbers

import numpy as np

from .. import _cpu, _cpu_ops, reference
from .._args import MAX_ELEMENTS
from .._backend import get_backend
from .._optable import Op, register
from .._validate import array, same_shape
from .conv import compute_dtype


def _logit_bytes(k: int):
    return lambda z, *_, **__: k * z.size


_softmax = register(Op(
    "softmax", reference.softmax, kernels={"cpu": _cpu_ops.softmax}, bytes=_logit_bytes(8),
    doc="softmax (max subtracted)"))
_sce = register(Op(
    "softmax_cross_entropy", reference.softmax_cross_entropy,
    kernels={"cpu": _cpu_ops.softmax_cross_entropy}, bytes=_logit_bytes(4),
    doc="mean softmax cross-entropy"))
_sce_backward = register(Op(
    "softmax_cross_entropy_backward", reference.softmax_cross_entropy_backward,
    kernels={"cpu": _cpu_ops.softmax_cross_entropy_backward}, bytes=_logit_bytes(8),
    doc="(softmax - target) / N"))
_sce_with_grad = register(Op(
    "softmax_cross_entropy_with_grad", reference.softmax_cross_entropy_with_grad,
    kernels={"cpu": _cpu_ops.softmax_cross_entropy_with_grad}, bytes=_logit_bytes(8),
    doc="mean softmax cross-entropy and its gradient, one pass"))


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along `axis`."""
    z = array(logits, "logits", dtype=compute_dtype())
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis: expected an int, got {axis!r}")
    if not -z.ndim <= int(axis) < z.ndim:
        raise ValueError(f"axis: {axis} is out of range for {z.ndim} dimensions")
    return _softmax(z, axis=int(axis))


_F32, _I64 = np.dtype(np.float32), np.dtype(np.int64)
_C = _cpu._C


def _checked(logits: object, labels: object) -> tuple[np.ndarray, np.ndarray]:
    z = array(logits, "logits", 2, dtype=compute_dtype())
    n, k = z.shape
    t = labels if isinstance(labels, np.ndarray) else np.asarray(labels)
    if t.dtype.kind in "iu":
        if t.ndim != 1:
            raise ValueError(f"labels: integer labels must have shape ({n},), got {t.shape}")
        same_shape(t, "labels", (n,))
        lo, hi = np.minimum.reduce(t), np.maximum.reduce(t)  # no ndarray.min wrapper
        if lo < 0 or hi >= k:
            raise ValueError(f"labels: class indices must be in [0, {k}), got [{lo}, {hi}]")
        return z, np.ascontiguousarray(t, dtype=np.int64)
    t = array(t, "labels", 2, dtype=z.dtype)
    same_shape(t, "labels", (n, k))
    return z, t


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean over the batch of the cross-entropy of softmax(logits) against labels.

    logits: (N, K). labels: int class indices (N,), or (N, K) one-hot / probabilities.
    """
    z, t = _checked(logits, labels)
    return _sce(z, t)


def softmax_cross_entropy_backward(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Gradient of :func:`softmax_cross_entropy` (the batch mean): (softmax(z) - t) / N."""
    z, t = _checked(logits, labels)
    return _sce_backward(z, t)


def softmax_cross_entropy_with_grad(logits: np.ndarray, labels: np.ndarray
                                    ) -> tuple[float, np.ndarray]:
    """``(softmax_cross_entropy(logits, labels), softmax_cross_entropy_backward(logits,
    labels))``, validated once and computed in one pass (a training step needs both)."""
    if (type(logits) is np.ndarray and type(labels) is np.ndarray and logits.dtype is _F32
            and labels.dtype is _I64 and logits.ndim == 2 and labels.ndim == 1
            and logits.flags.c_contiguous and labels.flags.c_contiguous
            and 0 < logits.size <= MAX_ELEMENTS and len(labels) == len(logits)
            and get_backend() == "cpu"):
        # the training step's call: the C++ entry point checks every label's range and
        # raises ValueError naming `labels`, as _checked does
        return _C.softmax_cross_entropy_with_grad(logits, labels)
    z, t = _checked(logits, labels)
    return _sce_with_grad(z, t)
