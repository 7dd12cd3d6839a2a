"""The C++ conv2d against the reference, for every forward variant under every ISA."""

import numpy as np
import pytest
from helpers import WINOGRAD_TOL, assert_close
from hypothesis import given
from hypothesis import strategies as st
from strategies import ConvCase, arrays, conv_cases, seeds

import fastconv as fc
from fastconv import _cpu

VARIANTS = fc.OPS["conv2d"].variants()


def applicable(case: ConvCase) -> tuple[list[str], str]:
    x = np.empty(case.x_shape, np.float32)
    w = np.empty(case.w_shape, np.float32)
    g = case.geometry()
    return _cpu.conv2d_applicable(x, w, stride=g.stride, padding=g.pads, dilation=g.dilation,
                                  groups=g.groups)


def check_variant(case: ConvCase, algo: str, seed: int, relu: bool, with_bias: bool) -> None:
    rng = np.random.default_rng(seed)
    x = arrays(rng, case.x_shape)
    w = arrays(rng, case.w_shape)
    b = arrays(rng, (case.K,)) if with_bias else None
    y = fc.conv2d(x, w, b, relu=relu, algo=algo, **case.kwargs)
    ref = fc.reference.conv2d(x.astype(np.float64), w.astype(np.float64), b, relu=relu,
                              **case.kwargs)
    assert y.dtype == np.float32 and y.shape == case.geometry().y_shape
    if algo.startswith("winograd"):
        assert_close(y, ref, rtol=0, atol=WINOGRAD_TOL)
    else:
        assert_close(y, ref, rtol=1e-5, atol=1e-5 * (case.R * case.S * case.C) ** 0.5)


def test_variant_table():
    assert VARIANTS[0] == "direct" and "naive" in VARIANTS
    assert len(set(VARIANTS)) == len(VARIANTS)
    docs = dict(fc._C.conv2d_forward_algo_docs())
    assert set(docs) == set(VARIANTS) and all(docs.values())


@given(case=conv_cases(), seed=seeds, relu=..., with_bias=...)
def test_conv2d_forward_matches_reference(isa, case, seed, relu: bool, with_bias: bool):
    fc.set_isa(isa)
    names, chosen = applicable(case)
    assert chosen in names and "naive" in names and "direct" in names
    for algo in ["auto", *names]:
        check_variant(case, algo, seed, relu, with_bias)


# Shapes that each variant applies to, with tails in every blocked dimension (K not a multiple
# of the vector width, output rows shorter and longer than a tile, padding on every side).
@st.composite
def variant_cases(draw, algo: str) -> ConvCase:
    if algo == "gemm1x1":
        groups = draw(st.sampled_from([1, 1, 2]))
        c = groups * draw(st.integers(1, 24))
        k = groups * draw(st.integers(1, 40))
        stride = draw(st.sampled_from([(1, 1), (1, 1), (2, 2), (1, 3)]))  # strided: gathered
        return ConvCase(draw(st.integers(1, 3)), draw(st.integers(1, 9)),
                        draw(st.integers(1, 31)), c, k, 1, 1, stride, 0, (1, 1), groups)
    if algo == "winograd":
        return ConvCase(draw(st.integers(1, 3)), draw(st.integers(3, 19)),
                        draw(st.integers(3, 19)), draw(st.integers(1, 40)),
                        draw(st.integers(1, 70)), 3, 3, (1, 1),
                        draw(st.sampled_from([0, 1, 2, "same", ((0, 2), (1, 0))])), (1, 1), 1)
    if algo == "winograd5":
        return ConvCase(draw(st.integers(1, 3)), draw(st.integers(5, 19)),
                        draw(st.integers(5, 19)), draw(st.integers(1, 40)),
                        draw(st.integers(1, 70)), 5, 5, (1, 1),
                        draw(st.sampled_from([0, 2, "same", ((0, 4), (3, 1))])), (1, 1), 1)
    if algo == "c1":  # one input channel, any row stride and dilation, rows past 64 pixels
        r, s = draw(st.integers(1, 7)), draw(st.integers(1, 7))
        dh = draw(st.integers(1, 2))
        pads = (draw(st.integers(0, r - 1)), draw(st.integers(0, r - 1)))
        padw = (draw(st.integers(0, s - 1)), draw(st.integers(0, s - 1)))
        case = ConvCase(draw(st.integers(1, 3)), draw(st.integers((r - 1) * dh + 1, 20)),
                        draw(st.integers(s, 90)), 1, draw(st.integers(1, 40)), r, s,
                        (draw(st.integers(1, 3)), 1), (pads, padw), (dh, 1), 1)
        case.geometry()
        return case
    if algo == "depthwise":
        c = draw(st.integers(1, 70))
        case = ConvCase(draw(st.integers(1, 2)), draw(st.integers(3, 9)),
                        draw(st.integers(3, 9)), c, c, 3, 3, (draw(st.integers(1, 2)),) * 2,
                        draw(st.sampled_from([0, 1, "same"])), (1, 1), c)
        case.geometry()
        return case
    return draw(conv_cases(max_hw=33, max_c=12, max_k=40))


