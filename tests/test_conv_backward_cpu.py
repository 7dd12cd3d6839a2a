"""The C++ conv2d_backward against the reference, under every ISA and every variant."""

import numpy as np
import pytest
from helpers import WINOGRAD_TOL, assert_close, numerical_grad
from hypothesis import given
from hypothesis import strategies as st
from strategies import arrays, conv_cases, seeds

import fastconv as fc
from fastconv import _C

ALGOS = list(_C.conv2d_backward_algos())


def _ref(dy, x, w, case):
    f64 = [a.astype(np.float64) for a in (dy, x, w)]
    return fc.reference.conv2d_backward(*f64, **case.kwargs)


def _inputs(case, seed):
    rng = np.random.default_rng(seed)
    x, w = arrays(rng, case.x_shape), arrays(rng, case.w_shape)
    dy = arrays(rng, case.geometry().y_shape)
    return dy, x, w


def _raw(dy, x, w, case, algo, need=(True, True, True)):
    """The C++ entry point with one forced variant."""
    g = case.geometry()
    (t, b), (l, r) = g.pads
    return _C.conv2d_backward(dy, x, w, g.stride, (t, b, l, r), g.dilation, g.groups, *need,
                              algo)


def _at_thread_counts(run):
    """run() at 1, 2 and 3 threads: the results, which must agree bitwise."""
    outs = []
    for threads in (1, 2, 3):
        fc.set_num_threads(threads)
        outs.append(run())
    return outs


