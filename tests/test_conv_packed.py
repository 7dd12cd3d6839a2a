"""Prepacked forward weights (fastconv.PackedConv2d, _C.conv2d_pack): the same bits as conv2d."""

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import arrays, conv_cases, seeds
from test_conv_cpu import VARIANTS, applicable, variant_cases

import fastconv as fc
from fastconv import _C, models
from fastconv.nn import parameter

PACKABLE = ["direct", "gemm1x1", "winograd", "winograd5"]


def geometry_args(case):
    g = case.geometry()
    (t, bo), (le, ri) = g.pads
    return g.stride, (t, bo, le, ri), g.dilation, g.groups


def test_which_variants_pack():
    x, w = np.zeros((1, 8, 8, 8), np.float32), np.zeros((3, 3, 1, 8), np.float32)
    # depthwise, c1 and naive read the HWIO weights as they are: nothing to pack
    assert _C.conv2d_pack(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1), 8, "depthwise")[2] is None
    assert set(PACKABLE) <= set(VARIANTS)


@pytest.mark.parametrize("algo", PACKABLE)
@given(data=st.data(), seed=seeds, relu=..., with_bias=...)
def test_packed_variant_is_bitwise_the_variant(isa, algo, data, seed, relu: bool, with_bias: bool):
    fc.set_isa(isa)
    case = data.draw(variant_cases(algo))
    assert algo in applicable(case)[0]
    rng = np.random.default_rng(seed)
    x, w = arrays(rng, case.x_shape), arrays(rng, case.w_shape)
    b = arrays(rng, (case.K,)) if with_bias else None
    args = geometry_args(case)
    name, made_for, packed = _C.conv2d_pack(x, w, b, *args, algo)
    assert (name, made_for) == (algo, isa)
    assert packed.dtype == np.float32 and packed.ndim == 1
    y = _C.conv2d_forward_packed(x, w, packed, *args, relu, None, algo, isa)
    assert np.array_equal(y, _C.conv2d_forward(x, w, b, *args, relu, None, algo))


@given(case=conv_cases(max_hw=14, max_c=12, max_k=40), seed=seeds, relu=..., with_bias=...)
def test_packed_conv2d_is_bitwise_conv2d(isa, case, seed, relu: bool, with_bias: bool):
    fc.set_isa(isa)
    rng = np.random.default_rng(seed)
    x, w = arrays(rng, case.x_shape), arrays(rng, case.w_shape)
    b = arrays(rng, (case.K,)) if with_bias else None
    pc = fc.PackedConv2d(w, b, **case.kwargs)
    for _ in range(2):  # packs on the first call, reuses on the second
        assert np.array_equal(pc(x, relu=relu), fc.conv2d(x, w, b, relu=relu, **case.kwargs))


def test_packs_once_per_algorithm_and_isa(rng):
    w, b = arrays(rng, (3, 3, 16, 32)), arrays(rng, (32,))
    pc = fc.PackedConv2d(w, b, padding=1)
    big, small = arrays(rng, (2, 28, 28, 16)), arrays(rng, (1, 7, 7, 16))
    pc(big)
    assert [k[0] for k in pc._packs] == ["winograd"] and pc.packed_bytes > 0
    first = pc._packs[("winograd", fc.get_isa())]
    pc(big)
    assert pc._packs[("winograd", fc.get_isa())] is first  # reused, not repacked
    pc(small)  # 7x7: 'auto' runs direct, a second pack
    assert sorted(k[0] for k in pc._packs) == ["direct", "winograd"]
    os.environ["FASTCONV_WINOGRAD"] = "0"
    try:
        assert np.array_equal(pc(big), fc.conv2d(big, w, b, padding=1))
        assert fc.conv2d(big, w, b, padding=1, algo="direct").tobytes() == pc(big).tobytes()
    finally:
        del os.environ["FASTCONV_WINOGRAD"]
    for isa in fc.supported_isas():  # each ISA packs its own layout
        fc.set_isa(isa)
        assert np.array_equal(pc(small), fc.conv2d(small, w, b, padding=1))
    assert {k[1] for k in pc._packs} == set(fc.supported_isas())


