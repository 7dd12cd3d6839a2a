"""relu, add (residual join) and concat, forward and backward: validation, then the op table."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from .. import _cpu, _cpu_ops, reference
from .._args import MAX_ELEMENTS
from .._backend import get_backend
from .._optable import Op, register
from .._validate import array, out_array, same_shape
from .conv import compute_dtype

_F32 = np.dtype(np.float32)
_C = _cpu._C


def _bytes_per_element(k: int):
    """bytes(first array, ...) = k bytes per element of the first array."""
    return lambda first, *_, **__: k * first.size


def _concat_bytes(xs, axis=-1) -> int:
    return 8 * sum(x.size for x in xs)


_relu = register(Op(
    "relu", reference.relu, kernels={"cpu": _cpu_ops.relu}, bytes=_bytes_per_element(8),
    doc="max(x, 0)"))
_relu_backward = register(Op(
    "relu_backward", reference.relu_backward, kernels={"cpu": _cpu_ops.relu_backward},
    bytes=_bytes_per_element(12), doc="dy * (y > 0)"))
_sum_relu_backward = register(Op(
    "sum_relu_backward", reference.sum_relu_backward,
    kernels={"cpu": _cpu_ops.sum_relu_backward}, bytes=_bytes_per_element(16),
    doc="(a + b) * (y > 0): ReLU backward of a two-part gradient"))
_tanh_backward = register(Op(
    "tanh_backward", reference.tanh_backward, kernels={"cpu": _cpu_ops.tanh_backward},
    bytes=_bytes_per_element(12), doc="dy * (1 - y^2)"))
_add = register(Op(
    "add", reference.add, kernels={"cpu": _cpu_ops.add}, bytes=_bytes_per_element(12),
    doc="a + b (+ReLU), the residual join"))
_add_backward = register(Op(
    "add_backward", reference.add_backward, kernels={"cpu": _cpu_ops.add_backward},
    bytes=_bytes_per_element(12), doc="(da, db) of add (masked after a fused ReLU)"))
_concat = register(Op(
    "concat", reference.concat, kernels={"cpu": _cpu_ops.concat}, bytes=_concat_bytes,
    doc="concatenation along an axis (NHWC channels)"))
_concat_backward = register(Op(
    "concat_backward", reference.concat_backward, kernels={"cpu": _cpu_ops.concat_backward},
    bytes=_bytes_per_element(8), doc="split of dy along an axis"))


def relu(x: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """max(x, 0), any shape; `out` an optional float32 buffer of x's shape."""
    x = array(x, "x", dtype=compute_dtype())
    out_array(out, x.shape)
    return _relu(x, out=out)


def relu_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dx = dy * (y > 0), with y the ReLU's output."""
    y = array(y, "y", dtype=compute_dtype())
    dy = array(dy, "dy", dtype=compute_dtype())
    same_shape(dy, "dy", y.shape)
    return _relu_backward(dy, y)


def sum_relu_backward(a: np.ndarray, b: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dx = (a + b) * (y > 0), with y the ReLU's output: the backward of a ReLU whose output
    feeds two layers (a residual block's input), its two gradient parts summed in the same
    pass (one pass instead of :func:`add` then :func:`relu_backward`; bitwise the same)."""
    if (type(a) is np.ndarray and type(b) is np.ndarray and type(y) is np.ndarray
            and a.dtype is _F32 and b.dtype is _F32 and y.dtype is _F32
            and a.shape == y.shape and b.shape == y.shape and a.flags.c_contiguous
            and b.flags.c_contiguous and y.flags.c_contiguous and 0 < y.size <= MAX_ELEMENTS
            and get_backend() == "cpu"):  # the graph's call, every step: straight to C++
        return _C.sum_relu_backward(a, b, y)
    y = array(y, "y", dtype=compute_dtype())
    a = array(a, "a", dtype=compute_dtype())
    b = array(b, "b", dtype=compute_dtype())
    same_shape(a, "a", y.shape)
    same_shape(b, "b", y.shape)
    return _sum_relu_backward(a, b, y)


def tanh_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dx = dy * (1 - y^2), with y = tanh(x) the forward's output."""
    if (type(y) is np.ndarray and type(dy) is np.ndarray and y.dtype is _F32
            and dy.dtype is _F32 and y.shape == dy.shape and y.flags.c_contiguous
            and dy.flags.c_contiguous and 0 < y.size <= MAX_ELEMENTS
            and get_backend() == "cpu"):  # the layers' call, every step: straight to C++
        return _C.tanh_backward(dy, y)
    y = array(y, "y", dtype=compute_dtype())
    dy = array(dy, "dy", dtype=compute_dtype())
    same_shape(dy, "dy", y.shape)
    return _tanh_backward(dy, y)


def add(a: np.ndarray, b: np.ndarray, *, relu: bool = False,
        out: np.ndarray | None = None) -> np.ndarray:
    """a + b (same shapes, no broadcasting), optionally fused max(., 0); `out` optional."""
    a = array(a, "a", dtype=compute_dtype())
    b = array(b, "b", dtype=compute_dtype())
    same_shape(b, "b", a.shape)
    out_array(out, a.shape)
    return _add(a, b, relu=bool(relu), out=out)


def add_backward(dy: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(da, db) of :func:`add`: dy, masked by (y > 0) when y (a fused-ReLU output) is given.

    da and db are the SAME array (and may be dy itself): treat them as read-only.
    """
    dy = array(dy, "dy", dtype=compute_dtype())
    if y is not None:
        y = array(y, "y", dtype=compute_dtype())
        same_shape(y, "y", dy.shape)
    return _add_backward(dy, y)


def _axis(axis: object, ndim: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis: expected an int, got {axis!r}")
    if not -ndim <= int(axis) < ndim:
        raise ValueError(f"axis: {axis} is out of range for {ndim} dimensions")
    return int(axis) % ndim


def concat(xs: Sequence[np.ndarray], axis: int = -1) -> np.ndarray:
    """Concatenate arrays along `axis` (default the channels: an Inception block's join)."""
    if isinstance(xs, np.ndarray) or not isinstance(xs, Sequence) or len(xs) == 0:
        raise TypeError("xs: expected a non-empty list of arrays")
    xs = [array(x, f"xs[{i}]", dtype=compute_dtype()) for i, x in enumerate(xs)]
    ax = _axis(axis, xs[0].ndim)
    for i, x in enumerate(xs[1:], 1):
        if x.ndim != xs[0].ndim or any(
                x.shape[j] != xs[0].shape[j] for j in range(x.ndim) if j != ax):
            raise ValueError(f"xs[{i}]: shape {x.shape} does not match xs[0] {xs[0].shape} "
                             f"outside axis {ax}")
    dt = np.result_type(*xs)
    return _concat([x.astype(dt, copy=False) for x in xs], axis=ax)


def concat_backward(dy: np.ndarray, sizes: Sequence[int], axis: int = -1) -> list[np.ndarray]:
    """Split dy along `axis` into pieces of the given sizes (the inputs' extents)."""
    dy = array(dy, "dy", dtype=compute_dtype())
    ax = _axis(axis, dy.ndim)
    if not isinstance(sizes, Sequence) or len(sizes) == 0 or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in sizes):
        raise TypeError(f"sizes: expected a non-empty list of ints, got {sizes!r}")
    sizes = [int(s) for s in sizes]
    if min(sizes) < 1 or sum(sizes) != dy.shape[ax]:
        raise ValueError(f"sizes: {sizes} must be >= 1 and sum to dy.shape[{ax}] = "
                         f"{dy.shape[ax]}")
    return _concat_backward(dy, sizes, axis=ax)