def _forced_at_thread_counts(isa, shape, seed, algo, which):
    """The C++ backward forced to `algo` on a (N, H, W, C, K, R, S, stride, padding, dilation,
    groups) case, at 1-3 threads (asserted bitwise equal): (dx or dw, the reference's)."""
    fc.set_isa(isa)
    n, h, w_, c, k, r, s, stride, pad, dil, groups = shape
    rng = np.random.default_rng(seed)
    x, w = arrays(rng, (n, h, w_, c)), arrays(rng, (r, s, c // groups, k))
    geo = fc._args.ConvGeometry(x.shape, w.shape, stride, pad, dil, groups)
    dy = arrays(rng, geo.y_shape)
    (t, b), (l, rr) = geo.pads
    outs = _at_thread_counts(lambda: _C.conv2d_backward(
        dy, x, w, geo.stride, (t, b, l, rr), geo.dilation, groups, which == 0, which == 1,
        False, algo)[which])
    for o in outs[1:]:
        assert np.array_equal(o, outs[0])
    ref = fc.reference.conv2d_backward(dy.astype(np.float64), x.astype(np.float64),
                                       w.astype(np.float64), stride=stride, padding=pad,
                                       dilation=dil, groups=groups)[which]
    return outs[0], ref


def _check(got, ref, case):
    dx, dw, db = got
    rdx, rdw, rdb = ref
    g = case.geometry()
    p, q = g.out_hw
    assert dx.dtype == np.float32 and dx.shape == case.x_shape
    assert dw.shape == case.w_shape and db.shape == (case.K,)
    assert_close(dx, rdx, rtol=1e-5, atol=1e-5 * (case.R * case.S * case.K) ** 0.5)
    assert_close(dw, rdw, rtol=1e-5, atol=1e-5 * (case.N * p * q) ** 0.5)
    assert_close(db, rdb, rtol=1e-5, atol=1e-5 * (case.N * p * q) ** 0.5)


@given(case=conv_cases(), seed=seeds)
def test_conv2d_backward_matches_reference(isa, case, seed):
    fc.set_isa(isa)
    dy, x, w = _inputs(case, seed)
    _check(fc.conv2d_backward(dy, x, w, **case.kwargs), _ref(dy, x, w, case), case)


@pytest.mark.parametrize("algo", ALGOS)
@given(case=conv_cases(max_hw=10, max_n=2), seed=seeds)
def test_conv2d_backward_every_variant(isa, algo, case, seed):
    fc.set_isa(isa)
    dy, x, w = _inputs(case, seed)
    _check(_raw(dy, x, w, case, algo), _ref(dy, x, w, case), case)


@given(case=conv_cases(max_hw=8, max_n=2), seed=seeds,
       need=st.tuples(st.booleans(), st.booleans(), st.booleans()))
def test_conv2d_backward_need_flags(case, seed, need):
    dy, x, w = _inputs(case, seed)
    full = fc.conv2d_backward(dy, x, w, **case.kwargs)
    got = fc.conv2d_backward(dy, x, w, **case.kwargs, need_dx=need[0], need_dw=need[1],
                             need_db=need[2])
    for want, a, b in zip(need, got, full, strict=True):
        if want:
            assert np.array_equal(a, b)
        else:
            assert a is None


# Shapes that exercise every path: strided first layer (col2im), C-vector tiles with edges,
# K and C not multiples of the vector width, groups, depthwise, N=1. Each is big enough
# (>= 1e6 multiply-adds) for the kernels to use more than one thread.
THREAD_SHAPES = [
    # N, H, W, C, K, R, S, stride, padding, groups
    (2, 31, 29, 3, 24, 7, 7, 2, 3, 1),
    (1, 19, 17, 16, 37, 3, 3, 1, "same", 1),
    (4, 11, 13, 40, 20, 5, 3, (2, 3), ((2, 1), (0, 2)), 1),
    (6, 17, 17, 12, 18, 3, 3, 1, 1, 3),
    (16, 40, 40, 16, 16, 3, 3, 1, 1, 16),
    (2, 20, 20, 16, 24, 3, 3, 1, 1, 1),  # "auto" dx: Winograd forward of dy
    (2, 12, 12, 32, 48, 1, 1, 1, 0, 1),  # "auto" dx: the 1x1 GEMM
    (3, 30, 29, 20, 70, 3, 3, 1, 1, 1),  # "auto" dw: Winograd (>= 64 tiles, 2 K blocks)
    (3, 21, 19, 72, 33, 3, 5, (2, 1), 2, 1),
    (2, 12, 13, 16, 32, 5, 5, 1, 2, 1),  # dw: x read in place + packed edges, 12-row tiles
    (2, 28, 28, 16, 32, 5, 5, 1, 2, 1),  # "auto" dx and dw: Winograd F(4x4, 5x5)
    (8, 14, 14, 6, 16, 5, 5, 1, 0, 1),  # LeNet-5 conv2: dw Winograd F(4x4, 5x5) (auto)
    (1, 28, 28, 16, 32, 5, 5, 1, 2, 1),  # dw Winograd at 49 tiles: 2 blocks of 25
]


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("shape", THREAD_SHAPES)
def test_conv2d_backward_bitwise_identical_across_threads(isa, algo, shape):
    fc.set_isa(isa)
    n, h, w_, c, k, r, s, stride, pad, groups = shape
    rng = np.random.default_rng(11)
    x, w = arrays(rng, (n, h, w_, c)), arrays(rng, (r, s, c // groups, k))
    geo = fc._args.ConvGeometry(x.shape, w.shape, stride, pad, 1, groups)
    dy = arrays(rng, geo.y_shape)
    (t, b), (l, rr) = geo.pads
    outs = _at_thread_counts(lambda: _C.conv2d_backward(
        dy, x, w, geo.stride, (t, b, l, rr), geo.dilation, groups, True, True, True, algo))
    for o in outs[1:]:
        for a, e in zip(o, outs[0], strict=True):
            assert np.array_equal(a, e)


def test_conv2d_backward_finite_differences():
    # The C++ gradients of L = sum(conv2d(x, w, b) * dy) against central differences.
    rng = np.random.default_rng(2)
    x = arrays(rng, (1, 5, 6, 3)).astype(np.float64)
    w = arrays(rng, (3, 2, 3, 4)).astype(np.float64)
    b = arrays(rng, (4,)).astype(np.float64)
    kw = dict(stride=(2, 1), padding="same", dilation=(1, 2))
    dy = arrays(rng, fc.conv2d(x, w, **kw).shape).astype(np.float64)

    def loss() -> float:
        with fc.use_backend("numpy"):
            return float((fc.conv2d(x, w, b, **kw) * dy).sum())

    dx, dw, db = fc.conv2d_backward(dy, x, w, **kw)
    assert dx.dtype == np.float32
    for got, var in ((dx, x), (dw, w), (db, b)):
        assert_close(got, numerical_grad(loss, var, eps=1e-5), rtol=1e-3, atol=1e-3)


def test_conv2d_backward_float64_policy_and_numpy_backend():
    rng = np.random.default_rng(4)
    x, w = arrays(rng, (2, 6, 6, 3), np.float64), arrays(rng, (3, 3, 3, 5), np.float64)
    dy = arrays(rng, (2, 6, 6, 5), np.float64)
    grads = fc.conv2d_backward(dy, x, w, padding=1)
    assert all(g.dtype == np.float32 for g in grads)
    with fc.use_backend("numpy"):
        ref = fc.conv2d_backward(dy, x, w, padding=1)
    assert all(g.dtype == np.float64 for g in ref)
    for a, e in zip(grads, ref, strict=True):
        assert_close(a, e, rtol=1e-5, atol=1e-5)
    assert fc.OPS["conv2d_backward"].runs_on("cpu") == "cpu"


def test_conv2d_backward_bad_input_raises():
    x, w = np.zeros((1, 6, 6, 3), np.float32), np.zeros((3, 3, 3, 4), np.float32)
    dy = np.zeros((1, 4, 4, 4), np.float32)
    with pytest.raises(ValueError, match="dy"):
        fc.conv2d_backward(dy[:, :3], x, w)
    with pytest.raises(ValueError, match="dy"):
        fc.conv2d_backward(dy[0], x, w)
    with pytest.raises(TypeError, match="dy"):
        fc.conv2d_backward(dy.astype(np.int32), x, w)
    with pytest.raises(ValueError, match="w"):
        fc.conv2d_backward(dy, x, np.zeros((3, 3, 2, 4), np.float32))
    # the C++ entry point re-checks on its own
    with pytest.raises(ValueError, match="dy"):
        _C.conv2d_backward(dy[:, :3].copy(), x, w, (1, 1), (0, 0, 0, 0), (1, 1), 1, True,
                           True, True, "auto")
    with pytest.raises(TypeError, match="dy"):
        _C.conv2d_backward(dy.astype(np.float64), x, w, (1, 1), (0, 0, 0, 0), (1, 1), 1,
                           True, True, True, "auto")
    with pytest.raises(ValueError, match="algo"):
        _C.conv2d_backward(dy, x, w, (1, 1), (0, 0, 0, 0), (1, 1), 1, True, True, True, "nope")


def test_conv2d_backward_gil_released_threads_agree():
    # Python threads calling the kernel at once (separate workspaces) get identical results.
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(5)
    x, w = arrays(rng, (4, 20, 20, 8)), arrays(rng, (3, 3, 8, 16))
    dy = arrays(rng, (4, 10, 10, 16))
    expected = fc.conv2d_backward(dy, x, w, stride=2, padding=1)
    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(
            lambda _: fc.conv2d_backward(dy, x, w, stride=2, padding=1), range(8)))
    for res in results:
        for a, e in zip(res, expected, strict=True):
            assert np.array_equal(a, e)


def _rotated(w):
    """dx = conv2d(dy, _rotated(w), padding=R-1-pad) for a stride-1 layer."""
    return np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2))


WINOGRAD_FILTERS = [(3, "winograd"), (5, "winograd5")]


@pytest.mark.parametrize("fr, algo", WINOGRAD_FILTERS)
@pytest.mark.parametrize("pad", [1, 0, ((1, 0), (0, 1))])
def test_conv2d_backward_dx_runs_winograd_forward(isa, pad, fr, algo, monkeypatch):
    fc.set_isa(isa)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 21, 19, 32)).astype(np.float32)
    w = (rng.standard_normal((fr, fr, 32, 24)) / 17).astype(np.float32)
    geo = fc._args.ConvGeometry(x.shape, w.shape, 1, pad, 1, 1)
    dy = rng.standard_normal(geo.y_shape).astype(np.float32)
    (t, b), (l, r) = geo.pads
    dx = fc.conv2d_backward(dy, x, w, padding=pad, need_dw=False, need_db=False)[0]
    e = fr - 1
    back_pad = ((e - t, e - b), (e - l, e - r))
    assert np.array_equal(dx, fc.conv2d(dy, _rotated(w), padding=back_pad, algo=algo))
    ref = fc.reference.conv2d_backward(dy.astype(np.float64), x.astype(np.float64),
                                       w.astype(np.float64), padding=pad)[0]
    assert np.abs(dx - ref).max() / np.abs(ref).max() < WINOGRAD_TOL
    monkeypatch.setenv("FASTCONV_WINOGRAD", "0")  # the same switch turns it off
    off = fc.conv2d_backward(dy, x, w, padding=pad, need_dw=False, need_db=False)[0]
    forced = _C.conv2d_backward(dy, x, w, (1, 1), (t, b, l, r), (1, 1), 1, True, False, False,
                                "cvec")[0]
    assert np.array_equal(off, forced)


