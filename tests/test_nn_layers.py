"""Each nn layer: symbolic shapes equal run shapes, and backward equals finite differences
(float64, NumPy backend)."""

from __future__ import annotations

import numpy as np
import pytest
from nn_helpers import sampled_grad_check, to_float64

import fastconv
from fastconv import nn


def _check_layer(layer, shapes, training=True, rtol=1e-5, seed=0):
    """Backward of `layer` (and of its parameters) against central differences."""
    rng = np.random.default_rng(seed)
    multi = isinstance(shapes, list)
    xs = [rng.standard_normal(s) for s in (shapes if multi else [shapes])]
    with fastconv.use_backend("numpy"):
        layer.forward(xs if multi else xs[0], training=training)  # builds
        to_float64(layer)
        y = layer.forward(xs if multi else xs[0], training=training)
        r = rng.standard_normal(y.shape)

        def loss():
            return float(np.sum(layer.forward(xs if multi else xs[0], training=training) * r))

        loss()
        dx = layer.backward(r)
        dxs = dx if multi else [dx]
        for x, d in zip(xs, dxs, strict=True):
            sampled_grad_check(loss, x, d, k=30, rtol=rtol, atol=1e-7, what="x")
        for p in layer.parameters():
            if not p.trainable:
                assert p.grad is None
                continue
            sampled_grad_check(loss, p.value, p.grad, k=30, rtol=rtol, atol=1e-7, what=p.name)


@pytest.mark.parametrize("kw", [
    dict(filters=3, kernel_size=3),
    dict(filters=4, kernel_size=3, strides=2, padding="same", activation="relu"),
    dict(filters=4, kernel_size=(3, 2), padding=((1, 0), (2, 1)), dilation_rate=2, groups=2,
         use_bias=False),
    dict(filters=2, kernel_size=1, activation="tanh"),
    dict(filters=2, kernel_size=2, activation="sigmoid", strides=(1, 2)),
])
def test_conv2d_grad(kw):
    layer = nn.Conv2D(**kw)
    _check_layer(layer, (2, 6, 7, 4))
    assert layer.compute_output_shape((6, 7, 4)) == layer.forward(np.zeros((1, 6, 7, 4))).shape[1:]


@pytest.mark.parametrize("act", [None, "relu", "tanh", "softmax"])
def test_dense_grad(act):
    _check_layer(nn.Dense(5, activation=act), (3, 4))


@pytest.mark.parametrize("shape", [(4, 3, 3, 5), (6, 4)])
def test_batchnorm_grad_training(shape):
    _check_layer(nn.BatchNormalization(), shape)


def test_batchnorm_frozen_uses_running_stats():
    bn = nn.BatchNormalization(trainable=False)
    bn.forward(np.zeros((2, 2, 2, 3)))
    bn.set_weights([np.full(3, 2.0), np.full(3, 0.5), np.full(3, 1.0), np.full(3, 4.0)])
    x = np.random.default_rng(0).standard_normal((2, 2, 2, 3)).astype(np.float32)
    y = bn.forward(x, training=True)
    np.testing.assert_allclose(y, 2.0 * (x - 1.0) / np.sqrt(4.0 + 1e-3) + 0.5, rtol=1e-5)
    np.testing.assert_array_equal(bn.moving_mean, 1.0)  # not updated when frozen
    _check_layer(nn.BatchNormalization(trainable=False), (2, 3, 3, 4))


def test_batchnorm_updates_running_stats():
    bn = nn.BatchNormalization(momentum=0.9)
    x = np.random.default_rng(0).standard_normal((8, 3, 3, 2)).astype(np.float32) + 3
    bn.forward(x, training=True)
    np.testing.assert_allclose(bn.moving_mean, 0.1 * x.mean(axis=(0, 1, 2)), rtol=1e-5)


def test_lrn_matches_paper_formula():
    x = np.random.default_rng(1).standard_normal((2, 3, 3, 7)).astype(np.float64) * 5
    layer = nn.LocalResponseNormalization(size=5, alpha=1e-2, beta=0.75, k=2.0)
    y = layer.forward(x)
    ref = np.empty_like(x)
    for c in range(7):
        lo, hi = max(0, c - 2), min(6, c + 2)
        ref[..., c] = x[..., c] / (2.0 + 1e-2 * (x[..., lo:hi + 1] ** 2).sum(-1)) ** 0.75
    np.testing.assert_allclose(y, ref, rtol=1e-12)


@pytest.mark.parametrize("size", [5, 4, 1])
def test_lrn_grad(size):
    _check_layer(nn.LocalResponseNormalization(size=size, alpha=0.3, beta=0.75, k=1.0),
                 (2, 2, 3, 6))


