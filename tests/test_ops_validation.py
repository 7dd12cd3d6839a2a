"""Bad input to the non-conv ops raises TypeError/ValueError naming the argument."""

import numpy as np
import pytest

import fastconv as fc

X = np.zeros((2, 5, 5, 3), np.float32)
C3 = np.ones(3, np.float32)
Z2 = np.zeros((4, 3), np.float32)


@pytest.mark.parametrize("backend", ["cpu", "numpy"])
@pytest.mark.parametrize("call, exc, match", [
    # pooling
    (lambda: fc.max_pool2d(X[0]), ValueError, "x: expected 4 dimensions"),
    (lambda: fc.max_pool2d(X.astype(np.int64)), TypeError, "x: expected a float"),
    (lambda: fc.avg_pool2d(X, 0), ValueError, "pool_size"),
    (lambda: fc.avg_pool2d(X, 2.5), TypeError, "pool_size"),
    (lambda: fc.max_pool2d(X, 2, 0), ValueError, "stride"),
    (lambda: fc.max_pool2d(X, 2, padding=2), ValueError, "padding: each side"),
    (lambda: fc.max_pool2d(X, (3, 2), padding=((0, 3), (0, 0))), ValueError, "padding"),
    (lambda: fc.max_pool2d(X, 2, padding=-1), ValueError, "padding"),
    (lambda: fc.max_pool2d(X, 2, padding="full"), ValueError, "padding"),
    (lambda: fc.max_pool2d(X, 7), ValueError, "pool_size extent 7"),
    (lambda: fc.avg_pool2d(X, 8, padding=1), ValueError, "pool_size extent 8"),
    (lambda: fc.max_pool2d(np.zeros((0, 5, 5, 3), np.float32)), ValueError, "x: empty"),
    (lambda: fc.max_pool2d(X, out=np.zeros((2, 2, 2, 3), np.float64)), TypeError, "out"),
    (lambda: fc.max_pool2d(X, out=np.zeros((2, 3, 3, 3), np.float32)), ValueError, "out"),
    (lambda: fc.max_pool2d_backward(np.zeros((2, 3, 3, 3)), X), ValueError, "dy: expected"),
    (lambda: fc.avg_pool2d_backward(np.zeros((2, 2, 2)), X), ValueError, "dy: expected 4"),
    (lambda: fc.global_avg_pool2d(X[0]), ValueError, "x: expected 4"),
    (lambda: fc.global_avg_pool2d_backward(np.zeros((2, 4)), X), ValueError, "dy: expected"),
    # batch norm
    (lambda: fc.batch_norm(X[0], C3, C3, training=True), ValueError, "x: expected 2"),
    (lambda: fc.batch_norm(X.astype(np.int32), C3, C3, C3, C3), TypeError, "x: expected a"),
    (lambda: fc.batch_norm(X, np.ones(4), C3, training=True), ValueError, "gamma: expected"),
    (lambda: fc.batch_norm(X, C3, C3[:2], training=True), ValueError, "beta: expected"),
    (lambda: fc.batch_norm(X, C3, C3), ValueError, "running_mean, running_var: required"),
    (lambda: fc.batch_norm(X, C3, C3, np.ones(4), C3), ValueError, "running_mean: expected"),
    (lambda: fc.batch_norm(X, C3, C3, [0, 0, 0], C3, training=True), TypeError,
     "running_mean: expected a numpy"),
    (lambda: fc.batch_norm(X, C3, C3, C3, np.ones(3, int), training=True), TypeError,
     "running_var: expected a float"),
    (lambda: fc.batch_norm(X, C3, C3, training=True, momentum=1.5), ValueError, "momentum"),
    (lambda: fc.batch_norm(X, C3, C3, training=True, momentum="a"), TypeError, "momentum"),
    (lambda: fc.batch_norm(X, C3, C3, training=True, eps=0), ValueError, "eps"),
    (lambda: fc.batch_norm_backward(X[:1], X, C3, C3, C3), ValueError, "dy: expected shape"),
    (lambda: fc.batch_norm_backward(X, X, C3, C3[:1], C3), ValueError, "mean: expected"),
    (lambda: fc.batch_norm_backward(X, X, C3, C3, C3, y=X[0]), ValueError, "y: expected"),
    (lambda: fc.fold_batch_norm(np.ones(3), None, C3, C3, C3, C3), ValueError, "w: expected"),
    (lambda: fc.fold_batch_norm(np.ones((3, 3, 3, 4)), None, C3, C3, C3, C3), ValueError,
     "gamma: expected"),
    (lambda: fc.fold_batch_norm(np.ones((2, 3)), np.ones(2), C3, C3, C3, C3), ValueError,
     "b: expected"),
    # element-wise
    (lambda: fc.relu(X.astype(bool)), TypeError, "x: expected a float"),
    (lambda: fc.relu(X, out=np.zeros((2, 5, 5, 4), np.float32)), ValueError, "out"),
    (lambda: fc.relu_backward(X[0], X), ValueError, "dy: expected shape"),
    (lambda: fc.sum_relu_backward(X, X[:1], X), ValueError, "b: expected shape"),
    (lambda: fc.batch_norm(X, C3, C3, C3, C3, residual=X[:1]), ValueError, "residual: expected"),
    (lambda: fc.sum_relu_backward(X[0], X, X), ValueError, "a: expected shape"),
    (lambda: fc.sum_relu_backward(X, X, "y"), TypeError, "y: expected a float"),
    (lambda: fc.add(X, X[:1]), ValueError, "b: expected shape"),
    (lambda: fc.add(X, "b"), TypeError, "b: expected a float"),
    (lambda: fc.add_backward(X, X[0]), ValueError, "y: expected shape"),
    (lambda: fc.concat(X), TypeError, "xs"),
    (lambda: fc.concat([]), TypeError, "xs"),
    (lambda: fc.concat([X, X[:1]]), ValueError, r"xs\[1\]"),
    (lambda: fc.concat([X, X], axis=4), ValueError, "axis"),
    (lambda: fc.concat([X, X], axis=1.0), TypeError, "axis"),
    (lambda: fc.concat_backward(X, [1, 1]), ValueError, "sizes"),
    (lambda: fc.concat_backward(X, [1, 0, 2]), ValueError, "sizes"),
    (lambda: fc.concat_backward(X, 3), TypeError, "sizes"),
    # loss
    (lambda: fc.softmax(Z2, axis=2), ValueError, "axis"),
    (lambda: fc.softmax_cross_entropy(X, [0]), ValueError, "logits: expected 2"),
    (lambda: fc.softmax_cross_entropy(Z2, np.array([0, 1, 2])), ValueError, "labels"),
    (lambda: fc.softmax_cross_entropy(Z2, np.array([0, 1, 2, 3])), ValueError, "labels: class"),
    (lambda: fc.softmax_cross_entropy(Z2, np.array([0, 1, 2, -1])), ValueError, "labels: class"),
    (lambda: fc.softmax_cross_entropy(Z2, np.zeros((4, 2))), ValueError, "labels: expected"),
    (lambda: fc.softmax_cross_entropy_backward(Z2, np.zeros((4, 3), bool)), TypeError,
     "labels"),
    # dense
    (lambda: fc.dense(X, Z2), ValueError, "x: expected 2"),
    (lambda: fc.dense(Z2, np.zeros((4, 2))), ValueError, "w: expected 3 input rows"),
    (lambda: fc.dense(Z2, np.zeros((3, 2)), np.zeros(3)), ValueError, "b: expected shape"),
    (lambda: fc.dense_backward(np.zeros((4, 3)), Z2, np.zeros((3, 2))), ValueError,
     "dy: expected shape"),
])
def test_ops_bad_input(backend, call, exc, match):
    with fc.use_backend(backend), pytest.raises(exc, match=match):
        call()