@pytest.mark.parametrize("n, h, fr, runs", [(8, 7, 3, "direct"), (2, 14, 3, "direct"),
                                            (2, 7, 3, "cvec"), (2, 7, 5, "cvec")])
def test_conv2d_backward_dx_on_small_outputs(isa, n, h, fr, runs):
    # 7x7 and 14x14 outputs: dx as the direct forward from 392 pixels a call, else the tiles.
    fc.set_isa(isa)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((n, h, h, 64)).astype(np.float32)
    w = (rng.standard_normal((fr, fr, 64, 72)) / 24).astype(np.float32)
    dy = rng.standard_normal((n, h, h, 72)).astype(np.float32)
    pad = fr // 2
    dx = fc.conv2d_backward(dy, x, w, padding=pad, need_dw=False, need_db=False)[0]
    if runs == "direct":
        expected = fc.conv2d(dy, _rotated(w), padding=pad, algo="direct")
    else:
        expected = _C.conv2d_backward(dy, x, w, (1, 1), (pad,) * 4, (1, 1), 1, True, False,
                                      False, "cvec")[0]
    assert np.array_equal(dx, expected)
    ref = fc.reference.conv2d_backward(dy.astype(np.float64), x.astype(np.float64),
                                       w.astype(np.float64), padding=pad)[0]
    assert_close(dx, ref, rtol=1e-5, atol=1e-5 * (72 * fr * fr) ** 0.5)
    outs = []
    for t in (1, 2, 3):
        fc.set_num_threads(t)
        outs.append(fc.conv2d_backward(dy, x, w, padding=pad, need_dw=False, need_db=False)[0])
    assert all(np.array_equal(o, outs[0]) for o in outs[1:])