def test_snapshot_and_inputs(rng):
    w = arrays(rng, (1, 1, 24, 40))
    x = arrays(rng, (2, 5, 6, 24))
    pc = fc.PackedConv2d(w)
    y0 = fc.conv2d(x, w)
    w[...] = 0  # the caller's array changes; the snapshot does not
    assert np.array_equal(pc(x), y0)
    with pytest.raises(ValueError):
        pc.w[0, 0, 0, 0] = 1.0  # read-only
    assert np.array_equal(pc(x.astype(np.float64)), y0)  # converted like conv2d's inputs
    assert np.array_equal(pc(np.asfortranarray(x)), y0)
    out = np.empty_like(y0)
    assert pc(x, out=out) is out and np.array_equal(out, y0)
    with fc.use_backend("numpy"):
        ref = pc(x.astype(np.float64))
    np.testing.assert_allclose(ref, y0, rtol=1e-5, atol=1e-5)
    assert "PackedConv2d" in repr(pc)
    mine = arrays(rng, (1, 1, 24, 40))
    shared = fc.PackedConv2d(mine, copy=False)  # no copy: a read-only view of the array
    assert np.shares_memory(shared.w, mine) and mine.flags.writeable


def test_bad_arguments(rng):
    w = arrays(rng, (3, 3, 4, 8))
    pc = fc.PackedConv2d(w, padding="same")
    with pytest.raises(ValueError, match="x"):
        pc(np.zeros((1, 5, 5, 3), np.float32))  # 3 channels, w wants 4
    with pytest.raises(ValueError, match="x"):
        pc(np.zeros((5, 5, 4), np.float32))
    with pytest.raises(ValueError, match="out"):
        pc(np.zeros((1, 5, 5, 4), np.float32), out=np.zeros((1, 5, 5, 7), np.float32))
    with pytest.raises(TypeError, match="out"):
        pc(np.zeros((1, 5, 5, 4), np.float32), out=np.zeros((1, 5, 5, 8), np.float64))
    with pytest.raises(ValueError, match="w"):
        fc.PackedConv2d(np.zeros((3, 3, 4), np.float32))
    with pytest.raises(ValueError, match="b"):
        fc.PackedConv2d(w, np.zeros(7, np.float32))
    # the hyper-parameters are judged at construction, not at the first call
    for kw, err, what in [(dict(stride=0), ValueError, "stride"),
                          (dict(padding="bogus"), ValueError, "padding"),
                          (dict(padding=-1), ValueError, "padding"),
                          (dict(dilation=(1, 0)), ValueError, "dilation"),
                          (dict(groups=3), ValueError, "groups"),
                          (dict(groups=0), TypeError, "groups"),
                          (dict(groups=True), TypeError, "groups")]:
        with pytest.raises(err, match=what):
            fc.PackedConv2d(w, **kw)
    x = np.zeros((1, 5, 5, 4), np.float32)
    args = ((1, 1), (1, 1, 1, 1), (1, 1), 1)
    name, isa, packed = _C.conv2d_pack(x, w, None, *args, "direct")
    with pytest.raises(ValueError, match="packed"):
        _C.conv2d_forward_packed(x, w, packed[:-1], *args, False, None, name, isa)
    with pytest.raises(TypeError, match="packed"):
        _C.conv2d_forward_packed(x, w, packed.astype(np.float64), *args, False, None, name, isa)
    other = "generic" if isa != "generic" else "avx2"
    with pytest.raises(ValueError, match="ISA"):
        _C.conv2d_forward_packed(x, w, packed, *args, False, None, name, other)
    with pytest.raises(ValueError, match="algo"):
        _C.conv2d_pack(x, w, None, *args, "gemm1x1")  # a 3x3 layer
    with pytest.raises(ValueError, match="algo"):
        _C.conv2d_forward_packed(x, w, packed, *args, False, None, "auto", isa)


def test_model_inference_packs_folded_weights_once():
    parameter.set_seed(3)
    model = models.resnet18(input_shape=(32, 32, 3), num_classes=10)
    x = np.random.default_rng(0).standard_normal((2, 32, 32, 3), dtype=np.float32)
    y = model(x)
    plan = model._plans[(False, True)]
    packs = [s.folded for s in plan.folded_steps]
    assert packs and all(isinstance(p, fc.PackedConv2d) and p.packed_bytes for p in packs)
    assert np.array_equal(model(x), y)
    assert [s.folded for s in plan.folded_steps] == packs  # the same objects: no repack
    model.fuse = False  # every layer as written: conv, then BN
    np.testing.assert_allclose(model(x), y, rtol=1e-4, atol=1e-4)
    model.fuse = True
    model.invalidate_inference_cache()  # weights may have changed: fold and pack again
    assert np.array_equal(model(x), y)
    assert all(a is not b for a, b in zip(packs, [s.folded for s in plan.folded_steps],
                                          strict=True))
