"""conv2d and conv2d_backward: validation and dtype policy, then the op table."""

from __future__ import annotations

import numpy as np

from .. import _cpu, reference
from .._args import ConvGeometry, PaddingArg
from .._backend import get_backend
from .._optable import Op, register
from .._validate import array, out_array, same_shape

_conv2d = register(Op("conv2d", reference.conv2d, kernels={"cpu": _cpu.conv2d},
                      flops=lambda g: g.flops(), doc="convolution forward (+bias, +ReLU)",
                      variants=_cpu.conv2d_variants))
_conv2d_backward = register(Op("conv2d_backward", reference.conv2d_backward,
                               kernels={"cpu": _cpu.conv2d_backward},
                               flops=lambda g: 2 * g.flops(),
                               doc="convolution backward (dx, dw, db)"))


_F32 = np.dtype(np.float32)
_FWD_ALGOS = frozenset(_cpu.conv2d_variants())
#: Geometries of recent conv2d calls whose arguments passed full validation, keyed by shapes
#: and plain-int hyper-parameters: a repeated call (every layer of a network, every batch)
#: skips re-validating them, so small layers are not dominated by Python overhead. Each entry
#: also holds the C++ entry points' geometry arguments (stride, (top, bottom, left, right),
#: dilation, groups) and the output shape, built once instead of every call.
_GEOMETRIES: dict[tuple, tuple[ConvGeometry, tuple, tuple]] = {}


def _plain(v: object) -> object:
    """v if it is an int, a str, or a (nested) tuple of them; else None (no cache key).

    bool is excluded on purpose: True == 1 would alias a key that did not validate.
    Plain loops, no generators: this runs for every argument of every conv call.
    """
    t = type(v)
    if t is int or t is str:
        return v
    if t is not tuple:
        return None
    if len(v) == 2 and type(v[0]) is int and type(v[1]) is int:  # type: ignore[arg-type]
        return v  # the usual (h, w) pair, without the loop
    for e in v:  # type: ignore[attr-defined]
        te = type(e)
        if te is tuple:
            for f in e:
                if type(f) is not int:
                    return None
        elif te is not int:
            return None
    return v


def _cached_geometry(x: object, w: object, stride: object, padding: object, dilation: object,
                     groups: object) -> tuple[ConvGeometry, tuple, tuple] | None:
    """(geometry, C++ geometry arguments, y shape) of a repeated call with float32
    C-contiguous arrays, validated before; or None."""
    if not (type(x) is np.ndarray and type(w) is np.ndarray and x.dtype is _F32
            and w.dtype is _F32 and x.flags.c_contiguous and w.flags.c_contiguous):
        return None
    key = (x.shape, w.shape, _plain(stride), _plain(padding), _plain(dilation), _plain(groups))
    if None in key:
        return None
    return _GEOMETRIES.get(key)


def _remember_geometry(x: np.ndarray, w: np.ndarray, stride: object, padding: object,
                       dilation: object, groups: object, g: ConvGeometry) -> None:
    key = (x.shape, w.shape, _plain(stride), _plain(padding), _plain(dilation), _plain(groups))
    if None in key:
        return
    if len(_GEOMETRIES) >= 512:
        _GEOMETRIES.clear()
    (t, bo), (le, ri) = g.pads
    _GEOMETRIES[key] = (g, (g.stride, (t, bo, le, ri), g.dilation, g.groups), g.y_shape)


def compute_dtype() -> type | None:
    """float32 for the C++ backends; the NumPy backend keeps float64 inputs in float64."""
    return None if get_backend() == "numpy" else np.float32