def test_conv2d_backward_dx_runs_1x1_gemm(isa):
    fc.set_isa(isa)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 9, 7, 40)).astype(np.float32)
    w = rng.standard_normal((1, 1, 40, 33)).astype(np.float32)
    dy = rng.standard_normal((3, 9, 7, 33)).astype(np.float32)
    dx = fc.conv2d_backward(dy, x, w, need_dw=False, need_db=False)[0]
    assert np.array_equal(dx, fc.conv2d(dy, _rotated(w), algo="gemm1x1"))
    ref = fc.reference.conv2d_backward(dy.astype(np.float64), x.astype(np.float64),
                                       w.astype(np.float64))[0]
    assert_close(dx, ref, rtol=1e-5, atol=1e-5 * 33 ** 0.5)


def _case_1x1(rng, n, h, w_, c, k, stride):
    """x, w and dy of an unpadded 1x1 layer."""
    x = rng.standard_normal((n, h, w_, c)).astype(np.float32)
    w = rng.standard_normal((1, 1, c, k)).astype(np.float32)
    dy = rng.standard_normal(fc._args.ConvGeometry(x.shape, w.shape, stride, 0, 1, 1).y_shape
                             ).astype(np.float32)
    return x, w, dy


@pytest.mark.parametrize("shape", [  # (N, H, W, C, K, stride)
    (2, 6, 7, 384, 400, (2, 2)),   # rows and columns past the last hit pixel, K tails
    (3, 9, 5, 600, 260, (3, 2)),
    (2, 92, 92, 512, 260, (2, 2)),  # 46x46x512 per image: chunks of one image
    (1, 8, 8, 130, 1100, (2, 2))])  # K > 1024: the GEMM reduces in channel blocks
def test_conv2d_backward_strided_1x1_dx_runs_gemm(isa, shape):
    # Strided unpadded 1x1 layers with weights beyond col2im's 128 K floats: dx is the 1x1
    # GEMM of dy with w^T at the pixels the stride hits, zeros elsewhere.
    fc.set_isa(isa)
    n, h, w_, c, k, stride = shape
    rng = np.random.default_rng(8)
    x, w, dy = _case_1x1(rng, n, h, w_, c, k, stride)
    outs = _at_thread_counts(lambda: fc.conv2d_backward(dy, x, w, stride=stride, need_dw=False,
                                                        need_db=False)[0])
    assert all(np.array_equal(o, outs[0]) for o in outs[1:])
    expect = np.zeros_like(x)
    expect[:, ::stride[0], ::stride[1]] = fc.conv2d(dy, _rotated(w), algo="gemm1x1")
    assert np.array_equal(outs[0], expect)
    if h < 50:
        ref = fc.reference.conv2d_backward(dy.astype(np.float64), x.astype(np.float64),
                                           w.astype(np.float64), stride=stride)[0]
        assert_close(outs[0], ref, rtol=1e-5, atol=1e-5 * k ** 0.5)


