"""The NumPy reference of every non-conv op against brute-force loops and finite differences."""

import brute
import numpy as np
import pytest
from helpers import assert_close, numerical_grad
from hypothesis import given
from hypothesis import strategies as st
from strategies import arrays, pool_cases, seeds, tie_arrays

import fastconv as fc
from fastconv import reference as ref

# ---------------------------------------------------------------- pooling


@given(case=pool_cases(max_c=4), seed=seeds, ties=..., f64=...)
def test_max_pool_matches_brute(case, seed, ties: bool, f64: bool):
    rng = np.random.default_rng(seed)
    dt = np.float64 if f64 else np.float32
    x = (tie_arrays if ties else arrays)(rng, case.x_shape, dt)
    g = case.geometry()
    y = ref.max_pool2d(x, *case.args)
    assert y.dtype == dt and y.shape == g.y_shape
    np.testing.assert_array_equal(y, brute.pool_forward(x, g.pool_size, g.stride, g.pads))
    dy = arrays(rng, g.y_shape, dt)
    dx = ref.max_pool2d_backward(dy, x, *case.args)
    assert dx.dtype == dt and dx.shape == x.shape
    assert_close(dx, brute.pool_backward(dy, x, g.pool_size, g.stride, g.pads), rtol=1e-6,
                 atol=1e-6)


@given(case=pool_cases(max_c=4), seed=seeds, include=..., f64=...)
def test_avg_pool_matches_brute(case, seed, include: bool, f64: bool):
    rng = np.random.default_rng(seed)
    dt = np.float64 if f64 else np.float32
    x = arrays(rng, case.x_shape, dt)
    g = case.geometry()
    y = ref.avg_pool2d(x, *case.args, count_include_pad=include)
    assert y.dtype == dt
    assert_close(y, brute.pool_forward(x, g.pool_size, g.stride, g.pads, "avg", include),
                 rtol=1e-5, atol=1e-6)
    dy = arrays(rng, g.y_shape, dt)
    dx = ref.avg_pool2d_backward(dy, x, *case.args, count_include_pad=include)
    assert dx.dtype == dt
    assert_close(dx, brute.pool_backward(dy, x, g.pool_size, g.stride, g.pads, "avg", include),
                 rtol=1e-5, atol=1e-6)


def _fd_check(f, x, analytic, tol=1e-6):
    num = numerical_grad(f, x)
    np.testing.assert_allclose(analytic, num, rtol=tol, atol=tol)


@pytest.mark.parametrize("args", [((2, 2), None, 0), ((3, 3), (2, 2), 1), ((3, 2), (1, 2), "same"),
                                  ((2, 3), (2, 1), ((1, 0), (0, 2)))])
def test_pool_backward_finite_differences(rng, args):
    x = rng.permutation(2 * 5 * 6 * 3).reshape(2, 5, 6, 3).astype(np.float64) / 7  # no ties
    y = ref.max_pool2d(x, *args)
    wts = rng.standard_normal(y.shape)
    _fd_check(lambda: float((wts * ref.max_pool2d(x, *args)).sum()), x,
              ref.max_pool2d_backward(wts, x, *args))
    for include in (False, True):
        _fd_check(lambda inc=include: float(
            (wts * ref.avg_pool2d(x, *args, count_include_pad=inc)).sum()), x,
            ref.avg_pool2d_backward(wts, x, *args, count_include_pad=include))
    wg = rng.standard_normal((2, 3))
    _fd_check(lambda: float((wg * ref.global_avg_pool2d(x)).sum()), x,
              ref.global_avg_pool2d_backward(wg, x))


def test_max_pool_ties_first_maximum_wins():
    x = np.zeros((1, 2, 2, 1), np.float32)  # all four cells tie
    dx = ref.max_pool2d_backward(np.ones((1, 1, 1, 1), np.float32), x, 2)
    assert dx[0, :, :, 0].tolist() == [[1, 0], [0, 0]]
    x = np.array([1, 3, 3, 2, 3], np.float32).reshape(1, 1, 5, 1)
    dx = ref.max_pool2d_backward(np.ones((1, 1, 3, 1), np.float32), x, (1, 3), 1)
    assert dx.ravel().tolist() == [0, 2, 1, 0, 0]  # windows [1,3,3] [3,3,2] [3,2,3]


