"""The C++ conv2d against the reference, under every ISA this machine supports."""

import numpy as np
import pytest
from helpers import assert_close
from hypothesis import given
from strategies import arrays, conv_cases, seeds

import fastconv as fc


@given(case=conv_cases(), seed=seeds, relu=..., with_bias=...)
def test_conv2d_forward_matches_reference(isa, case, seed, relu: bool, with_bias: bool):
    fc.set_isa(isa)
    rng = np.random.default_rng(seed)
    x = arrays(rng, case.x_shape)
    w = arrays(rng, case.w_shape)
    b = arrays(rng, (case.K,)) if with_bias else None
    y = fc.conv2d(x, w, b, relu=relu, **case.kwargs)
    ref = fc.reference.conv2d(x.astype(np.float64), w.astype(np.float64), b, relu=relu,
                              **case.kwargs)
    assert y.dtype == np.float32 and y.shape == case.geometry().y_shape
    assert_close(y, ref, rtol=1e-5, atol=1e-5 * (case.R * case.S * case.C) ** 0.5)


@pytest.mark.parametrize("shape", [(3, 17, 13, 8, 24, 3, 3, 2, 1), (1, 28, 28, 16, 32, 5, 5, 1, 2),
                                   (2, 30, 30, 3, 16, 7, 7, 2, 3)])
def test_conv2d_bitwise_identical_across_threads(isa, shape):
    fc.set_isa(isa)
    n, h, w_, c, k, r, s, stride, pad = shape
    rng = np.random.default_rng(7)
    x, w = arrays(rng, (n, h, w_, c)), arrays(rng, (r, s, c, k))
    b = arrays(rng, (k,))
    outs = []
    for t in (1, 2, 3):
        fc.set_num_threads(t)
        outs.append(fc.conv2d(x, w, b, stride=stride, padding=pad))
    for o in outs[1:]:
        assert np.array_equal(o, outs[0])


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