def test_running_stats_read_only_is_refused():
    rm = np.zeros(3, np.float32)
    rm.flags.writeable = False
    with pytest.raises(ValueError, match="running_mean: array is read-only"):
        fc.batch_norm(X, C3, C3, rm, np.ones(3, np.float32), training=True)


def test_every_op_is_in_the_table_with_its_reference():
    for name in ("max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
                 "global_avg_pool2d", "global_avg_pool2d_backward", "batch_norm",
                 "batch_norm_backward", "fold_batch_norm", "relu", "relu_backward", "add",
                 "add_backward", "concat", "concat_backward", "softmax",
                 "softmax_cross_entropy", "softmax_cross_entropy_backward", "dense",
                 "dense_backward", "adam_update", "tanh_backward", "sum_relu_backward",
                 "softmax_cross_entropy_with_grad"):
        assert fc.OPS[name].reference is getattr(fc.reference, name)
        assert callable(getattr(fc, name))


def test_public_functions_on_numpy_backend_keep_float64(rng):
    x = rng.standard_normal((2, 4, 4, 3))
    with fc.use_backend("numpy"):
        assert fc.max_pool2d(x).dtype == np.float64
        y, m, s = fc.batch_norm(x, np.ones(3), np.zeros(3), training=True, return_stats=True)
        assert y.dtype == np.float64
        out = np.empty((2, 2, 2, 3), np.float32)
        assert fc.avg_pool2d(x, out=out) is out
        np.testing.assert_allclose(out, fc.reference.avg_pool2d(x), rtol=1e-6)
    assert fc.max_pool2d(x).dtype == np.float32  # cpu backend computes in float32


def test_repeated_calls_still_validate(rng):
    """The per-shape geometry caches (conv2d_backward, pooling) skip only re-checking the
    hyper-parameters of a call that validated; every argument is still checked."""
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    dy = np.ones((2, 4, 4, 4), np.float32)
    for _ in range(2):
        fc.conv2d_backward(dy, x, w)
        fc.avg_pool2d_backward(np.ones((2, 3, 3, 3), np.float32), x, 2)
        fc.max_pool2d(x, 2, stride=None)
    with pytest.raises(ValueError, match="dy: expected shape"):
        fc.conv2d_backward(dy[:, :3], x, w)
    with pytest.raises(ValueError, match="dy: expected shape"):
        fc.avg_pool2d_backward(np.ones((2, 2, 3, 3), np.float32), x, 2)
    with pytest.raises(ValueError, match="padding"):
        fc.max_pool2d(x, 2, padding=2)
    with pytest.raises((TypeError, ValueError)):
        fc.max_pool2d(x, 2, stride=())
    with pytest.raises(TypeError, match="float"):
        fc.conv2d_backward(dy.astype(np.int32), x, w)
    np.testing.assert_allclose(fc.avg_pool2d(x, 2, stride=None), fc.avg_pool2d(x, 2, stride=2))