@pytest.mark.parametrize("algo", VARIANTS)
@given(data=st.data(), seed=seeds, relu=..., with_bias=...)
def test_each_variant_matches_reference(isa, algo, data, seed, relu: bool, with_bias: bool):
    fc.set_isa(isa)
    case = data.draw(variant_cases(algo))
    names, _ = applicable(case)
    assert algo in names
    check_variant(case, algo, seed, relu, with_bias)


@pytest.mark.parametrize("shape", [(3, 17, 13, 8, 24, 3, 3, 2, 1), (1, 28, 28, 16, 32, 5, 5, 1, 2),
                                   (1, 28, 28, 32, 16, 5, 5, 1, 2),  # winograd5: 6 blocks of 9
                                   (2, 30, 30, 3, 16, 7, 7, 2, 3), (2, 9, 11, 19, 37, 1, 1, 1, 0),
                                   (1, 10, 12, 40, 40, 3, 3, 1, 1), (3, 7, 9, 5, 20, 3, 3, 1, 1),
                                   (2, 32, 70, 1, 13, 5, 5, 1, 2), (5, 7, 7, 24, 40, 3, 3, 1, 1)])
@pytest.mark.parametrize("algo", ["auto", *VARIANTS])
def test_conv2d_bitwise_identical_across_threads(isa, algo, shape):
    fc.set_isa(isa)
    n, h, w_, c, k, r, s, stride, pad = shape
    groups = c if algo == "depthwise" else 1
    if algo == "depthwise":
        k = c
    case = ConvCase(n, h, w_, c, k, r, s, (stride, stride), pad, (1, 1), groups)
    if algo != "auto" and algo not in applicable(case)[0]:
        pytest.skip(f"{algo} does not apply to {shape}")
    rng = np.random.default_rng(7)
    x, w = arrays(rng, case.x_shape), arrays(rng, case.w_shape)
    b = arrays(rng, (k,))
    outs = []
    for t in (1, 2, 3):
        fc.set_num_threads(t)
        outs.append(fc.conv2d(x, w, b, algo=algo, **case.kwargs))
    for o in outs[1:]:
        assert np.array_equal(o, outs[0])


@pytest.mark.parametrize("algo", ["direct", "gemm1x1", "winograd", "winograd5"])
def test_wide_layers_split_the_channel_reduction(isa, algo):
    # More than 1024 input channels: the reduction runs in channel blocks through the output.
    fc.set_isa(isa)
    r = {"gemm1x1": 1, "winograd5": 5}.get(algo, 3)
    case = ConvCase(1, 5, 6, 1100, 21, r, r, (1, 1), r // 2, (1, 1), 1)
    check_variant(case, algo, 11, True, True)


@pytest.mark.parametrize("shape", [(2, 30, 30, 1024, 130, 1), (1, 7, 7, 1024, 520, 1),
                                   (1, 13, 11, 40, 70, 2), (2, 9, 7, 600, 50, 2)])
def test_gemm1x1_gathered_chunks(isa, shape):
    # Stride-1 inputs with a pixel stride of a multiple of 4 KB (C = 1024: many chunks, or one
    # chunk and many K blocks) and strided 1x1 layers run gathered chunks, K tails included.
    fc.set_isa(isa)
    n, h, w_, c, k, stride = shape
    case = ConvCase(n, h, w_, c, k, 1, 1, (stride, stride), 0, (1, 1), 1)
    check_variant(case, "gemm1x1", 4, True, True)
    rng = np.random.default_rng(1)
    x, w, b = arrays(rng, case.x_shape), arrays(rng, case.w_shape), arrays(rng, (k,))
    outs = []
    for t in (1, 2, 3):
        fc.set_num_threads(t)
        outs.append(fc.conv2d(x, w, b, algo="gemm1x1", **case.kwargs))
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])


