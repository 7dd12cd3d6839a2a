import math

import numpy as np
import pytest
from train_doubles import Param

from fastconv.train import (
    SGD,
    Adam,
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    RMSProp,
    StepDecay,
)


def param(v, g):
    p = Param("p", np.array(v, np.float32))
    p.grad = np.array(g, np.float32)
    return p


def steps(opt, p, grads):
    out = []
    for g in grads:
        p.grad = np.array(g, np.float32)
        opt.step([p])
        out.append(p.value.copy())
    return out


def test_sgd_plain_and_weight_decay():
    p = param([1.0, -2.0], [0.5, 0.5])
    SGD(0.1).step([p])
    np.testing.assert_allclose(p.value, [0.95, -2.05], rtol=1e-6)
    p = param([1.0], [0.5])
    SGD(0.1, weight_decay=0.2).step([p])  # g = 0.5 + 0.2 * 1
    np.testing.assert_allclose(p.value, [1.0 - 0.1 * 0.7], rtol=1e-6)


def test_sgd_momentum_hand_computed():
    p = param([1.0], [0.0])
    vals = steps(SGD(0.1, momentum=0.9), p, [[1.0], [2.0]])
    # v1 = 1, w1 = 0.9; v2 = 0.9 + 2 = 2.9, w2 = 0.9 - 0.29 = 0.61
    np.testing.assert_allclose(np.ravel(vals), [0.9, 0.61], rtol=1e-6)


def test_sgd_nesterov_hand_computed():
    p = param([1.0], [0.0])
    vals = steps(SGD(0.1, momentum=0.9, nesterov=True), p, [[1.0], [2.0]])
    # v1 = 1, w1 = 1 - 0.1 (1 + 0.9) = 0.81; v2 = 2.9, w2 = 0.81 - 0.1 (2 + 2.61) = 0.349
    np.testing.assert_allclose(np.ravel(vals), [0.81, 0.349], rtol=1e-5)


def test_rmsprop_hand_computed():
    p = param([1.0], [0.0])
    vals = steps(RMSProp(0.01, rho=0.9, eps=0.0), p, [[2.0], [1.0]])
    s1 = 0.1 * 4
    w1 = 1 - 0.01 * 2 / math.sqrt(s1)
    s2 = 0.9 * s1 + 0.1 * 1
    w2 = w1 - 0.01 * 1 / math.sqrt(s2)
    np.testing.assert_allclose(np.ravel(vals), [w1, w2], rtol=1e-6)


def test_adam_bias_correction_hand_computed():
    p = param([1.0], [0.0])
    vals = steps(Adam(0.1, beta1=0.9, beta2=0.999, eps=0.0), p, [[3.0], [-1.0]])
    # step 1: m_hat = g, v_hat = g^2 -> w moves by exactly lr * sign(g)
    m1, v1 = 0.3, 0.009
    w1 = 1 - 0.1 * (m1 / 0.1) / math.sqrt(v1 / 0.001)
    m2, v2 = 0.9 * m1 - 0.1, 0.999 * v1 + 0.001
    w2 = w1 - 0.1 * (m2 / (1 - 0.81)) / math.sqrt(v2 / (1 - 0.999 ** 2))
    np.testing.assert_allclose(np.ravel(vals), [w1, w2], rtol=1e-5)
    assert abs(w1 - 0.9) < 1e-6


def test_adamw_decoupled_decay():
    p = param([2.0], [0.0])
    steps(Adam(0.1, eps=0.0, weight_decay=0.5, decoupled=True), p, [[1.0]])
    np.testing.assert_allclose(p.value, [2.0 - 0.1 - 0.1 * 0.5 * 2.0], rtol=1e-6)


def test_frozen_and_gradless_parameters_untouched():
    frozen = param([1.0, 2.0], [5.0, 5.0])
    frozen.trainable = False
    nograd = param([3.0], [0.0])
    nograd.grad = None
    before = frozen.value.copy(), nograd.value.copy()
    for opt in (SGD(0.1, momentum=0.9), RMSProp(), Adam()):
        opt.step([frozen, nograd])
    assert frozen.value.tobytes() == before[0].tobytes()
    assert nograd.value.tobytes() == before[1].tobytes()


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match="lr"):
        SGD(0)
    with pytest.raises(ValueError, match="momentum"):
        SGD(0.1, momentum=1.0)
    with pytest.raises(ValueError, match="nesterov"):
        SGD(0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta2"):
        Adam(beta2=1.0)


def test_schedules():
    assert [StepDecay(1.0, 0.5, 2)(e) for e in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    assert ExponentialDecay(0.2, 0.95)(3) == pytest.approx(0.2 * 0.95 ** 3)
    assert [InverseTimeDecay(0.2, 1.0)(e) for e in range(3)] == pytest.approx([0.2, 0.1, 0.2 / 3])
    c = CosineDecay(1.0, 10, min_lr=0.1)
    assert c(0) == pytest.approx(1.0) and c(5) == pytest.approx(0.55) and c(10) == c(20)
    assert c(10) == pytest.approx(0.1)


def test_scheduled_lr_follows_epoch():
    opt = SGD(InverseTimeDecay(0.2, 1.0))
    p = param([0.0], [1.0])
    opt.set_epoch(1)
    assert opt.lr == pytest.approx(0.1)
    opt.step([p])
    np.testing.assert_allclose(p.value, [-0.1], rtol=1e-6)
