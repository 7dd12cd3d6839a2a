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


# ---------------------------------------------------------------- several arrays, one call

def _arrays(rng, sizes):
    return [_state(rng, n) for n in sizes]


def _per_array(states, scalars):
    """The per-parameter path: one fastconv.adam_update call per array."""
    for (w, g, m, v), kw in zip(states, scalars, strict=True):
        fc.adam_update(w, g, m, v, **kw)


def _multi(states, scalars):
    from fastconv.ops.optim import adam_update_multi

    cols = list(zip(*states, strict=True))
    adam_update_multi(*(list(c) for c in cols), [tuple(kw.values()) for kw in scalars])


def _copies(states):
    return [tuple(a.copy() for a in s) for s in states]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_adam_update_multi_same_bits_as_one_call_per_array(isa, rng, threads):
    fc.set_isa(isa)
    fc.set_num_threads(threads)
    sizes = [150, 6, 2400, 1, 70_001]  # the last over the kernel's serial threshold
    states = _arrays(rng, sizes)
    scalars = [_scalars(t, 1e-2, wd, dec) for t, wd, dec in
               [(1, 0.0, False), (3, 1e-2, False), (7, 1e-2, True), (1, 0.0, True), (2, 0, 0)]]
    a, b = _copies(states), _copies(states)
    _per_array(a, scalars)
    _multi(b, scalars)
    for x, y in zip(a, b, strict=True):
        for u, s in zip(x, y, strict=True):
            assert np.array_equal(u, s)


def test_adam_update_multi_numpy_backend_and_float64_run_per_array(rng):
    states = _arrays(rng, [5, 9])
    states64 = [tuple(a.astype(np.float64) for a in s) for s in states]
    scalars = [_scalars(2, 1e-3, 1e-2, False)] * 2
    for st_, backend in ((states, "numpy"), (states64, "cpu")):
        a, b = _copies(st_), _copies(st_)
        with fc.use_backend(backend):
            _multi(a, scalars)
        for (w, g, m, v), kw in zip(b, scalars, strict=True):
            ref.adam_update(w, g, m, v, **kw)
        for x, y in zip(a, b, strict=True):
            for u, s in zip(x, y, strict=True):
                assert np.array_equal(u, s)


def test_adam_update_multi_checks_every_array_before_updating_any(rng):
    from fastconv.ops.optim import adam_update_multi

    (w, g, m, v), (w2, g2, m2, v2) = _arrays(rng, [8, 6])
    sc = tuple(_scalars(1, 1e-3, 0.0, False).values())
    w0 = w.copy()
    with pytest.raises(ValueError, match=r"ms\[1\]: expected shape"):
        adam_update_multi([w, w2], [g, g2], [m, m2[:5].copy()], [v, v2], [sc, sc])
    with pytest.raises(TypeError, match=r"gs\[1\]: expected float32"):
        adam_update_multi([w, w2], [g, g2.astype(np.float64)], [m, m2], [v, v2], [sc, sc])
    with pytest.raises(TypeError, match=r"vs\[1\]: expected a numpy array"):
        adam_update_multi([w, w2], [g, g2], [m, m2], [v, list(v2)], [sc, sc])
    with pytest.raises(ValueError, match="distinct"):
        adam_update_multi([w, w2], [g, g2], [m, m2], [v, m2], [sc, sc])
    with pytest.raises(ValueError, match=r"scalars\[1\]: expected \(lr_t"):
        adam_update_multi([w, w2], [g, g2], [m, m2], [v, v2], [sc, sc[:3]])
    with pytest.raises(ValueError, match="same length"):
        adam_update_multi([w, w2], [g, g2], [m, m2], [v, v2], [sc])
    assert np.array_equal(w, w0)  # nothing was updated


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_optimizer_same_bits_as_per_parameter_updates(rng, decoupled):
    """Adam.step (one call for all parameters) against one fastconv.adam_update per
    parameter with the optimizer's scalars, over steps where a frozen parameter is unfrozen
    (its own step count) and a parameter without a gradient is skipped."""
    from fastconv.nn.parameter import Parameter

    shapes = [(5, 5, 1, 6), (6,), (400, 120), (10,)]
    ps = [Parameter(f"p{i}", rng.standard_normal(s).astype(np.float32))
          for i, s in enumerate(shapes)]
    mine = [p.value.copy() for p in ps]
    state = [(np.zeros_like(w), np.zeros_like(w)) for w in mine]
    ts = [0] * len(ps)
    lr, wd = 1e-2, 1e-2
    opt = Adam(lr=lr, weight_decay=wd, decoupled=decoupled)
    for step in range(4):
        ps[3].trainable = step >= 2
        for i, p in enumerate(ps):
            p.grad = None if (i == 1 and step == 1) else \
                rng.standard_normal(p.shape).astype(np.float32)
        for i, p in enumerate(ps):
            if p.grad is None or not p.trainable:
                continue
            ts[i] += 1
            fc.adam_update(mine[i], p.grad, *state[i], **_scalars(ts[i], lr, wd, decoupled))
        opt.step(ps)
        for p, w in zip(ps, mine, strict=True):
            assert np.array_equal(p.value, w)
