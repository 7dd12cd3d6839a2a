"""max/avg/global-average pooling and their backward: validation, then the op table."""

from __future__ import annotations

import numpy as np

from .. import _cpu_ops, reference
from .._args import PaddingArg
from .._backend import get_backend
from .._optable import Op, register
from .._pool_args import PoolGeometry
from .._validate import array, out_array, same_shape
from .conv import _plain, compute_dtype


def _pool_bytes(x, pool_size=2, stride=None, padding=0, **_) -> int:
    g = PoolGeometry(x.shape, pool_size, stride, padding)
    return 4 * (x.size + int(np.prod(g.y_shape)))


def _pool_bwd_bytes(dy, x, *_, **__) -> int:
    return 4 * (dy.size + 2 * x.size)


_max_pool2d = register(Op(
    "max_pool2d", reference.max_pool2d, kernels={"cpu": _cpu_ops.max_pool2d}, bytes=_pool_bytes,
    doc="max pooling forward"))
_max_pool2d_backward = register(Op(
    "max_pool2d_backward", reference.max_pool2d_backward,
    kernels={"cpu": _cpu_ops.max_pool2d_backward}, bytes=_pool_bwd_bytes,
    doc="max pooling backward (argmax recomputed)"))
_avg_pool2d = register(Op(
    "avg_pool2d", reference.avg_pool2d, kernels={"cpu": _cpu_ops.avg_pool2d}, bytes=_pool_bytes,
    doc="average pooling forward"))
_avg_pool2d_backward = register(Op(
    "avg_pool2d_backward", reference.avg_pool2d_backward,
    kernels={"cpu": _cpu_ops.avg_pool2d_backward}, bytes=_pool_bwd_bytes,
    doc="average pooling backward"))
def _global_bytes(x: np.ndarray) -> int:
    return 4 * (x.size + x.shape[0] * x.shape[3])


def _global_bwd_bytes(dy: np.ndarray, x: np.ndarray) -> int:
    return 4 * (dy.size + x.size)


_global_avg_pool2d = register(Op(
    "global_avg_pool2d", reference.global_avg_pool2d,
    kernels={"cpu": _cpu_ops.global_avg_pool2d}, bytes=_global_bytes, doc="mean over H and W"))
_global_avg_pool2d_backward = register(Op(
    "global_avg_pool2d_backward", reference.global_avg_pool2d_backward,
    kernels={"cpu": _cpu_ops.global_avg_pool2d_backward}, bytes=_global_bwd_bytes,
    doc="global average pooling backward"))


#: Validated geometries of recent calls, keyed by shape and plain hyper-parameters (a layer
#: pools the same shapes every step: LeNet's tiny pools were dominated by re-validation).
_GEOMETRIES: dict[tuple, PoolGeometry] = {}
#: For each: the C++ entry points' arguments (pool_size, stride, (top, bottom, left, right))
#: and the output shape, built once.
_CALL_ARGS: dict[tuple, tuple[tuple, tuple]] = {}
_DEFAULT_STRIDE = object()  # stride=None in a key (no user value can equal it)


def _checked(x, pool_size, stride, padding, name="x") -> tuple[np.ndarray, PoolGeometry]:
    x = array(x, name, 4, dtype=compute_dtype())
    key = (x.shape, _plain(pool_size), _DEFAULT_STRIDE if stride is None else _plain(stride),
           _plain(padding))
    g = None if None in key else _GEOMETRIES.get(key)
    if g is None:
        g = PoolGeometry(x.shape, pool_size, stride, padding)
        if None not in key:
            if len(_GEOMETRIES) >= 512:
                _GEOMETRIES.clear()
                _CALL_ARGS.clear()
            _GEOMETRIES[key] = g
            (t, b), (le, r) = g.pads
            _CALL_ARGS[key] = ((g.pool_size, g.stride, (t, b, le, r)), g.y_shape)
    return x, g


_F32 = np.dtype(np.float32)
_C = _cpu_ops._C


def _fast_call(x, pool_size, stride, padding) -> tuple[tuple, tuple] | None:
    """For a repeated call (a pooling layer's, every step) with a float32 C-contiguous x on
    the cpu backend, validated before (cached by _checked): the C++ call's (pool_size,
    stride, pads4) and the output shape; else None."""
    if not (type(x) is np.ndarray and x.dtype is _F32 and x.flags.c_contiguous
            and get_backend() == "cpu"):
        return None
    key = (x.shape, _plain(pool_size), _DEFAULT_STRIDE if stride is None else _plain(stride),
           _plain(padding))
    return None if None in key else _CALL_ARGS.get(key)


