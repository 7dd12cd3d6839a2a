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
