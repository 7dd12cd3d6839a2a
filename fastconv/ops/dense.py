"""dense (fully connected) and dense_backward: validation, then the op table."""

from __future__ import annotations

import numpy as np

from .. import _cpu, _cpu_ops, reference
from .._backend import get_backend
from .._optable import Op, register
from .._validate import array, same_shape
from .conv import compute_dtype


def _dense_flops(x, w, *_, **__) -> int:
    return 2 * x.shape[0] * w.shape[0] * w.shape[1]


def _dense_bwd_flops(dy, x, w, **_) -> int:
    return 2 * _dense_flops(x, w)


_dense = register(Op(
    "dense", reference.dense, kernels={"cpu": _cpu_ops.dense}, flops=_dense_flops,
    doc="x @ w + b (+ReLU)"))
_dense_backward = register(Op(
    "dense_backward", reference.dense_backward, kernels={"cpu": _cpu_ops.dense_backward},
    flops=_dense_bwd_flops, doc="(dx, dw, db) of dense"))


_F32 = np.dtype(np.float32)
_C = _cpu._C


def _f32(a: object) -> bool:
    """a is a non-empty float32 C-contiguous ndarray: what _checked would pass unchanged
    (sizes beyond MAX_ELEMENTS cannot reach here: their shapes fail the checks below)."""
    return (type(a) is np.ndarray and a.dtype is _F32  # type: ignore[union-attr]
            and a.flags.c_contiguous and a.size > 0)  # type: ignore[union-attr]


def _fast(x: object, w: object) -> bool:
    """A plain float32 call on the cpu backend (a Dense layer's, every step): it goes
    straight to C++, skipping the generic validation that it would pass anyway."""
    return (_f32(x) and _f32(w) and x.ndim == 2 and w.ndim == 2  # type: ignore[union-attr]
            and x.shape[1] == w.shape[0] and get_backend() == "cpu")  # type: ignore[union-attr]


def _checked(x, w) -> tuple[np.ndarray, np.ndarray]:
    x = array(x, "x", 2, dtype=compute_dtype())
    w = array(w, "w", 2, dtype=compute_dtype())
    if w.shape[0] != x.shape[1]:
        raise ValueError(f"w: expected {x.shape[1]} input rows (x has {x.shape[1]} features), "
                         f"got shape {w.shape}")
    return x, w


def dense(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
          relu: bool = False) -> np.ndarray:
    """Fully connected layer: x (N, in) @ w (in, out) + b (out,), optionally max(., 0)."""
    if _fast(x, w) and (b is None or (_f32(b) and b.shape == (w.shape[1],))):
        return _C.dense_forward(x, w, b, bool(relu))
    x, w = _checked(x, w)
    if b is not None:
        b = array(b, "b", 1, dtype=compute_dtype())
        same_shape(b, "b", (w.shape[1],))
    return _dense(x, w, b, relu=bool(relu))


def dense_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, *, need_dx: bool = True,
                   need_dw: bool = True, need_db: bool = True):
    """(dx, dw, db) of :func:`dense`; a gradient not asked for is None.

    After a fused ReLU, mask dy first with ``relu_backward(dy, y)``.
    """
    if _fast(x, w) and _f32(dy) and dy.shape == (x.shape[0], w.shape[1]):
        return _C.dense_backward(dy, x, w, bool(need_dx), bool(need_dw), bool(need_db))
    x, w = _checked(x, w)
    dy = array(dy, "dy", 2, dtype=compute_dtype())
    same_shape(dy, "dy", (x.shape[0], w.shape[1]))
    return _dense_backward(dy, x, w, need_dx=bool(need_dx), need_dw=bool(need_dw),
                           need_db=bool(need_db))
