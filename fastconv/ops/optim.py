"""adam_update: one fused Adam step, in place; validation, then the op table."""

from __future__ import annotations

import numpy as np

from .. import _C, _cpu_ops, reference
from .._backend import get_backend
from .._optable import Op, register

_adam_update = register(Op(
    "adam_update", reference.adam_update, kernels={"cpu": _cpu_ops.adam_update},
    bytes=lambda w, *_, **__: 28 * w.size, doc="Adam step in place (w, m, v)"))

_F32 = np.dtype(np.float32)


def _inout(a: object, name: str, like: np.ndarray | None) -> np.ndarray:
    if type(a) is not np.ndarray:
        raise TypeError(f"{name}: expected a numpy array, got {type(a).__name__}")
    if a.dtype.kind != "f":
        raise TypeError(f"{name}: expected a float array, got dtype {a.dtype}")
    if like is not None and (a.shape != like.shape or a.dtype != like.dtype):
        raise ValueError(f"{name}: expected {like.dtype} of shape {like.shape}, got {a.dtype} "
                         f"of shape {a.shape}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name}: must be C-contiguous")
    return a


def adam_update(w: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, *, lr_t: float,
                b1: float, b2: float, c2: float, eps: float, l2: float = 0.0,
                decay: float = 0.0) -> None:
    """One Adam step in place on the parameter ``w`` and its moments ``m``, ``v`` from the
    gradient ``g`` (all the same shape and float dtype; float32 runs the fused C++ kernel):

    g' = g + l2 w;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2;
    w -= lr_t m / (sqrt(v) c2 + eps) + decay w
    lr_t = lr / (1 - b1^t) and c2 = 1 / sqrt(1 - b2^t) fold in the bias corrections;
    ``l2`` is an L2 penalty on the gradient, ``decay`` = lr * weight_decay decoupled (AdamW).
    """
    if type(w) is np.ndarray and w.dtype is _F32 and get_backend() == "cpu":
        # fast path (called per parameter per step): the C++ entry point checks g, m and v
        # (dtype, shape, contiguity, writeable, distinct) and raises as below
        _C.adam_update(w, g, m, v, lr_t, b1, b2, c2, eps, l2, decay)
        return
    w = _inout(w, "w", None)
    for a, name in ((g, "g"), (m, "m"), (v, "v")):
        _inout(a, name, w)
    for a, name in ((w, "w"), (m, "m"), (v, "v")):
        if not a.flags.writeable:
            raise ValueError(f"{name}: array is read-only")
    if len({id(w), id(g), id(m), id(v)}) < 4:
        raise ValueError("adam_update: w, g, m and v must be distinct arrays")
    _adam_update(w, g, m, v, lr_t=float(lr_t), b1=float(b1), b2=float(b2), c2=float(c2),
                 eps=float(eps), l2=float(l2), decay=float(decay))


def adam_update_scalars(w: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray,
                        scalars: tuple) -> None:
    """:func:`adam_update` with the scalars as one tuple ``(lr_t, b1, b2, c2, eps, l2,
    decay)``: the optimizer's per-array call, without building keyword arguments."""
    if type(w) is np.ndarray and w.dtype is _F32 and get_backend() == "cpu":
        _C.adam_update(w, g, m, v, *scalars)  # checks g, m, v as adam_update's fast path
        return
    lr_t, b1, b2, c2, eps, l2, decay = scalars
    adam_update(w, g, m, v, lr_t=lr_t, b1=b1, b2=b2, c2=c2, eps=eps, l2=l2, decay=decay)


def adam_update_multi(ws: list[np.ndarray], gs: list[np.ndarray], ms: list[np.ndarray],
                      vs: list[np.ndarray], scalars: list[tuple]) -> None:
    """:func:`adam_update_scalars` on every ``(ws[i], gs[i], ms[i], vs[i], scalars[i])``, in
    order: the same bits as one call per array. float32 arrays on the cpu backend take one
    C++ call for all (an optimizer step on a small network was mostly per-call overhead),
    which checks every array before updating any."""
    n = len(ws)
    if not len(gs) == len(ms) == len(vs) == len(scalars) == n:
        raise ValueError("adam_update_multi: ws, gs, ms, vs and scalars must have the same "
                         "length")
    fast = get_backend() == "cpu"
    for w in ws:  # plain loop: runs every training step
        if type(w) is not np.ndarray or w.dtype is not _F32:
            fast = False
            break
    if fast:
        _C.adam_update_multi(ws, gs, ms, vs, scalars)
        return
    for w, g, m, v, sc in zip(ws, gs, ms, vs, scalars, strict=True):
        adam_update_scalars(w, g, m, v, sc)