@pytest.mark.parametrize("shape", [  # (N, H, C, K): 3x3, stride 2, padding 1, H = 2 P
    (2, 14, 64, 72),   # K and C tails, output rows of half a tile
    (3, 10, 70, 96),
    (1, 14, 128, 64),  # 7x7 outputs, the largest that takes the phases
    (1, 12, 520, 64),  # 520 dx channels: the phase forwards' K tails
])
def test_conv2d_backward_strided_3x3_dx_by_phases(isa, shape):
    # ResNet v1.5's strided 3x3 layers: dx runs as four stride-1 forwards of dy (one per
    # parity phase of the dx pixels), each pixel one forward sum: same bits at any thread
    # count, direct-kernel accuracy.
    fc.set_isa(isa)
    n, h, c, k = shape
    rng = np.random.default_rng(9)
    x = rng.standard_normal((n, h, h, c)).astype(np.float32)
    w = (rng.standard_normal((3, 3, c, k)) / np.sqrt(9 * c)).astype(np.float32)
    dy = rng.standard_normal((n, h // 2, h // 2, k)).astype(np.float32)
    outs = _at_thread_counts(lambda: fc.conv2d_backward(dy, x, w, stride=2, padding=1,
                                                        need_dw=False, need_db=False)[0])
    assert all(np.array_equal(o, outs[0]) for o in outs[1:])
    ref = fc.reference.conv2d_backward(dy.astype(np.float64), x.astype(np.float64),
                                       w.astype(np.float64), stride=2, padding=1)[0]
    assert_close(outs[0], ref, rtol=1e-5, atol=1e-5 * (9 * k) ** 0.5)


@pytest.mark.parametrize("shape", [  # (N, H, W, C, K, stride)
    (2, 5, 7, 40, 33, (1, 1)),      # one dw panel, K tail
    (1, 6, 5, 13, 5, (2, 1)),       # K under one vector, C under one tile
    (1, 9, 9, 410, 350, (1, 1)),    # dw > 128 K floats: panels, C and K tails
    (2, 7, 6, 520, 300, (2, 3))])   # strided, panels
def test_conv2d_backward_dw_runs_1x1_gemm(isa, shape):
    # Unpadded ungrouped 1x1 layers: "auto" dw is the panelled GEMM; each dw element is the
    # same sequential sum over the pixels as the per-filter-row tiles ("cvec"), so the bits
    # agree with them, at 1-3 threads.
    fc.set_isa(isa)
    n, h, w_, c, k, stride = shape
    rng = np.random.default_rng(9)
    x, w, dy = _case_1x1(rng, n, h, w_, c, k, stride)
    outs = _at_thread_counts(lambda: _C.conv2d_backward(
        dy, x, w, stride, (0, 0, 0, 0), (1, 1), 1, False, True, False, "auto")[1])
    assert all(np.array_equal(o, outs[0]) for o in outs[1:])
    tiles = _C.conv2d_backward(dy, x, w, stride, (0, 0, 0, 0), (1, 1), 1, False, True, False,
                               "cvec")[1]
    assert np.array_equal(outs[0], tiles)
    ref = fc.reference.conv2d_backward(dy.astype(np.float64), x.astype(np.float64),
                                       w.astype(np.float64), stride=stride)[1]
    assert_close(outs[0], ref, rtol=1e-5, atol=1e-5 * (n * h * w_) ** 0.5)


@pytest.mark.parametrize("fr, k, pad", [  # filter size, K (4 or 2 K vectors), padding
    (3, 70, 1), (3, 70, 0), (3, 70, ((0, 2), (1, 0))), (5, 70, ((0, 2), (1, 0))), (5, 20, 1),
    (3, 30, 0)])
def test_conv2d_backward_dw_runs_winograd(isa, pad, fr, k, monkeypatch):
    fc.set_isa(isa)
    rng = np.random.default_rng(7)
    # C, K not whole blocks; enough tiles for "auto" to pick Winograd (3x3: >= 64 4x4 tiles;
    # 5x5, F(4x4, 5x5): >= 8)
    n, c = (2, 40) if fr == 3 else (3, 24)
    x = rng.standard_normal((n, 35, 33, c)).astype(np.float32)
    w = rng.standard_normal((fr, fr, c, k)).astype(np.float32)
    geo = fc._args.ConvGeometry(x.shape, w.shape, 1, pad, 1, 1)
    dy = rng.standard_normal(geo.y_shape).astype(np.float32)
    (t, b), (l, r) = geo.pads
    dw = fc.conv2d_backward(dy, x, w, padding=pad, need_dx=False, need_db=False)[1]
    ref = fc.reference.conv2d_backward(dy.astype(np.float64), x.astype(np.float64),
                                       w.astype(np.float64), padding=pad)[1]
    err = np.abs(dw - ref).max() / np.abs(ref).max()
    assert err < WINOGRAD_TOL
    monkeypatch.setenv("FASTCONV_WINOGRAD", "0")
    off = fc.conv2d_backward(dy, x, w, padding=pad, need_dx=False, need_db=False)[1]
    forced = _C.conv2d_backward(dy, x, w, (1, 1), (t, b, l, r), (1, 1), 1, False, True, False,
                                "cvec")[1]
    assert np.array_equal(off, forced)
    assert np.abs(off - ref).max() / np.abs(ref).max() < err  # the direct sum is tighter


@pytest.mark.parametrize("n, hw, c, k, pad", [
    (1, 28, 16, 32, 2),  # the Inception 5x5 layer at batch 1: 49 4x4 tiles, 2 blocks
    (1, 27, 20, 24, 2),  # partial tiles; C, K not whole vectors
    (1, 30, 16, 40, ((0, 2), (1, 0))),  # asymmetric padding, 2 K blocks on AVX2
    (1, 14, 6, 16, 0),  # LeNet's conv2: 10x10 outputs, 9 tiles
    (2, 7, 48, 40, 2),  # 8 tiles
    (1, 14, 16, 48, 2),  # K of 3 AVX-512 vectors: blocks of 3 vectors
    (2, 11, 20, 96, 2),  # 2 such K blocks, partial tiles
    (4, 30, 20, 24, 2),  # 256 tiles: 2 chunks of tiles, reduced in order
])
def test_conv2d_backward_dw_winograd_f45(isa, n, hw, c, k, pad, monkeypatch):
    # 5x5 dw by F(4x4, 5x5) from 8 4x4 tiles (16 when C K > 8192) and C K >= 96, within the
    # Winograd tolerance and bitwise the same at 1-3 threads.
    fc.set_isa(isa)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((n, hw, hw, c)).astype(np.float32)
    w = rng.standard_normal((5, 5, c, k)).astype(np.float32)
    geo = fc._args.ConvGeometry(x.shape, w.shape, 1, pad, 1, 1)
    dy = rng.standard_normal(geo.y_shape).astype(np.float32)
    outs = _at_thread_counts(
        lambda: fc.conv2d_backward(dy, x, w, padding=pad, need_dx=False, need_db=False)[1])
    assert all(np.array_equal(o, outs[0]) for o in outs[1:])
    ref = fc.reference.conv2d_backward(dy.astype(np.float64), x.astype(np.float64),
                                       w.astype(np.float64), padding=pad)[1]
    err = np.abs(outs[0] - ref).max() / np.abs(ref).max()
    assert err < WINOGRAD_TOL
    monkeypatch.setenv("FASTCONV_WINOGRAD", "0")
    off = fc.conv2d_backward(dy, x, w, padding=pad, need_dx=False, need_db=False)[1]
    assert np.abs(off - ref).max() / np.abs(ref).max() < err  # so Winograd ran above


@pytest.mark.parametrize("n, hw, c, k", [
    (1, 7, 48, 40),  # 4 tiles
    (2, 7, 96, 96),  # 8 tiles, but C K > 8192
    (3, 14, 4, 16),  # C K < 96
    (2, 12, 1, 96),  # one input channel: its own kernel
])
def test_conv2d_backward_dw_5x5_without_winograd(n, hw, c, k):
    # Too few tiles or channels for F(4x4, 5x5): "auto" runs the direct dw sums.
    rng = np.random.default_rng(10)
    x = rng.standard_normal((n, hw, hw, c)).astype(np.float32)
    w = rng.standard_normal((5, 5, c, k)).astype(np.float32)
    dy = rng.standard_normal((n, hw, hw, k)).astype(np.float32)
    dw = fc.conv2d_backward(dy, x, w, padding=2, need_dx=False, need_db=False)[1]
    ref = fc.reference.conv2d_backward(dy.astype(np.float64), x.astype(np.float64),
                                       w.astype(np.float64), padding=2)[1]
    assert np.abs(dw - ref).max() / np.abs(ref).max() < 1e-6


# One input channel, stride 1 along the width: "auto" dw runs vectors along the output row.
C1_SHAPES = [
    # N, H, W, K, R, S, stride, padding, dilation
    (5, 32, 32, 6, 5, 5, 1, 0, 1),                      # LeNet-5 conv1
    (3, 19, 23, 20, 3, 4, (2, 1), ((1, 2), (3, 0)), 1),  # K tail, uneven padding, row stride
    (2, 40, 37, 7, 3, 3, 1, 1, (2, 1)),                 # row dilation
    (70, 9, 8, 3, 2, 2, 1, 0, 1),                       # more bands than chunks
]


@pytest.mark.parametrize("shape", C1_SHAPES)
def test_conv2d_backward_dw_one_input_channel(isa, shape):
    fc.set_isa(isa)
    n, h, w_, k, r, s, stride, pad, dil = shape
    rng = np.random.default_rng(8)
    x, w = arrays(rng, (n, h, w_, 1)), arrays(rng, (r, s, 1, k))
    geo = fc._args.ConvGeometry(x.shape, w.shape, stride, pad, dil, 1)
    dy = arrays(rng, geo.y_shape)
    kw = {"stride": stride, "padding": pad, "dilation": dil}
    ref = fc.reference.conv2d_backward(dy.astype(np.float64), x.astype(np.float64),
                                       w.astype(np.float64), **kw)[1]
    p, q = geo.out_hw
    outs = _at_thread_counts(
        lambda: fc.conv2d_backward(dy, x, w, **kw, need_dx=False, need_db=False)[1])
    assert_close(outs[0], ref, rtol=1e-5, atol=1e-5 * (n * p * q) ** 0.5)
    for o in outs[1:]:
        assert np.array_equal(o, outs[0])


def test_conv2d_backward_dw_one_input_channel_inf_reaches_only_its_taps():
    # Column 11 meets only tap s = 2 (Q = 10, not a whole vector under any ISA): the other
    # taps stay finite although vectors run past the row's end.
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 12, 12, 1)).astype(np.float32)
    w = rng.standard_normal((3, 3, 1, 4)).astype(np.float32)
    x[:, :, 11] = np.inf
    dy = rng.standard_normal((2, 10, 10, 4)).astype(np.float32)
    dw = fc.conv2d_backward(dy, x, w, need_dx=False, need_db=False)[1]
    assert np.isfinite(dw[:, :2]).all() and not np.isfinite(dw[:, 2]).all()


