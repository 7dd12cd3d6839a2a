"""Input validation at the op boundary: every backend receives checked arrays."""

from __future__ import annotations

import numpy as np

from ._args import MAX_ELEMENTS, check_elements

FLOAT_DTYPES = (np.float32, np.float64)


def array(x: object, name: str, ndim: int | None = None, *, dtype: object = None) -> np.ndarray:
    """A C-contiguous float array (float32 or float64 kept, or cast to `dtype`).

    Non-contiguous inputs are copied; read-only inputs are fine (inputs are never written).
    Integer, bool, complex and object arrays raise TypeError naming the argument.
    """
    if (type(x) is np.ndarray and x.flags.c_contiguous and 0 < x.size <= MAX_ELEMENTS
            and (ndim is None or x.ndim == ndim)
            and (x.dtype == dtype if dtype is not None else x.dtype in FLOAT_DTYPES)):
        return x  # the common case, checked cheaply (ops run per layer per training step)
    if not isinstance(x, np.ndarray):
        if hasattr(x, "__cuda_array_interface__"):
            raise TypeError(f"{name}: GPU arrays need the 'cuda' backend")
        try:
            x = np.asarray(x)
        except Exception as e:  # noqa: BLE001 - anything that is not array-like
            raise TypeError(f"{name}: expected an array, got {type(x).__name__}") from e
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected a float32 or float64 array, got dtype {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got {x.ndim} (shape {x.shape})")
    if any(d == 0 for d in x.shape):
        raise ValueError(f"{name}: empty array (shape {x.shape})")
    check_elements(x.shape, name)
    if dtype is not None and x.dtype != dtype:
        x = x.astype(dtype)
    return np.ascontiguousarray(x)


def same_shape(a: np.ndarray, a_name: str, shape: tuple[int, ...]) -> None:
    if tuple(a.shape) != tuple(shape):
        raise ValueError(f"{a_name}: expected shape {tuple(shape)}, got {tuple(a.shape)}")


def out_array(out: np.ndarray | None, shape: tuple[int, ...], name: str = "out") -> None:
    """Check a caller-provided output buffer (float32, C-contiguous, writable, exact shape)."""
    if out is None:
        return
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array")
    if out.dtype != np.float32:
        raise TypeError(f"{name}: expected float32, got {out.dtype}")
    same_shape(out, name, shape)
    if not out.flags.c_contiguous:
        raise ValueError(f"{name}: must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError(f"{name}: array is read-only")