def _geometry(x, w, stride, padding, dilation, groups) -> tuple[np.ndarray, np.ndarray,
                                                                  ConvGeometry]:
    dt = compute_dtype()
    x = array(x, "x", 4, dtype=dt)
    w = array(w, "w", 4, dtype=dt)
    return x, w, ConvGeometry(x.shape, w.shape, stride, padding, dilation, groups)


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, stride: object = 1,
           padding: PaddingArg = 0, dilation: object = 1, groups: int = 1,
           relu: bool = False, out: np.ndarray | None = None, algo: str = "auto"
           ) -> np.ndarray:
    """2-D convolution of NHWC `x` with HWIO `w`, plus bias `b`, optionally fused with ReLU.

    Args:
        x: input, shape (N, H, W, C).
        w: filters, shape (f_h, f_w, C // groups, K).
        b: bias (K,) or None.
        stride, dilation: int or (h, w) pair, >= 1.
        padding: int, (h, w), ((top, bottom), (left, right)), 'valid', or 'same'
            (TensorFlow's: output ceil(H / stride), the extra pixel at the bottom/right).
        groups: channel groups (groups == C == K is a depthwise convolution).
        relu: fuse max(y, 0) into the output.
        out: optional float32 C-contiguous (N, P, Q, K) buffer to write the result into.
        algo: the 'cpu' backend's algorithm: 'auto' (the fastest that applies) or one of
            ``fastconv.OPS['conv2d'].variants()``; the other backends ignore it.

    Returns:
        y of shape (N, P, Q, K). The 'cpu' backend computes in float32 (float64 inputs are
        converted, the result is float32); the 'numpy' backend keeps float64.
    """
    if algo != "auto" and algo not in _FWD_ALGOS:
        raise ValueError(f"algo: expected 'auto' or one of {_conv2d.variants()}, got {algo!r}")
    backend = get_backend()
    if backend == "cpu":  # fast path: a repeated, already validated call goes straight to C++
        hit = _cached_geometry(x, w, stride, padding, dilation, groups)
        if hit is not None and (b is None or (type(b) is np.ndarray and b.dtype is _F32
                                              and b.shape == (w.shape[3],)  # type: ignore
                                              and b.flags.c_contiguous)) and (
                out is None or (type(out) is np.ndarray and out.dtype is _F32)):
            return _cpu._C.conv2d_forward(x, w, b, *hit[1], bool(relu), out, algo)
    x0, w0 = x, w
    x, w, g = _geometry(x, w, stride, padding, dilation, groups)
    if b is not None:
        b = array(b, "b", 1, dtype=compute_dtype())
        same_shape(b, "b", (w.shape[3],))
    out_array(out, g.y_shape)
    if backend == "cpu" and x is x0 and w is w0:
        _remember_geometry(x, w, stride, padding, dilation, groups, g)
    extra = {}
    if algo != "auto" and _conv2d.runs_on(backend) == "cpu":
        extra["algo"] = algo
    return _conv2d(x, w, b, stride=g.stride, padding=g.pads, dilation=g.dilation,
                   groups=g.groups, relu=bool(relu), out=out, **extra)


def conv2d_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, *, stride: object = 1,
                    padding: PaddingArg = 0, dilation: object = 1, groups: int = 1,
                    need_dx: bool = True, need_dw: bool = True, need_db: bool = True
                    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Gradients (dx, dw, db) of :func:`conv2d` from dy = dL/dy, shape (N, P, Q, K).

    Gradients not asked for (``need_* = False``) come back as None. After a fused ReLU,
    mask dy first with ``relu_backward(dy, y)``.
    """
    hit = (_cached_geometry(x, w, stride, padding, dilation, groups)
           if get_backend() == "cpu" else None)  # a layer's repeated call: validated before
    if (hit is not None and type(dy) is np.ndarray and dy.dtype is _F32
            and dy.shape == hit[2] and dy.flags.c_contiguous):
        return _cpu._C.conv2d_backward(dy, x, w, *hit[1], bool(need_dx), bool(need_dw),
                                       bool(need_db))
    g = hit[0] if hit is not None else None
    if g is None:
        x0, w0 = x, w
        x, w, g = _geometry(x, w, stride, padding, dilation, groups)
        if get_backend() == "cpu" and x is x0 and w is w0:
            _remember_geometry(x, w, stride, padding, dilation, groups, g)
    dy = array(dy, "dy", 4, dtype=compute_dtype())
    same_shape(dy, "dy", g.y_shape)
    return _conv2d_backward(dy, x, w, stride=g.stride, padding=g.pads, dilation=g.dilation,
                            groups=g.groups, need_dx=bool(need_dx), need_dw=bool(need_dw),
                            need_db=bool(need_db))