# dx paths (cvec: several channel blocks, K tails; col2im: bands, dilation_w > 1 without the
# contiguous scatter, groups, 1x1 strided) against the reference and across thread counts.
DX_SHAPES = [
    # N, H, W, C, K, R, S, stride, padding, dilation, groups
    (2, 23, 26, 70, 45, 3, 3, (1, 2), 2, (2, 1), 1),
    (4, 40, 37, 5, 24, 4, 3, (3, 2), ((1, 2), (2, 0)), (1, 3), 1),
    (4, 13, 14, 12, 20, 3, 5, 1, 2, 1, 2),
    (8, 30, 29, 7, 200, 1, 1, 2, 0, 1, 1),
]


@pytest.mark.parametrize("algo", ["cvec", "col2im"])
@pytest.mark.parametrize("shape", DX_SHAPES)
def test_conv2d_backward_dx_paths(isa, algo, shape):
    got, ref = _forced_at_thread_counts(isa, shape, 12, algo, 0)
    r, s, k = shape[5], shape[6], shape[4]
    assert_close(got, ref, rtol=1e-5, atol=1e-5 * (r * s * k) ** 0.5)


# dw_im2col: K tails (dy packed), dilation along W (no contiguous window: packed panels),
# groups (two groups' tiles in one thread), stride and padding (one group and dil_w = 1: the
# ring of padded rows read in place), against the reference at 1-3 threads
# (each >= 1e6 multiply-adds, so the kernel does use the threads).
DW_IM2COL_SHAPES = [
    # N, H, W, C, K, R, S, stride, padding, dilation, groups
    (2, 31, 29, 3, 24, 7, 7, 2, 3, 1, 1),
    (4, 47, 47, 3, 32, 11, 11, 4, 0, 1, 1),
    (6, 23, 26, 2, 40, 3, 3, (1, 2), 2, (2, 3), 1),
    (6, 13, 14, 6, 20, 3, 5, 1, 2, 1, 2),
    (16, 60, 60, 1, 40, 2, 2, 3, 1, 1, 1),  # one channel, stride > kernel
    (2, 40, 37, 4, 64, 5, 3, 2, ((2, 1), (0, 2)), (2, 1), 1),  # 4 channels, dilation
    (1, 67, 64, 2, 96, 5, 5, 4, 2, 1, 1),  # N=1: 6 K vectors (2 K blocks on AVX-512)
    (2, 20, 140, 3, 48, 3, 3, (1, 2), ((0, 2), (1, 2)), 1, 1),  # rows of 2 pixel blocks
]


