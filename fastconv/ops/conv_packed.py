"""PackedConv2d: a convolution whose weights are frozen and packed once for the fast kernels.

Every ``conv2d`` call repacks the weights into the layout its kernel reads (K blocks for
``direct`` and ``gemm1x1``, the transformed weights for Winograd). At batch 1 on 14x14 and 7x7
layers that repack is a third to a half of the call. A PackedConv2d keeps a private snapshot of
the weights and bias, packs them the first time an algorithm runs on the active ISA, and reuses
the packed copy on every later call: the same kernels, the same bits as ``conv2d``.
"""

from __future__ import annotations

import os

import numpy as np

from .._args import ConvGeometry, PaddingArg, pair
from .._backend import get_backend
from .._validate import array, out_array, same_shape
from . import conv as _conv


class PackedConv2d:
    """``conv2d(x, w, b, stride=..., ...)`` with w and b frozen and packed once.

    Args:
        w: filters (f_h, f_w, C // groups, K); converted to float32.
        b: bias (K,) or None.
        stride, padding, dilation, groups: as in :func:`fastconv.conv2d`.
        copy: snapshot w and b (default). ``copy=False`` uses float32 C-contiguous arrays
            in place (through read-only views): the caller promises not to change them
            afterwards (a change would not reach the packed copies).

    Call it as ``packed(x, relu=False, out=None)``. The packs (one per algorithm that
    ``algo='auto'`` picks for the input shapes seen, on the ISA active at the call) stay until
    the object goes; ``packed_bytes`` says how much they hold. On other backends (``numpy``)
    or for algorithms with no packed form (``depthwise``, ``c1``, ``naive``) the call is a
    plain ``conv2d``.
    """

    def __init__(self, w: np.ndarray, b: np.ndarray | None = None, *, stride: object = 1,
                 padding: PaddingArg = 0, dilation: object = 1, groups: int = 1,
                 copy: bool = True):
        w = array(w, "w", 4, dtype=np.float32)
        if copy or not w.flags.c_contiguous:
            w = np.array(w, dtype=np.float32, order="C")
        if b is not None:
            b = array(b, "b", 1, dtype=np.float32)
            same_shape(b, "b", (w.shape[3],))
            if copy or not b.flags.c_contiguous:
                b = np.array(b, dtype=np.float32, order="C")
        if not (isinstance(groups, int) and not isinstance(groups, bool) and groups >= 1):
            raise TypeError(f"groups: expected an int >= 1, got {groups!r}")
        # the hyper-parameters are checked now, not at the first call, on an input just
        # large enough for the dilated filter (only the arguments are judged)
        dh, dw = pair(dilation, "dilation")
        ConvGeometry((1, (w.shape[0] - 1) * dh + 1, (w.shape[1] - 1) * dw + 1,
                      w.shape[2] * groups), w.shape, stride, padding, dilation, groups)
        # read-only views: the caller's arrays (copy=False) stay writeable for the caller
        w = w.view()
        w.flags.writeable = False
        if b is not None:
            b = b.view()
            b.flags.writeable = False
        self.w, self.b = w, b
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        # (x.shape, Winograd off) -> algorithm 'auto' runs for it; (algorithm, ISA) -> packed
        # weights or None
        self._algo: dict[tuple, str] = {}
        self._packs: dict[tuple[str, str], np.ndarray | None] = {}

    @property
    def packed_bytes(self) -> int:
        """Bytes held by the packed copies (not counting the snapshot of w and b)."""
        return sum(p.nbytes for p in self._packs.values() if p is not None)

    def __call__(self, x: np.ndarray, *, relu: bool = False,
                 out: np.ndarray | None = None) -> np.ndarray:
        """conv2d(x, w, b) (+ReLU) of NHWC x, on the packed weights."""
        kw = dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                  groups=self.groups)
        if get_backend() != "cpu":
            return _conv.conv2d(x, self.w, self.b, relu=relu, out=out, **kw)
        hit = _conv._cached_geometry(x, self.w, *kw.values())
        if hit is None or not (out is None or (type(out) is np.ndarray
                                               and out.dtype == np.float32)):
            x0 = x
            x, _, g = _conv._geometry(x, self.w, *kw.values())
            out_array(out, g.y_shape)
            if x is x0:
                _conv._remember_geometry(x, self.w, *kw.values(), g)
            (t, bo), (le, ri) = g.pads
            args = (g.stride, (t, bo, le, ri), g.dilation, g.groups)
        else:
            args = hit[1]
        C = _conv._cpu._C
        isa = C.active_isa()
        key = (x.shape, os.environ.get("FASTCONV_WINOGRAD") == "0")
        algo = self._algo.get(key)
        packed = self._packs.get((algo, isa), False) if algo is not None else False
        if packed is False:  # first call for this input shape or ISA: pack
            algo, isa, packed = C.conv2d_pack(x, self.w, self.b, *args, "auto")
            self._algo[key] = algo
            self._packs[(algo, isa)] = packed
        if packed is None:
            return C.conv2d_forward(x, self.w, self.b, *args, bool(relu), out, algo)
        return C.conv2d_forward_packed(x, self.w, packed, *args, bool(relu), out, algo, isa)

    def __repr__(self) -> str:
        return (f"PackedConv2d(w={self.w.shape}, bias={self.b is not None}, "
                f"stride={self.stride!r}, padding={self.padding!r}, "
                f"dilation={self.dilation!r}, groups={self.groups}, "
                f"packs={sorted(k for k, v in self._packs.items() if v is not None)})")
