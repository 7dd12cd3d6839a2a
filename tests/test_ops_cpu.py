"""The C++ pooling, batch-norm and element-wise kernels against the reference, every ISA."""

import numpy as np
import pytest
from helpers import assert_close
from hypothesis import given
from hypothesis import strategies as st
from strategies import arrays, pool_cases, seeds, tie_arrays

import fastconv as fc
from fastconv import reference as ref


def f64(*xs):
    return [None if x is None else np.asarray(x, np.float64) for x in xs]


# ---------------------------------------------------------------- pooling


@given(case=pool_cases(), seed=seeds, ties=...)
def test_max_pool_forward_backward(isa, case, seed, ties: bool):
    fc.set_isa(isa)
    rng = np.random.default_rng(seed)
    x = (tie_arrays if ties else arrays)(rng, case.x_shape)
    y = fc.max_pool2d(x, *case.args)
    assert y.dtype == np.float32 and y.shape == case.geometry().y_shape
    assert np.array_equal(y, ref.max_pool2d(x, *case.args))  # a max is exact
    dy = arrays(rng, y.shape)
    dx = fc.max_pool2d_backward(dy, x, *case.args)
    assert_close(dx, ref.max_pool2d_backward(*f64(dy, x), *case.args), rtol=1e-6, atol=1e-6)


@given(case=pool_cases(), seed=seeds, include=...)
def test_avg_pool_forward_backward(isa, case, seed, include: bool):
    fc.set_isa(isa)
    rng = np.random.default_rng(seed)
    x = arrays(rng, case.x_shape)
    y = fc.avg_pool2d(x, *case.args, count_include_pad=include)
    assert_close(y, ref.avg_pool2d(*f64(x), *case.args, count_include_pad=include),
                 rtol=1e-5, atol=1e-6)
    dy = arrays(rng, y.shape)
    dx = fc.avg_pool2d_backward(dy, x, *case.args, count_include_pad=include)
    assert_close(dx, ref.avg_pool2d_backward(*f64(dy, x), *case.args,
                                             count_include_pad=include), rtol=1e-5, atol=1e-6)


@given(n=st.integers(1, 2), h=st.integers(2, 9), w=st.integers(2, 9), c=st.integers(1, 17),
       padding=st.sampled_from([0, "valid"]), include=..., seed=seeds)
