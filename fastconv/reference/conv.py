"""Reference 2-D convolution: one matrix product per filter tap (loops over taps, not pixels)."""

from __future__ import annotations

import numpy as np

from .._args import ConvGeometry, PaddingArg


def _tap(g: ConvGeometry, r: int, s: int) -> tuple[slice, slice]:
    """Rows and columns of the padded input that filter tap (r, s) reads, one per output."""
    (p, q), (sh, sw), (dh, dw) = g.out_hw, g.stride, g.dilation
    return (slice(r * dh, r * dh + (p - 1) * sh + 1, sh),
            slice(s * dw, s * dw + (q - 1) * sw + 1, sw))


def _pad(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    return np.pad(x, ((0, 0), g.pads[0], g.pads[1], (0, 0)))


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, stride: object = 1,
           padding: PaddingArg = 0, dilation: object = 1, groups: int = 1,
           relu: bool = False) -> np.ndarray:
    """y[n,p,q,k] = sum_{r,s,c} x_pad[n, p*sh + r*dh, q*sw + s*dw, g*Cg + c] * w[r,s,c,k] + b[k].

    x: (N, H, W, C); w: (f_h, f_w, C/groups, K); b: (K,) or None; padding: int, pair,
    ((top, bottom), (left, right)), 'valid' or 'same' (TensorFlow's). relu fuses max(y, 0).
    """
    g = ConvGeometry(x.shape, w.shape, stride, padding, dilation, groups)
    n, p, q, k = g.y_shape
    r_, s_, cg, _ = w.shape
    kg = k // g.groups
    dtype = np.result_type(x, w)
    xp = _pad(x, g).astype(dtype, copy=False)
    y = np.zeros((n, p, q, g.groups, kg), dtype)
    wg = w.astype(dtype, copy=False).reshape(r_, s_, cg, g.groups, kg)
    for r in range(r_):
        for s in range(s_):
            rows, cols = _tap(g, r, s)
            xs = xp[:, rows, cols, :].reshape(n, p, q, g.groups, cg)
            y += np.einsum("npqgc,cgk->npqgk", xs, wg[r, s], optimize=True)
    y = y.reshape(n, p, q, k)
    if b is not None:
        y += b.astype(dtype, copy=False)
    return np.maximum(y, 0) if relu else y


def conv2d_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, *, stride: object = 1,
                    padding: PaddingArg = 0, dilation: object = 1, groups: int = 1,
                    need_dx: bool = True, need_dw: bool = True, need_db: bool = True
                    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Gradients (dx, dw, db) of conv2d given dy = dL/dy; a gradient not needed is None.

    With a fused ReLU, mask dy by (y > 0) first (``relu_backward``).
    """
    g = ConvGeometry(x.shape, w.shape, stride, padding, dilation, groups)
    n, p, q, k = g.y_shape
    if tuple(dy.shape) != g.y_shape:
        raise ValueError(f"dy: expected shape {g.y_shape}, got {tuple(dy.shape)}")
    r_, s_, cg, _ = w.shape
    kg = k // g.groups
    dtype = np.result_type(dy, x, w)
    dyg = dy.astype(dtype, copy=False).reshape(n, p, q, g.groups, kg)
    wg = w.astype(dtype, copy=False).reshape(r_, s_, cg, g.groups, kg)
    xp = _pad(x, g).astype(dtype, copy=False)
    dxp = np.zeros_like(xp) if need_dx else None
    dw = np.zeros((r_, s_, cg, g.groups, kg), dtype) if need_dw else None
    for r in range(r_):
        for s in range(s_):
            rows, cols = _tap(g, r, s)
            if dw is not None:
                xs = xp[:, rows, cols, :].reshape(n, p, q, g.groups, cg)
                dw[r, s] = np.einsum("npqgc,npqgk->cgk", xs, dyg, optimize=True)
            if dxp is not None:
                contrib = np.einsum("npqgk,cgk->npqgc", dyg, wg[r, s], optimize=True)
                dxp[:, rows, cols, :] += contrib.reshape(n, p, q, g.groups * cg)
    dx = None
    if dxp is not None:
        (t, _), (l, _) = g.pads
        dx = np.ascontiguousarray(dxp[:, t:t + x.shape[1], l:l + x.shape[2], :])
    db = dy.astype(dtype, copy=False).sum(axis=(0, 1, 2)) if need_db else None
    return dx, (dw.reshape(r_, s_, cg, k) if dw is not None else None), db
