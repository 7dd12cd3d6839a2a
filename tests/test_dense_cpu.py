"""The C++ dense (fully connected) kernels against the reference, every ISA and thread count."""

import numpy as np
import pytest
from helpers import assert_close
from hypothesis import given
from hypothesis import strategies as st
from strategies import seeds

import fastconv as fc
from fastconv import reference as ref

# rows, in, out: tails of every tile (6 rows, 4 vectors; 4 x 4 dot tiles) and the packed path
shapes = st.tuples(st.integers(1, 20), st.integers(1, 300), st.integers(1, 150))


def _f64(*xs):
    return [None if x is None else np.asarray(x, np.float64) for x in xs]


@given(seed=seeds, shape=shapes, bias=..., relu=...)
def test_dense_forward_backward(isa, seed, shape, bias: bool, relu: bool):
    fc.set_isa(isa)
    n, c, k = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c), dtype=np.float32)
    w = rng.standard_normal((c, k), dtype=np.float32)
    b = rng.standard_normal(k, dtype=np.float32) if bias else None
    y = fc.dense(x, w, b, relu=relu)
    assert y.dtype == np.float32 and y.shape == (n, k)
    tol = 1e-6 * np.sqrt(c) * 4
    assert_close(y, ref.dense(*_f64(x, w, b), relu=relu), atol=tol, rtol=tol)
    dy = rng.standard_normal((n, k), dtype=np.float32)
    got = fc.dense_backward(dy, x, w)
    want = ref.dense_backward(*_f64(dy, x, w))
    for g, r, m in zip(got, want, (k, n, n), strict=True):
        t = 1e-6 * np.sqrt(m) * 4
        assert g.dtype == np.float32
        assert_close(g, r, atol=t, rtol=t)


# one thread below 4 M multiply-adds (the last three), several from there
@pytest.mark.parametrize("shape", [(1, 4096, 1100), (40, 500, 250), (1, 2048, 1000),
                                   (16, 700, 300), (33, 400, 120)])
def test_dense_bitwise_identical_across_threads(isa, shape):
    fc.set_isa(isa)
    n, c, k = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c), dtype=np.float32)
    w = rng.standard_normal((c, k), dtype=np.float32)
    b = rng.standard_normal(k, dtype=np.float32)
    dy = rng.standard_normal((n, k), dtype=np.float32)
    outs = []
    for t in (1, 2, 3):
        fc.set_num_threads(t)
        outs.append((fc.dense(x, w, b), *fc.dense_backward(dy, x, w)))
    for other in outs[1:]:
        for a, b_ in zip(outs[0], other, strict=True):
            assert np.array_equal(a, b_)


def test_dense_gradients_not_asked_are_none():
    x = np.ones((2, 3), np.float32)
    w = np.ones((3, 4), np.float32)
    dx, dw, db = fc.dense_backward(np.ones((2, 4), np.float32), x, w, need_dx=False,
                                   need_db=False)
    assert dx is None and db is None and dw.shape == (3, 4)
    assert np.array_equal(dw, np.full((3, 4), 2.0, np.float32))


def test_dense_kernel_rejects_bad_arrays():
    from fastconv import _C
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="x: expected 4 features"):
        _C.dense_forward(x, np.ones((4, 5), np.float32))
    with pytest.raises(TypeError, match="x"):
        _C.dense_forward(x.astype(np.float64), np.ones((3, 5), np.float32))
    with pytest.raises(ValueError, match="b"):
        _C.dense_forward(x, np.ones((3, 5), np.float32), np.ones(4, np.float32))
    with pytest.raises(ValueError, match="dy"):
        _C.dense_backward(np.ones((2, 4), np.float32), x, np.ones((3, 5), np.float32))