def test_gemm1x1_streams_big_outputs(isa):
    # Outputs of 16 MB and more (here 34 MB, K = 1040: the last K block's half tile is stored
    # the ordinary way) are stored non-temporally: at 1-3 threads the same bits as an output
    # too small to be (half an image), and the reference's values.
    fc.set_isa(isa)
    rng = np.random.default_rng(3)
    x, w, b = arrays(rng, (2, 64, 64, 8)), arrays(rng, (1, 1, 8, 1040)), arrays(rng, (1040,))
    outs = []
    for t in (1, 2, 3):
        fc.set_num_threads(t)
        outs.append(fc.conv2d(x, w, b, relu=True, algo="gemm1x1"))
    assert all(np.array_equal(o, outs[0]) for o in outs[1:])
    small = fc.conv2d(x[:1, :32], w, b, relu=True, algo="gemm1x1")  # 8.5 MB
    assert np.array_equal(outs[0][:1, :32], small)
    ref = np.maximum(x.astype(np.float64) @ w[0, 0].astype(np.float64) + b, 0)
    assert_close(outs[0], ref, rtol=1e-5, atol=1e-5 * 8 ** 0.5)


def test_gemm1x1_streams_only_aligned_blocks(isa):
    # Grouped 1x1 layer, 36 channels a group (K = 144): the groups' K blocks start 144 bytes
    # apart, off the vector alignment the non-temporal stores need (a 19 MB output).
    fc.set_isa(isa)
    rng = np.random.default_rng(4)
    x, w = arrays(rng, (8, 64, 64, 4)), arrays(rng, (1, 1, 1, 144))
    outs = []
    for t in (1, 2, 3):
        fc.set_num_threads(t)
        outs.append(fc.conv2d(x, w, groups=4, algo="gemm1x1"))
    assert all(np.array_equal(o, outs[0]) for o in outs[1:])
    ref = np.concatenate([x[..., g:g + 1].astype(np.float64) * w[0, 0, 0, 36 * g:36 * (g + 1)]
                          for g in range(4)], axis=-1)
    assert_close(outs[0], ref, rtol=1e-6, atol=1e-6)


def test_auto_rules_for_small_resnet_layers():
    # Measured choices: Winograd only above 14x14 outputs; strided 1x1 by the gathering GEMM
    # from 512 input channels, by the direct kernel below.
    def chosen(xs, ws, stride, pad):
        x, w = np.empty(xs, np.float32), np.empty(ws, np.float32)
        return fc._C.conv2d_forward_applicable(x, w, stride, pad, (1, 1), 1)[1]

    assert chosen((16, 14, 14, 256), (3, 3, 256, 256), (1, 1), (1, 1, 1, 1)) == "direct"
    assert chosen((16, 28, 28, 128), (3, 3, 128, 128), (1, 1), (1, 1, 1, 1)) == "winograd"
    assert chosen((1, 14, 14, 1024), (1, 1, 1024, 2048), (2, 2), (0, 0, 0, 0)) == "gemm1x1"
    assert chosen((1, 56, 56, 256), (1, 1, 256, 512), (2, 2), (0, 0, 0, 0)) == "direct"
    # 5x5: F(4x4, 5x5) from one 14x14 image (16 tiles); 7x7 at batch 1 stays direct.
    assert chosen((1, 14, 14, 16), (5, 5, 16, 48), (1, 1), (2, 2, 2, 2)) == "winograd5"
    assert chosen((1, 7, 7, 48), (5, 5, 48, 128), (1, 1), (2, 2, 2, 2)) == "direct"


@pytest.mark.parametrize("shape", [(3, 7, 9, 5, 20, 3, 3, 1, 1), (2, 12, 30, 8, 40, 3, 3, 1, 1)])
def test_direct_row_groups_straddle_images(isa, shape):
    # Tasks run groups of flattened (image, row) rows; a group may end in the next image.
    fc.set_isa(isa)
    n, h, w_, c, k, r, s, stride, pad = shape
    case = ConvCase(n, h, w_, c, k, r, s, (stride, stride), pad, (1, 1), 1)
    check_variant(case, "direct", 5, True, True)