def test_padding_never_wins_max_and_is_not_counted_in_avg():
    x = -np.ones((1, 2, 2, 1), np.float32)  # all negative: zero padding would win
    assert (ref.max_pool2d(x, 3, 1, 1) == -1).all()
    assert (ref.avg_pool2d(x, 3, 1, 1) == -1).all()
    np.testing.assert_allclose(ref.avg_pool2d(x, 3, 1, 1, count_include_pad=True), -4 / 9)
    dx = ref.max_pool2d_backward(np.ones((1, 2, 2, 1), np.float32), x, 3, 1, 1)
    assert dx.sum() == 4  # every window's gradient lands on a real cell


def test_same_pooling_inception_branch_keeps_size(rng):
    x = arrays(rng, (2, 7, 5, 3))
    for k, s in ((3, 1), (2, 2), (3, 2)):
        y = ref.max_pool2d(x, k, s, "same")
        assert y.shape == (2, -(-7 // s), -(-5 // s), 3)
        assert_close(y, brute.pool_forward(x, (k, k), (s, s),
                                           fc._args.padding4("same", (7, 5), (k, k), (s, s),
                                                             (1, 1))), atol=0)


def test_pool_n1_h1_w1(rng):
    x = arrays(rng, (1, 1, 1, 5))
    for fn in (ref.max_pool2d, ref.avg_pool2d):
        assert np.array_equal(fn(x, 1), x)
        assert np.array_equal(fn(x, 2, 2, "same"), x)
        assert np.array_equal(fn(x, 3, 1, 1), x)
    assert np.array_equal(ref.max_pool2d_backward(x, x, 3, 1, 1), x)
    assert np.array_equal(ref.global_avg_pool2d(x), x.reshape(1, 5))


def test_global_avg_pool(rng):
    x = arrays(rng, (2, 3, 4, 5), np.float64)
    assert_close(ref.global_avg_pool2d(x), brute.pool_forward(x, (3, 4), (1, 1),
                                                              ((0, 0), (0, 0)), "avg")[:, 0, 0])


# ---------------------------------------------------------------- batch norm


@given(seed=seeds, shape=st.sampled_from([(3, 4), (2, 3, 2, 5), (1, 1, 1, 3), (4, 2, 1, 1)]),
       f64=...)
def test_batch_norm_training_matches_brute(seed, shape, f64: bool):
    rng = np.random.default_rng(seed)
    dt = np.float64 if f64 else np.float32
    x = arrays(rng, shape, dt, 3.0) + dt(rng.uniform(-5, 5))
    c = shape[-1]
    gamma, beta = arrays(rng, (c,), dt) + 1, arrays(rng, (c,), dt)
    rm, rv = arrays(rng, (c,), np.float64), 1 + arrays(rng, (c,), np.float64) ** 2
    rm0, rv0 = rm.copy(), rv.copy()
    y, mean, invstd = ref.batch_norm(x, gamma, beta, rm, rv, training=True, momentum=0.9,
                                     eps=1e-3, return_stats=True)
    yb, mb, vb = brute.batch_norm_forward(x, gamma, beta, 1e-3)
    assert y.dtype == dt and mean.dtype == dt and invstd.dtype == dt
    tol = 1e-12 if f64 else 2e-6
    assert_close(y, yb, rtol=tol, atol=tol)
    assert_close(mean, mb, rtol=tol, atol=tol)
    assert_close(invstd, 1 / np.sqrt(vb + 1e-3), rtol=tol, atol=tol)
    assert_close(rm, 0.9 * rm0 + 0.1 * mb, rtol=1e-12, atol=1e-12)
    assert_close(rv, 0.9 * rv0 + 0.1 * vb, rtol=1e-12, atol=1e-12)
    yr = ref.batch_norm(x, gamma, beta, training=True, relu=True)
    assert_close(yr, np.maximum(yb, 0), rtol=tol, atol=tol)


def test_batch_norm_inference_equals_training_with_matching_stats(rng):
    x = arrays(rng, (3, 4, 5, 6), np.float64)
    gamma, beta = arrays(rng, (6,), np.float64), arrays(rng, (6,), np.float64)
    rm, rv = np.zeros(6), np.ones(6)
    y_train, mean, invstd = ref.batch_norm(x, gamma, beta, rm, rv, training=True, momentum=0.0,
                                           return_stats=True)
    y_inf, m2, i2 = ref.batch_norm(x, gamma, beta, rm, rv, training=False, return_stats=True)
    assert_close(y_inf, y_train, rtol=1e-12, atol=1e-12)
    assert_close(m2, mean, rtol=0, atol=0)
    assert_close(i2, invstd, rtol=1e-15, atol=0)
    # inference leaves the running statistics alone
    rm_copy = rm.copy()
    ref.batch_norm(x, gamma, beta, rm, rv)
    assert np.array_equal(rm, rm_copy)
    with pytest.raises(ValueError, match="running_mean"):
        ref.batch_norm(x, gamma, beta)


def test_batch_norm_large_mean_stays_accurate(rng):
    x = (1e4 + rng.standard_normal((8, 16, 16, 4))).astype(np.float32)
    ones, zeros = np.ones(4, np.float32), np.zeros(4, np.float32)
    y, mean, invstd = ref.batch_norm(x, ones, zeros, training=True, eps=1e-5,
                                     return_stats=True)
    x64 = x.astype(np.float64)
    m64 = x64.mean(axis=(0, 1, 2))
    v64 = x64.var(axis=(0, 1, 2))
    assert_close(mean, m64, rtol=1e-7, atol=0)
    assert_close(invstd, 1 / np.sqrt(v64 + 1e-5), rtol=1e-6, atol=0)
    assert_close(y, (x64 - m64) / np.sqrt(v64 + 1e-5), rtol=0, atol=1e-5)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 3)])