# One K vector and more than 12 window rows (S * C): AVX-512 runs dw tiles of 13-24 rows
# (forced: "auto" takes the im2col GEMM for these narrow layers).
DW_TALL_SHAPES = [
    # N, H, W, C, K, R, S, stride, padding, dilation, groups
    (8, 14, 14, 6, 16, 5, 5, 1, 0, 1, 1),  # LeNet-5 conv2: 30 rows, 2 tiles of 15
    (3, 12, 11, 5, 13, 3, 5, 1, 1, 1, 1),  # 25 rows (2 tiles of 12-13), K tail
    (2, 10, 9, 8, 16, 3, 3, 1, 1, 1, 1),  # 24 rows: one tile
]


@pytest.mark.parametrize("shape, seed, algo",
                         [(sh, 14, "cvec") for sh in DW_TALL_SHAPES]      # tall dw tiles
                         + [(sh, 13, "im2col") for sh in DW_IM2COL_SHAPES])
def test_conv2d_backward_dw_tall_tiles_and_im2col(isa, shape, seed, algo):
    got, ref = _forced_at_thread_counts(isa, shape, seed, algo, 1)
    n, h, w_, _, _, r, s, stride, pad, dil, _ = shape
    geo = fc._args.ConvGeometry((n, h, w_, 1), (r, s, 1, 1), stride, pad, dil, 1)
    p, q = geo.y_shape[1:3]
    assert_close(got, ref, rtol=1e-5, atol=1e-5 * (n * p * q) ** 0.5)


