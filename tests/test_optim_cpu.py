"""The fused Adam step (fastconv.adam_update) against the NumPy formula, every ISA."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import seeds

import fastconv as fc
from fastconv import reference as ref
from fastconv.train.optimizers import Adam


def _state(rng, n):
    w = rng.standard_normal(n).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    m = (0.1 * rng.standard_normal(n)).astype(np.float32)
    v = np.abs(0.1 * rng.standard_normal(n)).astype(np.float32)
    return w, g, m, v


def _scalars(t: int, lr: float, wd: float, decoupled: bool) -> dict:
    return dict(lr_t=lr / (1 - 0.9 ** t), b1=0.9, b2=0.999, c2=1 / math.sqrt(1 - 0.999 ** t),
                eps=1e-7, l2=0.0 if decoupled else wd, decay=lr * wd if decoupled else 0.0)


@given(n=st.integers(1, 300), seed=seeds, t=st.integers(1, 50), wd=st.sampled_from([0, 1e-2]),
       decoupled=...)
def test_adam_update_matches_numpy(isa, n, seed, t, wd, decoupled: bool):
    fc.set_isa(isa)
    rng = np.random.default_rng(seed)
    w, g, m, v = _state(rng, n)
    kw = _scalars(t, 1e-2, wd, decoupled)
    # the formula in float64, from the same float32 starting point
    w64, g64, m64, v64 = (a.astype(np.float64) for a in (w, g, m, v))
    ref.adam_update(w64, g64, m64, v64, **kw)
    fc.adam_update(w, g, m, v, **kw)
    np.testing.assert_allclose(m, m64, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(v, v64, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(w, w64, rtol=1e-5, atol=1e-6)


def test_adam_update_numpy_backend_runs_the_reference(rng):
    w, g, m, v = _state(rng, 50)
    a = [x.copy() for x in (w, g, m, v)]
    kw = _scalars(3, 1e-3, 0.0, False)
    with fc.use_backend("numpy"):
        fc.adam_update(*a, **kw)
    b = [x.copy() for x in (w, g, m, v)]
    ref.adam_update(*b, **kw)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)


def test_adam_update_same_bits_at_any_thread_count(rng):
    w, g, m, v = _state(rng, 200_003)  # several blocks, over the serial threshold
    kw = _scalars(2, 1e-3, 1e-2, True)
    outs = []
    for threads in (1, 2, 3):
        fc.set_num_threads(threads)
        a = [x.copy() for x in (w, g, m, v)]
        fc.adam_update(*a, **kw)
        outs.append(a)
    for o in outs[1:]:
        for x, y in zip(o, outs[0], strict=True):
            assert np.array_equal(x, y)


def test_adam_update_validates(rng):
    w, g, m, v = _state(rng, 6)
    kw = _scalars(1, 1e-3, 0.0, False)
    with pytest.raises(TypeError, match="g: expected float32"):
        fc.adam_update(w, g.astype(np.float64), m, v, **kw)
    with pytest.raises(ValueError, match="m: expected shape"):
        fc.adam_update(w, g, m[:5].copy(), v, **kw)
    with pytest.raises(ValueError, match="distinct"):
        fc.adam_update(w, g, m, m, **kw)
    with pytest.raises(ValueError, match="v: must be C-contiguous"):
        fc.adam_update(w, g, m, np.zeros((6, 2), np.float32)[:, 0], **kw)
    ro = v.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="v: array is read-only"):
        fc.adam_update(w, g, m, ro, **kw)
    with pytest.raises(TypeError, match="w: expected a float array"):
        fc.adam_update(w.astype(np.int32), g, m, v, **kw)


def test_adam_optimizer_steps_match_the_textbook_formula(rng):
    """Three steps of the Adam optimizer (fused kernel) against the bias-corrected formula
    computed by hand in float64, with coupled L2 weight decay."""
    from fastconv.nn.parameter import Parameter

    w0 = rng.standard_normal((4, 5)).astype(np.float32)
    p = Parameter("w", w0.copy())
    opt = Adam(lr=0.01, weight_decay=0.1)
    w, m, v = w0.astype(np.float64), 0.0, 0.0
    for t in range(1, 4):
        g = rng.standard_normal((4, 5)).astype(np.float32)
        p.grad = g
        opt.step([p])
        gg = g + 0.1 * w
        m = 0.9 * m + 0.1 * gg
        v = 0.999 * v + 0.001 * gg * gg
        w = w - 0.01 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-7)
    np.testing.assert_allclose(p.value, w, rtol=1e-5, atol=1e-6)
