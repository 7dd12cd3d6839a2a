import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from fastconv.train import losses, metrics


def test_softmax_cross_entropy_hand_computed():
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], np.float32)
    y = np.array([2, 0])
    p0 = math.exp(3) / (math.exp(1) + math.exp(2) + math.exp(3))
    expect = (-math.log(p0) - math.log(1 / 3)) / 2
    assert losses.softmax_cross_entropy(z, y) == pytest.approx(expect, rel=1e-6)
    onehot = np.eye(3, dtype=np.float32)[y]
    assert losses.softmax_cross_entropy(z, onehot) == pytest.approx(expect, rel=1e-6)
    # huge logits stay finite
    assert math.isfinite(losses.softmax_cross_entropy(z * 1e4, y))


def _numgrad(f, z, eps=1e-6):
    g = np.zeros_like(z)
    for i in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[i] += eps
        zm[i] -= eps
        g[i] = (f(zp) - f(zm)) / (2 * eps)
    return g


def test_gradients_match_finite_differences(rng):
    with fastconv.use_backend("numpy"):  # float64 kept: finite differences need it
        _check_gradients(rng)


def _check_gradients(rng):
    z = rng.standard_normal((4, 5))
    y = rng.integers(0, 5, 4)
    g = losses.softmax_cross_entropy_backward(z, y)
    np.testing.assert_allclose(g, _numgrad(lambda a: losses.softmax_cross_entropy(a, y), z),
                               atol=1e-6)
    t = rng.integers(0, 2, (4, 3)).astype(np.float64)
    zb = rng.standard_normal((4, 3))
    gb = losses.binary_cross_entropy_backward(zb, t)
    np.testing.assert_allclose(gb, _numgrad(lambda a: losses.binary_cross_entropy(a, t), zb),
                               atol=1e-6)


def test_binary_cross_entropy_hand_computed():
    z = np.array([0.0, 2.0, -50.0])
    t = np.array([1.0, 0.0, 0.0])
    s = 1 / (1 + math.exp(-2))
    expect = (math.log(2) - math.log(1 - s) + 0.0) / 3
    assert losses.binary_cross_entropy(z, t) == pytest.approx(expect, rel=1e-6, abs=1e-12)


def test_loss_lookup_and_label_checks():
    assert losses.get("sparse_categorical_crossentropy").name == "softmax_cross_entropy"
    with pytest.raises(ValueError, match="loss"):
        losses.get("hinge")
    with pytest.raises(ValueError, match="labels"):
        losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises((TypeError, ValueError), match="labels"):
        losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))


def test_accuracy_and_top5():
    z = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5]])
    assert metrics.accuracy(z, np.array([1, 0, 0])) == pytest.approx(2 / 3)
    assert metrics.top_k_accuracy(z, np.array([1, 0, 0]), 2) == pytest.approx(2 / 3)
    assert metrics.top_k_accuracy(z, np.array([2, 0, 0]), 2) == pytest.approx(1 / 3)
    z10 = np.tile(np.arange(10.0), (2, 1))  # top-5 classes are 5..9
    assert metrics.top5_accuracy(z10, np.array([5, 4])) == 0.5
    assert metrics.get("accuracy")[1] is metrics.accuracy
    assert metrics.binary_accuracy(np.array([1.0, -1.0]), np.array([1, 1])) == 0.5


@given(n=st.integers(1, 9), k=st.integers(1, 12), seed=st.integers(0, 2**31 - 1),
       onehot=st.booleans(), backend=st.sampled_from(["cpu", "numpy"]))
def test_softmax_cross_entropy_with_grad_matches_the_two_ops(n, k, seed, onehot, backend):
    rng = np.random.default_rng(seed)
    z = (3 * rng.standard_normal((n, k))).astype(np.float32)
    y = rng.integers(0, k, n)
    t = np.eye(k, dtype=np.float32)[y] if onehot else y
    with fastconv.use_backend(backend):
        loss, g = fastconv.softmax_cross_entropy_with_grad(z, t)
        want_loss = fastconv.softmax_cross_entropy(z, t)
        want_g = fastconv.softmax_cross_entropy_backward(z, t)
        lo = losses.get("sparse_categorical_crossentropy")
        v2, g2 = lo.value_and_grad(z, t)  # same backend: cpu rounds int labels differently
    assert g.dtype == want_g.dtype and g.shape == (n, k)
    assert np.array_equal(g, want_g)
    assert loss == pytest.approx(want_loss, rel=1e-12, abs=1e-12)
    assert v2 == loss and np.array_equal(g2, g)


def test_value_and_grad_without_a_fused_form():
    lo = losses.get("binary_crossentropy")
    z = np.array([[0.5, -1.0]], np.float32)
    t = np.array([[1.0, 0.0]], np.float32)
    v, g = lo.value_and_grad(z, t)
    assert v == lo(z, t) and np.array_equal(g, lo.backward(z, t))
    with pytest.raises(ValueError, match="labels"):
        fastconv.softmax_cross_entropy_with_grad(z, np.array([0, 1, 2]))