@given(case=conv_cases(max_hw=12, max_c=4, max_k=40, max_n=2, depthwise=False), seed=seeds)
def test_conv2d_backward_dw_im2col_few_channels(isa, case, seed):
    # dw_im2col on 1-4 input channels (the first layers it is for): strides above the kernel,
    # padding, dilation, groups, K tails; the same bits at 1-3 threads.
    fc.set_isa(isa)
    dy, x, w = _inputs(case, seed)
    outs = _at_thread_counts(lambda: _raw(dy, x, w, case, "im2col", (False, True, False))[1])
    for o in outs[1:]:
        assert np.array_equal(o, outs[0])
    p, q = case.geometry().out_hw
    assert_close(outs[0], _ref(dy, x, w, case)[1], rtol=1e-5, atol=1e-5 * (case.N * p * q) ** 0.5)


# From 1e6 multiply-adds per direction at >= 2 threads, dx and dw run side by side, each on
# one thread (a col2im dx shared: the dw thread takes dx bands once dw is done): the same
# bits as each alone (on any thread count) and as at 1 thread.
@pytest.mark.parametrize("shape", [
    # N, H, W, C, K, R, S, stride, padding, dilation, groups
    (1, 28, 28, 16, 32, 5, 5, 1, 2, 1, 1),  # Inception 5x5: Winograd dx and dw
    (8, 14, 14, 6, 16, 5, 5, 1, 0, 1, 1),  # LeNet-5 conv2
    (1, 61, 61, 3, 16, 7, 7, 2, 3, 1, 1),  # a first layer: col2im dx, im2col dw
    (2, 47, 47, 3, 16, 11, 11, 4, 0, 1, 1),  # unpadded, two images' bands shared
    (2, 9, 9, 64, 64, 3, 3, 1, 1, 1, 1),  # dx as the direct forward
])
def test_conv2d_backward_dx_dw_side_by_side(isa, shape):
    fc.set_isa(isa)
    n, h, w_, c, k, r, s, stride, pad, dil, groups = shape
    rng = np.random.default_rng(21)
    x, w = arrays(rng, (n, h, w_, c)), arrays(rng, (r, s, c // groups, k))
    geo = fc._args.ConvGeometry(x.shape, w.shape, stride, pad, dil, groups)
    dy = arrays(rng, geo.y_shape)
    kw = dict(stride=stride, padding=pad, dilation=dil, groups=groups)
    both = _at_thread_counts(lambda: fc.conv2d_backward(dy, x, w, **kw))
    for o in both[1:]:
        for a, e in zip(o, both[0], strict=True):
            assert np.array_equal(a, e)
    fc.set_num_threads(2)
    dx = fc.conv2d_backward(dy, x, w, need_dw=False, need_db=False, **kw)[0]
    dw = fc.conv2d_backward(dy, x, w, need_dx=False, need_db=False, **kw)[1]
    assert np.array_equal(dx, both[0][0]) and np.array_equal(dw, both[0][1])
    ref = fc.reference.conv2d_backward(dy.astype(np.float64), x.astype(np.float64),
                                       w.astype(np.float64), **kw)
    p, q = geo.y_shape[1:3]
    tol = WINOGRAD_TOL if r == 5 and c == 16 else 1e-5
    assert np.abs(both[0][0] - ref[0]).max() <= tol * max(1.0, np.abs(ref[0]).max())
    assert np.abs(both[0][1] - ref[1]).max() <= tol * max(1.0, np.abs(ref[1]).max())