def _checked_dy(dy, g: PoolGeometry) -> np.ndarray:
    dy = array(dy, "dy", 4, dtype=compute_dtype())
    same_shape(dy, "dy", g.y_shape)
    return dy


def max_pool2d(x: np.ndarray, pool_size: object = 2, stride: object = None,
               padding: PaddingArg = 0, *, out: np.ndarray | None = None) -> np.ndarray:
    """2-D max pooling of NHWC `x`.

    Args:
        x: (N, H, W, C).
        pool_size: window, int or (h, w).
        stride: int or (h, w); None means pool_size.
        padding: int, (h, w), ((top, bottom), (left, right)), 'valid' or 'same'
            (TensorFlow's); each side must be smaller than the window. Padded cells never
            win the max.
        out: optional float32 C-contiguous (N, P, Q, C) buffer for the result.
    """
    x, g = _checked(x, pool_size, stride, padding)
    out_array(out, g.y_shape)
    return _max_pool2d(x, g.pool_size, g.stride, g.pads, out=out)


def max_pool2d_backward(dy: np.ndarray, x: np.ndarray, pool_size: object = 2,
                        stride: object = None, padding: PaddingArg = 0) -> np.ndarray:
    """dx of :func:`max_pool2d`: each window's dy goes to its first maximum (row-major scan).

    The argmax is recomputed from x (no index array is stored by the forward).
    """
    x, g = _checked(x, pool_size, stride, padding)
    dy = _checked_dy(dy, g)
    return _max_pool2d_backward(dy, x, g.pool_size, g.stride, g.pads)


def avg_pool2d(x: np.ndarray, pool_size: object = 2, stride: object = None,
               padding: PaddingArg = 0, *, count_include_pad: bool = False,
               out: np.ndarray | None = None) -> np.ndarray:
    """2-D average pooling of NHWC `x` (arguments as :func:`max_pool2d`).

    count_include_pad=False (Keras/TF, default): divide by the number of real input cells
    in the window; True (PyTorch's default): divide by the window area.
    """
    fast = _fast_call(x, pool_size, stride, padding) if out is None else None
    if fast is not None:
        return _C.avg_pool2d_forward(x, *fast[0], bool(count_include_pad), None)
    x, g = _checked(x, pool_size, stride, padding)
    out_array(out, g.y_shape)
    return _avg_pool2d(x, g.pool_size, g.stride, g.pads,
                       count_include_pad=bool(count_include_pad), out=out)


def avg_pool2d_backward(dy: np.ndarray, x: np.ndarray, pool_size: object = 2,
                        stride: object = None, padding: PaddingArg = 0, *,
                        count_include_pad: bool = False, through_tanh: bool = False
                        ) -> np.ndarray:
    """dx of :func:`avg_pool2d`.

    through_tanh: x is the output of a tanh (conv -> tanh -> pool); return the gradient with
    respect to the tanh's input, ``tanh_backward(dx, x)``, in the same pass over dx.
    """
    fast = _fast_call(x, pool_size, stride, padding)
    if (fast is not None and type(dy) is np.ndarray and dy.dtype is _F32
            and dy.shape == fast[1] and dy.flags.c_contiguous):
        return _C.avg_pool2d_backward(dy, x, *fast[0], bool(count_include_pad),
                                      bool(through_tanh))
    x, g = _checked(x, pool_size, stride, padding)
    dy = _checked_dy(dy, g)
    return _avg_pool2d_backward(dy, x, g.pool_size, g.stride, g.pads,
                                count_include_pad=bool(count_include_pad),
                                through_tanh=bool(through_tanh))


def global_avg_pool2d(x: np.ndarray) -> np.ndarray:
    """Mean over H and W of NHWC `x`: (N, H, W, C) -> (N, C)."""
    x = array(x, "x", 4, dtype=compute_dtype())
    return _global_avg_pool2d(x)


def global_avg_pool2d_backward(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dx of :func:`global_avg_pool2d`: dy / (H * W) at every pixel, shape of x."""
    x = array(x, "x", 4, dtype=compute_dtype())
    dy = array(dy, "dy", 2, dtype=compute_dtype())
    same_shape(dy, "dy", (x.shape[0], x.shape[3]))
    return _global_avg_pool2d_backward(dy, x)