@pytest.mark.parametrize("shape", [
    (1, 5, 60, 4, 20, 3, 3, (1, 1), 1, (1, 1), 1),      # long rows: padded tiles copy a window
    (2, 6, 10, 4, 40, 3, 3, (1, 1), 1, (1, 1), 1),      # short rows: the task's zero-padded strip
    (3, 7, 9, 6, 20, 5, 3, (2, 1), ((2, 1), (0, 3)), (1, 2), 2),  # strip, groups, dilation
    (1, 9, 40, 8, 70, 3, 3, (1, 2), ((1, 1), (2, 0)), (2, 1), 1),
    (2, 6, 20, 4, 12, 3, 3, (1, 1), 1, (1, 1), 1),      # short rows of 16-channel tiles
    # rows of a few pixels: strips of groups straddling images, one-row images, grouped,
    # dilated and strided
    (3, 7, 7, 20, 40, 3, 3, (1, 1), 1, (1, 1), 1),
    (4, 3, 5, 6, 20, 3, 3, (1, 1), 0, (1, 1), 1),
    (3, 14, 13, 6, 36, 3, 3, (2, 2), ((1, 0), (1, 2)), (1, 1), 2),
    (2, 9, 8, 5, 17, 3, 2, (1, 1), ((2, 2), (1, 0)), (2, 3), 1),
    (5, 4, 4, 3, 9, 2, 2, (1, 1), 0, (1, 1), 1)])
def test_direct_padding_windows_and_strips(isa, shape):
    # Both ways of reading the left/right padding: per-tile windows and per-task strips.
    fc.set_isa(isa)
    check_variant(ConvCase(*shape), "direct", 3, True, True)


@pytest.mark.parametrize("shape", [
    # rows of half a tile run in pairs (AVX-512: 7 pixels at K > 16, 14 at K <= 16; AVX2 and
    # generic: 3 and 6): strided, an odd row count, groups, dilation, uneven padding, and
    # 256-channel pixels (the strip's padded pixel stride); 384 channels (K blocks of over
    # 384 KB: groups of up to 32 rows, shrunk until the strips fit)
    (2, 7, 7, 256, 40, 3, 3, (1, 1), 1, (1, 1), 1),
    (8, 7, 7, 384, 128, 3, 3, (1, 1), 1, (1, 1), 1),
    (8, 14, 14, 512, 128, 3, 3, (2, 2), 1, (1, 1), 1),
    (1, 14, 14, 256, 24, 3, 3, (2, 2), 1, (1, 1), 1),
    (2, 3, 3, 256, 20, 3, 3, (1, 1), 1, (1, 1), 1),
    (3, 14, 14, 20, 36, 3, 3, (2, 2), 1, (1, 1), 1),
    (1, 9, 7, 6, 40, 3, 3, (1, 1), ((2, 0), (1, 1)), (2, 1), 2),
    (2, 14, 14, 8, 12, 3, 3, (1, 1), 1, (1, 1), 1),
    (2, 6, 6, 8, 8, 3, 3, (1, 1), 1, (1, 1), 1),
    (3, 3, 3, 8, 20, 3, 3, (1, 1), 1, (1, 1), 1),
    (2, 5, 6, 16, 24, 3, 2, (1, 2), ((1, 1), (0, 1)), (1, 2), 1)])
def test_direct_row_pairs(isa, shape):
    fc.set_isa(isa)
    case = ConvCase(*shape)
    check_variant(case, "direct", 9, True, True)
    rng = np.random.default_rng(2)
    x, w, b = arrays(rng, case.x_shape), arrays(rng, case.w_shape), arrays(rng, (case.K,))
    outs = []
    for t in (1, 2, 3):
        fc.set_num_threads(t)
        outs.append(fc.conv2d(x, w, b, algo="direct", **case.kwargs))
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])