@pytest.mark.parametrize("layer_fn", [
    lambda: nn.MaxPool2D(2),
    lambda: nn.MaxPool2D(3, 2, padding="same"),
    lambda: nn.AvgPool2D(3, 2, padding="same"),
    lambda: nn.AvgPool2D(2, 1, count_include_pad=True, padding=1),
    lambda: nn.GlobalAvgPool2D(),
])
def test_pool_grad_and_shape(layer_fn):
    layer = layer_fn()
    _check_layer(layer, (2, 5, 6, 3))
    assert layer.compute_output_shape((5, 6, 3)) == layer.forward(np.zeros((1, 5, 6, 3))).shape[1:]


def test_merge_grads():
    _check_layer(nn.Add(), [(2, 3, 3, 4)] * 3)
    _check_layer(nn.Concatenate(), [(2, 3, 3, 4), (2, 3, 3, 2)])


@pytest.mark.parametrize("layer_fn", [nn.Tanh, nn.Sigmoid, nn.Softmax, nn.ReLU])
def test_activation_grads(layer_fn):
    _check_layer(layer_fn(), (3, 5))


def test_shape_layers_grad():
    _check_layer(nn.Flatten(), (2, 3, 2, 2))
    _check_layer(nn.ZeroPadding2D(((1, 2), (0, 1))), (2, 3, 2, 2))
    assert nn.ZeroPadding2D(2).compute_output_shape((3, 4, 5)) == (7, 8, 5)


def test_dropout():
    nn.set_seed(3)
    d = nn.Dropout(0.25)
    x = np.ones((100, 100), np.float32)
    assert d.forward(x) is x  # identity at inference
    y = d.forward(x, training=True)
    kept = y != 0
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    np.testing.assert_array_equal(d.backward(x) != 0, kept)  # the same mask


def test_parameters_trainable_flag_and_weights():
    conv = nn.Conv2D(4, 3)
    conv.forward(np.zeros((1, 5, 5, 2), np.float32))
    assert [p.name for p in conv.parameters()] == ["kernel", "bias"]
    assert conv.kernel.shape == (3, 3, 2, 4) and conv.count_params() == 76
    conv.trainable = False
    assert not any(p.trainable for p in conv.parameters())
    w = [np.ones((3, 3, 2, 4)), np.zeros(4)]
    conv.set_weights(w)
    assert conv.get_weights()[0].dtype == np.float32 and conv.get_weights()[0].sum() == 72
    with pytest.raises(ValueError, match="expected 2 arrays"):
        conv.set_weights(w[:1])
    with pytest.raises(ValueError, match="shape"):
        conv.set_weights([np.ones((3, 3, 2, 5)), np.zeros(4)])


def test_initializers_statistics():
    nn.set_seed(0)
    he = nn.Conv2D(256, 3, kernel_initializer="he_normal")
    he.forward(np.zeros((1, 3, 3, 64), np.float32))
    assert he.kernel.value.dtype == np.float32
    assert abs(he.kernel.value.std() - np.sqrt(2 / (9 * 64))) < 0.01
    gl = nn.Dense(300, kernel_initializer="glorot_uniform")
    gl.forward(np.zeros((1, 200), np.float32))
    lim = np.sqrt(6 / 500)
    assert np.abs(gl.kernel.value).max() <= lim and gl.kernel.value.std() > lim / 2


def test_lazy_init_is_seed_deterministic():
    def build():
        nn.set_seed(7)
        a, b = nn.Conv2D(3, 3), nn.Conv2D(3, 3)
        x = nn.Input((5, 5, 2))
        b(a(nn.Input((5, 5, 2))))
        del x
        return a, b

    a1, b1 = build()
    _ = b1.kernel.value  # touched in another order
    a2, b2 = build()
    np.testing.assert_array_equal(b1.kernel.value, b2.kernel.value)
    np.testing.assert_array_equal(a1.kernel.value, a2.kernel.value)


def test_bad_arguments():
    with pytest.raises(ValueError, match="activation"):
        nn.Conv2D(3, 3, activation="gelu")
    with pytest.raises(ValueError, match="kernel_initializer"):
        nn.Dense(3, kernel_initializer="magic")
    with pytest.raises(ValueError, match="groups"):
        nn.Conv2D(3, 3, groups=2)(nn.Input((5, 5, 4)))
    with pytest.raises(ValueError, match="Flatten"):
        nn.Dense(3)(nn.Input((5, 5, 4)))
    with pytest.raises(ValueError, match="rate"):
        nn.Dropout(1.0)
    with pytest.raises(ValueError, match="larger than the padded input"):
        nn.Conv2D(3, 7)(nn.Input((5, 5, 4)))
    with pytest.raises(TypeError, match="list of tensors"):
        nn.Add()(nn.Input((5, 5, 4)))
    with pytest.raises(ValueError, match="one shape"):
        nn.Add()([nn.Input((5, 5, 4)), nn.Input((5, 5, 3))])
