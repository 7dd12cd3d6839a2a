"""Independent brute-force loops in the course's conv_forward / pool_forward style.

Deliberately naive (a Python loop per output element) and written without the reference's
helpers: an oracle for the oracle, on tiny shapes only.
"""

from __future__ import annotations

import numpy as np

from fastconv._args import ConvGeometry


def conv_forward(x, w, b, geom: ConvGeometry) -> np.ndarray:
    (t, _), (l, _) = geom.pads
    n_, h_, w_, c_ = x.shape
    f_h, f_w, cg, k_ = w.shape
    kg = k_ // geom.groups
    P, Q = geom.out_hw
    y = np.zeros((n_, P, Q, k_), np.float64)
    for n in range(n_):
        for p in range(P):
            for q in range(Q):
                for k in range(k_):
                    g = k // kg
                    acc = 0.0 if b is None else float(b[k])
                    for r in range(f_h):
                        for s in range(f_w):
                            ih = p * geom.stride[0] - t + r * geom.dilation[0]
                            iw = q * geom.stride[1] - l + s * geom.dilation[1]
                            if 0 <= ih < h_ and 0 <= iw < w_:
                                for c in range(cg):
                                    acc += float(x[n, ih, iw, g * cg + c]) * float(w[r, s, c, k])
                    y[n, p, q, k] = acc
    return y


def _window(p, q, kh, kw, sh, sw, t, l, h_, w_):
    """(ih, iw) of the real input cells of output (p, q)'s window, in row-major scan order."""
    for r in range(kh):
        for s in range(kw):
            ih, iw = p * sh - t + r, q * sw - l + s
            if 0 <= ih < h_ and 0 <= iw < w_:
                yield ih, iw


def pool_forward(x, pool_size, stride, pads, mode="max", count_include_pad=False):
    """The course's pool_forward: one loop per output element, 'max' or 'avg'."""
    (kh, kw), (sh, sw), ((t, b), (l, r)) = pool_size, stride, pads
    n_, h_, w_, c_ = x.shape
    P, Q = (h_ + t + b - kh) // sh + 1, (w_ + l + r - kw) // sw + 1
    y = np.zeros((n_, P, Q, c_), np.float64)
    for n in range(n_):
        for p in range(P):
            for q in range(Q):
                cells = list(_window(p, q, kh, kw, sh, sw, t, l, h_, w_))
                for c in range(c_):
                    vals = [float(x[n, i, j, c]) for i, j in cells]
                    if mode == "max":
                        y[n, p, q, c] = max(vals)
                    else:
                        y[n, p, q, c] = sum(vals) / (kh * kw if count_include_pad else len(vals))
    return y


def pool_backward(dy, x, pool_size, stride, pads, mode="max", count_include_pad=False):
    """dx of pool_forward; max: the first maximum in scan order takes the gradient."""
    (kh, kw), (sh, sw), ((t, _), (l, _)) = pool_size, stride, pads
    n_, h_, w_, c_ = x.shape
    dx = np.zeros(x.shape, np.float64)
    for n in range(n_):
        for p in range(dy.shape[1]):
            for q in range(dy.shape[2]):
                cells = list(_window(p, q, kh, kw, sh, sw, t, l, h_, w_))
                for c in range(c_):
                    g = float(dy[n, p, q, c])
                    if mode == "max":
                        best = None
                        for i, j in cells:
                            if best is None or x[n, i, j, c] > x[n, best[0], best[1], c]:
                                best = (i, j)
                        dx[n, best[0], best[1], c] += g
                    else:
                        d = kh * kw if count_include_pad else len(cells)
                        for i, j in cells:
                            dx[n, i, j, c] += g / d
    return dx


def batch_norm_forward(x, gamma, beta, eps):
    """Training-mode batch norm, one channel at a time with math.fsum statistics."""
    import math

    c_ = x.shape[-1]
    flat = x.reshape(-1, c_)
    m = flat.shape[0]
    y = np.zeros(flat.shape, np.float64)
    means, variances = np.zeros(c_), np.zeros(c_)
    for c in range(c_):
        col = [float(v) for v in flat[:, c]]
        mean = math.fsum(col) / m
        var = math.fsum((v - mean) ** 2 for v in col) / m
        for i in range(m):
            y[i, c] = float(gamma[c]) * (col[i] - mean) / math.sqrt(var + eps) + float(beta[c])
        means[c], variances[c] = mean, var
    return y.reshape(x.shape), means, variances


def softmax_cross_entropy(logits, targets):
    """Mean cross-entropy, one row at a time; targets (N, K) probabilities."""
    import math

    total = 0.0
    for row, t in zip(logits, targets, strict=True):
        mx = max(float(v) for v in row)
        lse = mx + math.log(sum(math.exp(float(v) - mx) for v in row))
        total += sum(-float(tk) * (float(v) - lse) for v, tk in zip(row, t, strict=True))
    return total / logits.shape[0]


def dense_forward(x, w, b):
    n_, i_ = x.shape
    o_ = w.shape[1]
    y = np.zeros((n_, o_))
    for n in range(n_):
        for o in range(o_):
            y[n, o] = sum(float(x[n, i]) * float(w[i, o]) for i in range(i_)) + (
                0.0 if b is None else float(b[o]))
    return y