@pytest.mark.parametrize("r, c, k, algo", [(3, 64, 64, "winograd"), (5, 16, 32, "winograd5")])
def test_winograd_error_is_documented_size(r, c, k, algo):
    # Realistic magnitudes: a ResNet-style 3x3 layer and the Inception 5x5 one on
    # unit-variance data (measured: ~2e-6 and ~3e-6 of max|y|, direct ~3e-7).
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 20, 20, c)).astype(np.float32)
    w = (rng.standard_normal((r, r, c, k)) / (r * c ** 0.5)).astype(np.float32)
    ref = fc.reference.conv2d(x.astype(np.float64), w.astype(np.float64), padding=r // 2)
    scale = np.abs(ref).max()
    err_w = np.abs(fc.conv2d(x, w, padding=r // 2, algo=algo) - ref).max() / scale
    err_d = np.abs(fc.conv2d(x, w, padding=r // 2, algo="direct") - ref).max() / scale
    assert err_w < WINOGRAD_TOL and err_d < 1e-5
    assert err_w > err_d  # the price of fewer multiplies


@pytest.mark.parametrize("r, algo", [(3, "winograd"), (5, "winograd5")])
def test_winograd_can_be_turned_off(monkeypatch, r, algo):
    x, w = np.ones((2, 32, 32, 32), np.float32), np.ones((r, r, 32, 32), np.float32)
    pad = (r // 2,) * 4
    args = (fc._C.conv2d_forward_applicable, x, w, (1, 1), pad, (1, 1), 1)
    assert args[0](*args[1:])[1] == algo
    monkeypatch.setenv("FASTCONV_WINOGRAD", "0")
    assert args[0](*args[1:])[1] == "direct"


def test_fast_path_still_validates():
    x, w = np.ones((1, 6, 6, 2), np.float32), np.ones((3, 3, 2, 4), np.float32)
    y = fc.conv2d(x, w, stride=1, padding=1)
    assert np.array_equal(fc.conv2d(x, w, stride=1, padding=1), y)  # cached geometry
    with pytest.raises(TypeError, match="stride"):
        fc.conv2d(x, w, stride=True, padding=1)
    with pytest.raises(ValueError, match="out"):
        fc.conv2d(x, w, stride=1, padding=1, out=np.empty((1, 5, 5, 4), np.float32))
    with pytest.raises(ValueError, match="b"):
        fc.conv2d(x, w, np.ones(3, np.float32), stride=1, padding=1)
    assert np.allclose(fc.conv2d(x.astype(np.float64), w, stride=1, padding=1), y)
    assert np.array_equal(fc.conv2d(np.asfortranarray(x), w, stride=1, padding=1), y)


def test_conv2d_algo_argument_errors():
    x, w = np.ones((1, 5, 5, 2), np.float32), np.ones((3, 3, 2, 4), np.float32)
    with pytest.raises(ValueError, match="algo"):
        fc.conv2d(x, w, algo="nope")
    with pytest.raises(ValueError, match="algo"):
        fc.conv2d(x, w, algo="gemm1x1")  # 3x3: not applicable
    with pytest.raises(ValueError, match="algo"):
        fc._C.conv2d_forward(x, w, None, (1, 1), (0, 0, 0, 0), (1, 1), 1, False, None, "nope")
    with fc.use_backend("numpy"):  # other backends ignore the algorithm choice
        assert fc.conv2d(x, w, algo="direct").shape == (1, 3, 3, 4)


def test_conv2d_out_argument_and_float64_policy():
    rng = np.random.default_rng(3)
    x, w = arrays(rng, (2, 6, 6, 3), np.float64), arrays(rng, (3, 3, 3, 4), np.float64)
    y = fc.conv2d(x, w)
    assert y.dtype == np.float32  # cpu backend computes in float32
    out = np.empty((2, 4, 4, 4), np.float32)
    assert fc.conv2d(x, w, out=out) is out
    assert np.array_equal(out, y)
    with fc.use_backend("numpy"):
        assert fc.conv2d(x, w).dtype == np.float64  # numpy backend keeps float64


def test_conv2d_gil_released_threads_agree():
    # Two Python threads calling the kernel at once get the same results as one.
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(5)
    x, w = arrays(rng, (4, 20, 20, 8)), arrays(rng, (3, 3, 8, 16))
    expected = fc.conv2d(x, w, padding=1)
    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda _: fc.conv2d(x, w, padding=1), range(8)))
    for r in results:
        assert np.array_equal(r, expected)