@pytest.mark.parametrize("training, relu", [(True, False), (True, True), (False, False),
                                            (False, True)])
def test_batch_norm_backward_finite_differences(rng, shape, training, relu):
    x = rng.standard_normal(shape)
    c = shape[-1]
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)
    rm, rv = rng.standard_normal(c), rng.uniform(0.5, 2, c)
    wts = rng.standard_normal(shape)

    def f():
        return float((wts * ref.batch_norm(x, gamma, beta, rm, rv, training=training,
                                            relu=relu)).sum())

    y, mean, invstd = ref.batch_norm(x, gamma, beta, rm.copy(), rv.copy(), training=training,
                                     relu=relu, return_stats=True)
    dx, dgamma, dbeta = ref.batch_norm_backward(wts, x, gamma, mean, invstd, training=training,
                                                y=y if relu else None)
    rm0, rv0 = rm.copy(), rv.copy()

    def f_restoring():
        v = f()
        rm[...], rv[...] = rm0, rv0  # training updates the running stats: undo
        return v

    _fd_check(f_restoring, x, dx, 1e-5)
    _fd_check(f_restoring, gamma, dgamma, 1e-5)
    _fd_check(f_restoring, beta, dbeta, 1e-5)


def test_fold_batch_norm_conv_and_dense(rng):
    x = arrays(rng, (2, 6, 6, 3), np.float64)
    w, b = arrays(rng, (3, 3, 3, 5), np.float64), arrays(rng, (5,), np.float64)
    gamma, beta = arrays(rng, (5,), np.float64), arrays(rng, (5,), np.float64)
    mean, var = arrays(rng, (5,), np.float64), rng.uniform(0.1, 2, 5)
    for bias in (b, None):
        wf, bf = ref.fold_batch_norm(w, bias, gamma, beta, mean, var, eps=1e-3)
        expect = ref.batch_norm(ref.conv2d(x, w, bias, padding=1), gamma, beta, mean, var,
                                eps=1e-3)
        assert_close(ref.conv2d(x, wf, bf, padding=1), expect, rtol=1e-12, atol=1e-12)
    xd, wd = arrays(rng, (4, 7), np.float64), arrays(rng, (7, 5), np.float64)
    wf, bf = ref.fold_batch_norm(wd, b, gamma, beta, mean, var)
    assert_close(ref.dense(xd, wf, bf), ref.batch_norm(ref.dense(xd, wd, b), gamma, beta, mean,
                                                       var), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- element-wise, loss, dense


def test_relu_add_concat(rng):
    a, b = arrays(rng, (2, 3, 3, 4), np.float64), arrays(rng, (2, 3, 3, 4), np.float64)
    y = ref.relu(a)
    assert np.array_equal(y, np.where(a > 0, a, 0))
    dy = arrays(rng, a.shape, np.float64)
    assert np.array_equal(ref.relu_backward(dy, y), np.where(a > 0, dy, 0))
    s = ref.add(a, b, relu=True)
    assert np.array_equal(s, np.maximum(a + b, 0))
    da, db = ref.add_backward(dy, s)
    assert np.array_equal(da, np.where(a + b > 0, dy, 0)) and np.array_equal(db, da)
    da, db = ref.add_backward(dy)
    assert np.array_equal(da, dy) and np.array_equal(db, dy)
    xs = [arrays(rng, (2, 3, 3, c)) for c in (1, 4, 2)]
    y = ref.concat(xs)
    for i in range(2):
        for c in range(7):
            src, cc = (0, c) if c < 1 else (1, c - 1) if c < 5 else (2, c - 5)
            assert np.array_equal(y[i, ..., c], xs[src][i, ..., cc])
    parts = ref.concat_backward(y, [1, 4, 2])
    assert all(np.array_equal(p, x) for p, x in zip(parts, xs, strict=True))


@given(seed=seeds, n=st.integers(1, 4), k=st.integers(1, 6), shift=st.sampled_from([0, 1e4]))
def test_softmax_cross_entropy_matches_brute(seed, n, k, shift):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, k)) * 3 + shift
    labels = rng.integers(0, k, n)
    onehot = np.eye(k)[labels]
    probs = rng.dirichlet(np.ones(k), n)
    for t in (labels, onehot):
        assert np.isclose(ref.softmax_cross_entropy(z, t), brute.softmax_cross_entropy(z, onehot),
                          rtol=1e-12, atol=1e-9)
    assert np.isclose(ref.softmax_cross_entropy(z, probs), brute.softmax_cross_entropy(z, probs),
                      rtol=1e-12, atol=1e-9)
    p = ref.softmax(z)
    assert np.isfinite(p).all() and np.allclose(p.sum(-1), 1)
    assert_close(ref.softmax_cross_entropy_backward(z, labels), (p - onehot) / n, atol=1e-12)
    z32 = z.astype(np.float32)
    assert ref.softmax_cross_entropy_backward(z32, labels).dtype == np.float32
    assert np.isfinite(ref.softmax_cross_entropy(z32, labels))


def test_softmax_cross_entropy_finite_differences(rng):
    z = rng.standard_normal((3, 5))
    for t in (np.array([0, 4, 2]), rng.dirichlet(np.ones(5), 3)):
        _fd_check(lambda t=t: ref.softmax_cross_entropy(z, t), z,
                  ref.softmax_cross_entropy_backward(z, t))


def test_dense_matches_brute_and_finite_differences(rng):
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    assert_close(ref.dense(x, w, b), brute.dense_forward(x, w, b), atol=1e-12)
    assert_close(ref.dense(x, w, b, relu=True), np.maximum(brute.dense_forward(x, w, b), 0),
                 atol=1e-12)
    wts = rng.standard_normal((3, 5))
    dx, dw, db = ref.dense_backward(wts, x, w)
    f = lambda: float((wts * ref.dense(x, w, b)).sum())  # noqa: E731
    _fd_check(f, x, dx)
    _fd_check(f, w, dw)
    _fd_check(f, b, db)
    assert ref.dense_backward(wts, x, w, need_dx=False, need_dw=False, need_db=False) == (
        None, None, None)