def test_avg_pool_2x2_stride_2(isa, n, h, w, c, padding, include: bool, seed: int):
    """LeNet's pools (whole 2x2 windows, few channels: their own path), odd sizes included."""
    fc.set_isa(isa)
    x = arrays(np.random.default_rng(seed), (n, h, w, c))
    y = fc.avg_pool2d(x, 2, 2, padding, count_include_pad=include)
    assert y.shape == (n, h // 2, w // 2, c)
    assert_close(y, ref.avg_pool2d(*f64(x), 2, 2, padding, count_include_pad=include),
                 rtol=1e-6, atol=1e-7)
    dy, t = arrays(np.random.default_rng(seed + 1), y.shape), np.tanh(x)
    for through in (False, True):
        dx = fc.avg_pool2d_backward(dy, t, 2, 2, padding, count_include_pad=include,
                                    through_tanh=through)
        assert_close(dx, ref.avg_pool2d_backward(*f64(dy, t), 2, 2, padding,
                                                 count_include_pad=include, through_tanh=through),
                     rtol=1e-6, atol=1e-7)


@given(case=pool_cases(max_c=40), seed=seeds, include=...)
def test_avg_pool_backward_through_tanh(isa, case, seed, include: bool):
    fc.set_isa(isa)
    rng = np.random.default_rng(seed)
    x = np.tanh(arrays(rng, case.x_shape, scale=2.0))  # the pooled input is a tanh output
    dy = arrays(rng, case.geometry().y_shape)
    kw = dict(count_include_pad=include)
    dx = fc.avg_pool2d_backward(dy, x, *case.args, through_tanh=True, **kw)
    # the fused pass does tanh_backward's arithmetic on the plain backward's values
    assert np.array_equal(dx, fc.tanh_backward(fc.avg_pool2d_backward(dy, x, *case.args, **kw),
                                               x))
    assert_close(dx, ref.avg_pool2d_backward(*f64(dy, x), *case.args, through_tanh=True, **kw),
                 rtol=1e-5, atol=1e-6)


@given(seed=seeds, n=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
       c=st.integers(1, 70))
def test_global_avg_pool(isa, seed, n, h, w, c):
    fc.set_isa(isa)
    rng = np.random.default_rng(seed)
    x = arrays(rng, (n, h, w, c))
    assert_close(fc.global_avg_pool2d(x), ref.global_avg_pool2d(*f64(x)), rtol=1e-5, atol=1e-6)
    dy = arrays(rng, (n, c))
    assert_close(fc.global_avg_pool2d_backward(dy, x),
                 ref.global_avg_pool2d_backward(*f64(dy, x)), rtol=1e-6, atol=1e-7)


def test_pool_n1_h1_w1_and_same(isa, rng):
    fc.set_isa(isa)
    x = arrays(rng, (1, 1, 1, 67))
    for args in ((1,), (2, 2, "same"), (3, 1, 1), (3, 1, "same")):
        assert np.array_equal(fc.max_pool2d(x, *args), x)
        assert np.array_equal(fc.avg_pool2d(x, *args), x)
        assert np.array_equal(fc.max_pool2d_backward(x, x, *args), x)
        assert_close(fc.avg_pool2d_backward(x, x, *args), x, rtol=1e-7, atol=0)
    x = arrays(rng, (2, 7, 5, 67))  # Inception's 3x3 stride-1 'same' pooling branch
    y = fc.max_pool2d(x, 3, 1, "same")
    assert y.shape == x.shape and np.array_equal(y, ref.max_pool2d(x, 3, 1, "same"))


def test_max_pool_ties_and_padding(isa):
    fc.set_isa(isa)
    x = np.zeros((1, 4, 4, 19), np.float32)
    dy = np.ones((1, 2, 2, 19), np.float32)
    assert np.array_equal(fc.max_pool2d_backward(dy, x, 2), ref.max_pool2d_backward(dy, x, 2))
    x = -np.ones((1, 3, 3, 19), np.float32)
    assert (fc.max_pool2d(x, 3, 2, 1) == -1).all()
    dx = fc.max_pool2d_backward(np.ones((1, 2, 2, 19), np.float32), x, 3, 2, 1)
    assert np.array_equal(dx, ref.max_pool2d_backward(np.ones((1, 2, 2, 19), np.float32), x, 3,
                                                      2, 1))


# ---------------------------------------------------------------- batch norm

bn_shapes = st.sampled_from([(5, 3), (300, 17), (2, 3, 4, 1), (2, 5, 3, 19), (1, 1, 1, 67),
                             (3, 20, 20, 7), (2, 9, 9, 70), (2, 8, 9, 128)])


@given(seed=seeds, shape=bn_shapes, relu=..., shift=st.sampled_from([0.0, 3.0, 1e4]))
def test_batch_norm_training_forward(isa, seed, shape, relu: bool, shift: float):
    fc.set_isa(isa)
    rng = np.random.default_rng(seed)
    x = (arrays(rng, shape, np.float64, 2.0) + shift).astype(np.float32)
    c = shape[-1]
    gamma, beta = arrays(rng, (c,)) + 1, arrays(rng, (c,))
    rm, rv = arrays(rng, (c,)), 1 + arrays(rng, (c,)) ** 2
    rm_ref, rv_ref = rm.astype(np.float64), rv.astype(np.float64)
    y, mean, invstd = fc.batch_norm(x, gamma, beta, rm, rv, training=True, momentum=0.9,
                                    relu=relu, return_stats=True)
    y_r, mean_r, inv_r = ref.batch_norm(*f64(x, gamma, beta), rm_ref, rv_ref, training=True,
                                        momentum=0.9, relu=relu, return_stats=True)
    assert y.dtype == mean.dtype == invstd.dtype == np.float32
    assert_close(mean, mean_r, rtol=1e-7, atol=1e-6)
    assert_close(invstd, inv_r, rtol=1e-5, atol=0)
    assert_close(y, y_r, rtol=1e-5, atol=2e-5)
    assert_close(rm, rm_ref, rtol=1e-6, atol=1e-6)
    assert_close(rv, rv_ref, rtol=1e-5, atol=1e-6)


@given(seed=seeds, shape=bn_shapes, relu=...)
def test_batch_norm_inference_forward(isa, seed, shape, relu: bool):
    fc.set_isa(isa)
    rng = np.random.default_rng(seed)
    x = arrays(rng, shape, scale=3.0)
    c = shape[-1]
    gamma, beta, rm = arrays(rng, (c,)), arrays(rng, (c,)), arrays(rng, (c,))
    rv = rng.uniform(0.1, 3, c).astype(np.float32)
    y, m, inv = fc.batch_norm(x, gamma, beta, rm, rv, relu=relu, return_stats=True)
    y_r, m_r, inv_r = ref.batch_norm(*f64(x, gamma, beta, rm, rv), relu=relu, return_stats=True)
    assert_close(y, y_r, rtol=1e-5, atol=1e-5)
    assert np.array_equal(m, rm) and m is not rm
    assert_close(inv, inv_r, rtol=1e-7, atol=0)


@given(seed=seeds, shape=bn_shapes, relu=..., training=...)
def test_batch_norm_residual(isa, seed, shape, relu: bool, training: bool):
    # residual= is added before the ReLU in the same pass: the same bits as batch_norm then add
    fc.set_isa(isa)
    rng = np.random.default_rng(seed)
    x, z = arrays(rng, shape, scale=3.0), arrays(rng, shape)
    c = shape[-1]
    gamma, beta, rm = arrays(rng, (c,)), arrays(rng, (c,)), arrays(rng, (c,))
    rv = rng.uniform(0.1, 3, c).astype(np.float32)
    kw = dict(training=training, momentum=1.0)  # momentum 1: the running stats stay put
    y = fc.batch_norm(x, gamma, beta, rm, rv, relu=relu, residual=z, **kw)
    y_r = ref.batch_norm(*f64(x, gamma, beta, rm, rv), relu=relu, residual=z.astype(np.float64),
                         **kw)
    assert_close(y, y_r, rtol=1e-5, atol=2e-5)
    assert np.array_equal(y, fc.add(fc.batch_norm(x, gamma, beta, rm, rv, **kw), z, relu=relu))


def test_batch_norm_inference_equals_training_with_its_stats(isa, rng):
    fc.set_isa(isa)
    x = arrays(rng, (4, 10, 10, 19), scale=3.0) + 5
    gamma, beta = arrays(rng, (19,)), arrays(rng, (19,))
    rm, rv = np.zeros(19, np.float32), np.ones(19, np.float32)
    y_t = fc.batch_norm(x, gamma, beta, rm, rv, training=True, momentum=0.0)
    y_i = fc.batch_norm(x, gamma, beta, rm, rv, training=False)
    assert_close(y_i, y_t, rtol=1e-5, atol=1e-5)


@given(seed=seeds, shape=bn_shapes, training=..., fused=..., shift=st.sampled_from([0.0, 1e4]))
def test_batch_norm_backward(isa, seed, shape, training: bool, fused: bool, shift: float):
    fc.set_isa(isa)
    rng = np.random.default_rng(seed)
    x = (arrays(rng, shape, np.float64) + shift).astype(np.float32)
    c = shape[-1]
    gamma, beta = arrays(rng, (c,)) + 1, arrays(rng, (c,))
    _, mean, invstd = fc.batch_norm(x, gamma, beta, training=True, return_stats=True)
    y = fc.batch_norm(x, gamma, beta, mean, 1 / invstd.astype(np.float64) ** 2 - 1e-3,
                      relu=True) if fused else None
    dy = arrays(rng, shape)
    dx, dg, db = fc.batch_norm_backward(dy, x, gamma, mean, invstd, training=training, y=y)
    dx_r, dg_r, db_r = ref.batch_norm_backward(*f64(dy, x, gamma, mean, invstd),
                                               training=training, y=y)
    m = x.size // c
    assert_close(db, db_r, rtol=1e-5, atol=1e-5 * m ** 0.5)
    assert_close(dg, dg_r, rtol=1e-5, atol=1e-5 * m ** 0.5)
    assert_close(dx, dx_r, rtol=1e-4, atol=1e-4)


def test_batch_norm_large_mean_accuracy(isa, rng):
    fc.set_isa(isa)
    x = (1e4 + rng.standard_normal((8, 16, 16, 19))).astype(np.float32)
    one, zero = np.ones(19, np.float32), np.zeros(19, np.float32)
    y, mean, invstd = fc.batch_norm(x, one, zero, training=True, eps=1e-5, return_stats=True)
    x64 = x.astype(np.float64)
    m, v = x64.mean(axis=(0, 1, 2)), x64.var(axis=(0, 1, 2))
    assert_close(mean, m, rtol=1e-7, atol=0)
    assert_close(invstd, 1 / np.sqrt(v + 1e-5), rtol=1e-5, atol=0)
    assert_close(y, (x64 - m) / np.sqrt(v + 1e-5), rtol=0, atol=2e-5)


def test_folded_batch_norm_conv_equals_conv_then_bn(isa, rng):
    fc.set_isa(isa)
    x, w, b = arrays(rng, (2, 9, 9, 5)), arrays(rng, (3, 3, 5, 7)), arrays(rng, (7,))
    gamma, beta, mean = arrays(rng, (7,)), arrays(rng, (7,)), arrays(rng, (7,))
    var = rng.uniform(0.2, 2, 7).astype(np.float32)
    wf, bf = fc.fold_batch_norm(w, b, gamma, beta, mean, var)
    expect = fc.batch_norm(fc.conv2d(x, w, b, padding=1), gamma, beta, mean, var)
    assert_close(fc.conv2d(x, wf, bf, padding=1), expect, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- element-wise, concat


@given(seed=seeds, shape=st.sampled_from([(1,), (7, 3), (2, 5, 5, 19), (40, 1000)]))
def test_relu_add(isa, seed, shape):
    fc.set_isa(isa)
    rng = np.random.default_rng(seed)
    a, b, dy = arrays(rng, shape), arrays(rng, shape), arrays(rng, shape)
    y = fc.relu(a)
    assert np.array_equal(y, ref.relu(a))
    assert np.array_equal(fc.relu_backward(dy, y), ref.relu_backward(dy, y))
    assert np.array_equal(fc.sum_relu_backward(dy, b, y), ref.sum_relu_backward(dy, b, y))
    assert np.array_equal(fc.sum_relu_backward(dy, b, y), fc.relu_backward(fc.add(dy, b), y))
    for relu in (False, True):
        s = fc.add(a, b, relu=relu)
        assert np.array_equal(s, ref.add(a, b, relu=relu))
        da, db = fc.add_backward(dy, s if relu else None)
        da_r, db_r = ref.add_backward(dy, s if relu else None)
        assert np.array_equal(da, da_r) and np.array_equal(db, db_r)
    out = np.empty(shape, np.float32)
    assert fc.relu(a, out=out) is out and np.array_equal(out, y)
    assert fc.add(a, b, out=out) is out and np.array_equal(out, a + b)


@given(seed=seeds, widths=st.lists(st.integers(1, 20), min_size=1, max_size=4),
       lead=st.sampled_from([(3,), (2, 3, 4), (1, 1, 1)]))
def test_concat_and_split(isa, seed, widths, lead):
    fc.set_isa(isa)
    rng = np.random.default_rng(seed)
    xs = [arrays(rng, (*lead, w)) for w in widths]
    y = fc.concat(xs)
    assert np.array_equal(y, ref.concat(xs))
    parts = fc.concat_backward(y, widths)
    assert len(parts) == len(xs) and all(np.array_equal(p, x) for p, x in zip(parts, xs,
                                                                             strict=True))
    if len(lead) > 1:  # another axis goes through NumPy
        assert np.array_equal(fc.concat(xs[:1] * 2, axis=0), ref.concat(xs[:1] * 2, axis=0))


def test_loss_and_dense_on_cpu(rng):
    z, labels = arrays(rng, (5, 7), scale=5.0), rng.integers(0, 7, 5)
    assert np.isclose(fc.softmax_cross_entropy(z, labels),
                      ref.softmax_cross_entropy(z.astype(np.float64), labels), rtol=1e-5)
    assert_close(fc.softmax_cross_entropy_backward(z, labels),
                 ref.softmax_cross_entropy_backward(z.astype(np.float64), labels), atol=1e-6)
    assert fc.softmax(z).dtype == np.float32
    x, w, b = arrays(rng, (4, 6)), arrays(rng, (6, 3)), arrays(rng, (3,))
    assert_close(fc.dense(x, w, b, relu=True), ref.dense(*f64(x, w, b), relu=True), atol=1e-6)
    for got, want in zip(fc.dense_backward(x[:, :3], x, w), ref.dense_backward(
            *f64(x[:, :3], x, w)), strict=True):
        assert_close(got, want, atol=1e-6)


@given(n=st.integers(1, 40), k=st.integers(1, 30), seed=seeds,
       scale=st.sampled_from([0.1, 5.0, 60.0]))
def test_softmax_cross_entropy_with_grad_int_labels(isa, n, k, seed, scale):
    fc.set_isa(isa)
    rng = np.random.default_rng(seed)
    z, labels = arrays(rng, (n, k), scale=scale), rng.integers(0, k, n)
    loss, g = fc.softmax_cross_entropy_with_grad(z, labels)  # the C++ pass
    want_loss, want_g = ref.softmax_cross_entropy_with_grad(z.astype(np.float64), labels)
    assert isinstance(loss, float) and np.isclose(loss, want_loss, rtol=1e-5, atol=1e-6)
    assert g.dtype == np.float32 and g.shape == (n, k)
    assert_close(g, want_g, atol=1e-6)
    # the same through the validating path (int32 labels, a float64 copy of the logits)
    loss2, g2 = fc.softmax_cross_entropy_with_grad(z.astype(np.float64), labels.astype(np.int32))
    assert np.isclose(loss2, want_loss, rtol=1e-5, atol=1e-6)
    assert_close(g2, want_g, atol=1e-6)


def test_softmax_cross_entropy_with_grad_validates():
    z = np.zeros((3, 4), np.float32)
    for bad in ([0, 4, 1], [0, -1, 1]):
        with pytest.raises(ValueError, match="labels: class indices must be in"):
            fc.softmax_cross_entropy_with_grad(z, np.array(bad, np.int64))
    with pytest.raises(ValueError, match="labels"):
        fc.softmax_cross_entropy_with_grad(z, np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="labels"):  # the C++ entry point checks too
        fc._C.softmax_cross_entropy_with_grad(z, np.zeros(3, np.int32))
    loss, _ = fc.softmax_cross_entropy_with_grad(np.full((2, 3), np.nan, np.float32),
                                                 np.zeros(2, np.int64))
    assert np.isnan(loss)


@given(shape=st.lists(st.integers(1, 40), min_size=1, max_size=4), seed=seeds)
def test_tanh_backward(isa, shape, seed):
    fc.set_isa(isa)
    rng = np.random.default_rng(seed)
    y = np.tanh(arrays(rng, tuple(shape)))
    dy = arrays(rng, tuple(shape))
    dx = fc.tanh_backward(dy, y)
    assert dx.dtype == np.float32 and dx.shape == y.shape
    assert_close(dx, ref.tanh_backward(*f64(dy, y)), rtol=1e-6, atol=1e-6)


def test_tanh_backward_validates():
    with pytest.raises(ValueError, match="dy"):
        fc.tanh_backward(np.zeros((2, 3), np.float32), np.zeros((2, 2), np.float32))
    with pytest.raises(TypeError, match="y"):
        fc.tanh_backward(np.zeros(2, np.float32), np.zeros(2, np.int32))


# ---------------------------------------------------------------- determinism, GIL


def _every_op(rng):
    # both over the memory-bound kernels' serial threshold (2^18 floats)
    x = arrays(rng, (5, 36, 35, 67), scale=2.0) + 3
    c = x.shape[-1]
    g, b = arrays(rng, (c,)), arrays(rng, (c,))
    ties = tie_arrays(rng, x.shape)
    dy2 = arrays(rng, (5, 18, 18, c))
    dyx = arrays(rng, x.shape)
    x6 = arrays(rng, (8, 96, 96, 6))  # LeNet-like: few channels
    dy6 = arrays(rng, (8, 48, 48, 6))

    def run():
        out = [fc.max_pool2d(x, 3, 2, 1), fc.max_pool2d_backward(dy2, ties, 3, 2, 1),
               fc.avg_pool2d(x, 3, 2, 1), fc.avg_pool2d_backward(dy2, x, 3, 2, 1),
               fc.max_pool2d_backward(dyx, ties, 3, 1, "same"),
               fc.global_avg_pool2d(x), fc.global_avg_pool2d_backward(dy2[:, 0, 0], x)]
        y, mean, inv = fc.batch_norm(x, g, b, training=True, relu=True, return_stats=True)
        out += [y, mean, inv, fc.batch_norm(x, g, b, mean, 1 / inv ** 2)]
        out += list(fc.batch_norm_backward(dyx, x, g, mean, inv, y=y))
        out += list(fc.batch_norm_backward(dyx, x, g, mean, inv, training=False))
        out += [fc.relu(x - 3), fc.add(x, dyx, relu=True), fc.concat([x, dyx]),
                *fc.concat_backward(dyx, [60, 7])]
        # disjoint windows (stride = pool size): the few-channel and wide backward paths
        out += [fc.avg_pool2d(x6, 2), fc.avg_pool2d_backward(dy6, x6, 2),
                fc.avg_pool2d_backward(dy2[:, :, :17], x, 2), fc.tanh_backward(dyx, np.tanh(x)),
                fc.avg_pool2d_backward(dy6, np.tanh(x6), 2, through_tanh=True),
                fc.avg_pool2d_backward(dy2, np.tanh(x), 3, 2, 1, through_tanh=True),
                fc.avg_pool2d_backward(dy2[:, :, :17], np.tanh(x), 2, through_tanh=True),
                fc.softmax_cross_entropy_with_grad(x[0, 0], np.arange(35) % 67)[1]]
        return out

    return run


def test_bitwise_identical_across_threads(isa, rng):
    fc.set_isa(isa)
    run = _every_op(rng)
    results = []
    for t in (1, 2, 3):
        fc.set_num_threads(t)
        results.append(run())
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            assert np.array_equal(a, b)


def test_gil_released_threads_agree(rng):
    from concurrent.futures import ThreadPoolExecutor

    run = _every_op(rng)
    expected = run()
    with ThreadPoolExecutor(3) as ex:
        for got in ex.map(lambda _: run(), range(3)):
            for a, b in zip(expected, got, strict=True):
                assert np.array_equal(a, b)


def test_direct_calls_raise_instead_of_crashing():
    x = np.zeros((1, 4, 4, 3), np.float32)
    with pytest.raises(ValueError, match="padding"):
        fc._C.max_pool2d_forward(x, (2, 2), (1, 1), (2, 0, 0, 0))
    with pytest.raises(ValueError, match="pool_size"):
        fc._C.avg_pool2d_forward(x, (5, 5), (1, 1), (0, 0, 0, 0))
    with pytest.raises(TypeError, match="x: expected float32"):
        fc._C.max_pool2d_forward(x.astype(np.float64), (2, 2), (1, 1), (0, 0, 0, 0))
    with pytest.raises(ValueError, match="gamma"):
        fc._C.batch_norm_forward_train(x, np.ones(4, np.float32), np.ones(3, np.float32), 1e-3)
    with pytest.raises(ValueError, match="b: expected"):
        fc._C.add_forward(x, x[0], False)
    with pytest.raises(ValueError, match="sizes"):
        fc._C.split_last(x, [1, 1])


def test_streamed_big_outputs_match_the_cached_path(isa, rng):
    # Outputs of 16 MiB and more are written with non-temporal stores; each image's result
    # must be bitwise what the small (cached-store) call on that image alone gives.
    fc.set_isa(isa)
    x = arrays(rng, (4, 128, 128, 64))  # 16 MiB
    d = arrays(rng, x.shape)
    g, b, m = arrays(rng, (64,)), arrays(rng, (64,)), arrays(rng, (64,))
    v = rng.uniform(0.5, 2, 64).astype(np.float32)
    per_image = [
        lambda t, u: fc.max_pool2d(t, 3, 1, "same"),
        lambda t, u: fc.max_pool2d_backward(u[:, :64, :64], np.round(t * 2), 3, 2, 1),
        lambda t, u: fc.max_pool2d_backward(u, t, 3, 1, "same"),
        lambda t, u: fc.avg_pool2d(t, 3, 1, "same"),
        lambda t, u: fc.avg_pool2d_backward(u, t, 3, 1, "same"),
        lambda t, u: fc.global_avg_pool2d_backward(u[:, 0, 0], t),
        lambda t, u: fc.batch_norm(t, g, b, m, v, relu=True),
        lambda t, u: fc.batch_norm(t, g, b, m, v),
        lambda t, u: fc.batch_norm_backward(u, t, g, m, v, training=False)[0],
        lambda t, u: fc.relu(t),
        lambda t, u: fc.relu_backward(u, t),
        lambda t, u: fc.sum_relu_backward(u, t, t),
        lambda t, u: fc.add(t, u, relu=True),
        lambda t, u: fc.concat([t[..., :32], u[..., :32]]),
        lambda t, u: fc.concat_backward(t, [16, 48])[1],
    ]
    for op in per_image:
        big = op(x, d)
        assert np.array_equal(big[:1], op(x[:1], d[:1]))
