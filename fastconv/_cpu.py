"""Adapters from validated Python arguments to the C++ entry points in fastconv._C.

Each adapter takes the reference function's arguments, normalised (pairs, ((t, b), (l, r))
paddings) and validated (C-contiguous float32 arrays), plus ``out=``.
"""

from __future__ import annotations

import numpy as np

from . import _C


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, stride, padding,
           dilation, groups: int, relu: bool = False, out: np.ndarray | None = None,
           algo: str = "auto") -> np.ndarray:
    (t, bo), (l, r) = padding
    return _C.conv2d_forward(x, w, b, stride, (t, bo, l, r), dilation, groups, relu, out, algo)


def conv2d_variants() -> list[str]:
    """Names of the C++ forward algorithms, in table order (``algo=`` accepts each)."""
    return list(_C.conv2d_forward_algos())


def conv2d_applicable(x: np.ndarray, w: np.ndarray, *, stride, padding, dilation,
                      groups: int) -> tuple[list[str], str]:
    """(forward algorithms that apply to this convolution, the one ``algo='auto'`` runs)."""
    (t, bo), (l, r) = padding
    names, chosen = _C.conv2d_forward_applicable(x, w, stride, (t, bo, l, r), dilation, groups)
    return list(names), chosen


def conv2d_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, *, stride, padding,
                    dilation, groups: int, need_dx: bool = True, need_dw: bool = True,
                    need_db: bool = True
                    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    (t, bo), (l, r) = padding
    return _C.conv2d_backward(dy, x, w, stride, (t, bo, l, r), dilation, groups,
                              need_dx, need_dw, need_db)
