"""The training floor on real fastconv.nn models (skipped until fastconv.nn is installed)."""

import importlib.util

import numpy as np
import pytest

nn = pytest.importorskip("fastconv.nn")

from fastconv import train  # noqa: E402
from fastconv.train import SGD, Adam, transfer  # noqa: E402


def small_net(num_classes=3, seed=0):
    nn.set_seed(seed)
    x = nn.Input((8, 8, 1))
    y = nn.Conv2D(4, 3, name="conv")(x)
    y = nn.BatchNormalization(name="bn")(y)
    y = nn.ReLU(name="relu")(y)
    y = nn.MaxPool2D(2, name="pool")(y)
    y = nn.Flatten(name="flat")(y)
    y = nn.Dense(8, activation="relu", name="fc")(y)
    y = nn.Dense(num_classes, name="head")(y)
    return nn.Model(x, y)


def stripes(n=96, seed=0):
    """Class = orientation of a bright line: horizontal, vertical, diagonal."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 0.2, (n, 8, 8, 1)).astype(np.float32)
    for i, k in enumerate(y):
        j = rng.integers(1, 7)
        if k == 0:
            x[i, j, :, 0] += 1
        elif k == 1:
            x[i, :, j, 0] += 1
        else:
            x[i, np.arange(8), np.arange(8), 0] += 1
    return x, y.astype(np.int64)


def test_nn_model_training_reduces_loss():
    x, y = stripes()
    m = small_net()
    m.compile(Adam(0.01), metrics=["accuracy"])
    before = m.evaluate(x, y)["loss"]
    h = m.fit(x, y, epochs=6, batch_size=16, verbose=0, seed=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert m.evaluate(x, y)["loss"] < 0.7 * before


def test_frozen_layers_are_bitwise_unchanged_and_bn_uses_running_stats():
    x, y = stripes()
    m = small_net()
    m.freeze(up_to="bn")
    frozen = {k: v.copy() for k, v in m.state_dict().items() if k.startswith(("conv", "bn"))}
    head0 = m.get_layer("head").get_weights()[0].copy()
    train.compile(m, SGD(0.1, momentum=0.9), metrics=["accuracy"])
    train.fit(m, x, y, epochs=2, batch_size=16, verbose=0, seed=0)
    after = m.state_dict()
    for k, v in frozen.items():  # weights and BN running statistics untouched
        assert after[k].tobytes() == v.tobytes(), k
    assert not np.array_equal(m.get_layer("head").get_weights()[0], head0)


def test_replace_head_and_fine_tune_last_k():
    x, y = stripes()
    base = small_net(num_classes=5)
    new = transfer.replace_head(base, 3)
    assert new.output_shape == (None, 3)
    assert new.get_layer("conv") is base.get_layer("conv")  # shared, pretrained layers
    transfer.fine_tune(new, last_k=1)
    assert [p.name for p in new.trainable_parameters()] == [
        p.name for p in new.get_layer("new_head").parameters()]
    fc0 = new.get_layer("fc").get_weights()[0].copy()
    train.compile(new, Adam(0.01))
    train.fit(new, x, y, epochs=1, verbose=0, seed=0)
    assert new.get_layer("fc").get_weights()[0].tobytes() == fc0.tobytes()
    transfer.fine_tune(new)  # all
    assert len(new.trainable_parameters()) == len(new.parameters())
    with pytest.raises(ValueError, match="last_k"):
        transfer.fine_tune(new, 99)


def test_new_head_on_frozen_features_leaves_the_extractor_bitwise_unchanged():
    x, y = stripes()
    base = small_net(num_classes=5)
    new = transfer.replace_head(base, 3, features="flat")  # a head straight on the conv maps
    assert new.output_shape == (None, 3)
    assert [layer.name for layer in new.layers][-1] == "new_head"
    assert "fc" not in [layer.name for layer in new.layers]
    transfer.fine_tune(new, last_k=1)
    before = {k: v.copy() for k, v in new.state_dict().items()}
    train.compile(new, Adam(0.01))
    train.fit(new, x, y, epochs=2, batch_size=16, verbose=0, seed=0)
    after = new.state_dict()
    changed = {k for k in before if after[k].tobytes() != before[k].tobytes()}
    assert changed and all(k.startswith("new_head") for k in changed)
    for k in before:  # conv, BN weights and running statistics: untouched
        if not k.startswith("new_head"):
            assert after[k].tobytes() == before[k].tobytes(), k


def test_lenet5_head_on_frozen_conv_features():
    """The digits demo's transfer model: c1-s4 shared and frozen, only a fresh head learns,
    and its logits are that head applied to the frozen 400 conv features."""
    from fastconv import models

    rng = np.random.default_rng(0)
    x = rng.random((10, 32, 32, 1), dtype=np.float32)
    y = np.arange(10) % 3
    nn.set_seed(0)
    base = models.lenet5(num_classes=5)
    base(x[:1])
    before = {k: v.copy() for k, v in base.state_dict().items()}
    new = transfer.replace_head(base, 3, features="flatten")
    assert [layer.name for layer in new.layers][1:] == ["c1", "s2", "c3", "s4", "flatten",
                                                       "new_head"]
    transfer.fine_tune(new, 1)
    logits0 = new.predict(x)
    train.compile(new, Adam(0.01))
    train.fit(new, x, y, epochs=3, batch_size=10, verbose=0, seed=0)
    assert not np.allclose(new.predict(x), logits0)  # the head learnt
    after = base.state_dict()
    for k, v in before.items():  # every pretrained weight, including the old c5-output
        assert after[k].tobytes() == v.tobytes(), k
    head = new.get_layer("new_head")
    feats = nn.Model(base.inputs[0], base.get_layer("flatten").output).predict(x)
    w, b = head.get_weights()
    np.testing.assert_allclose(new.predict(x), feats @ w + b, rtol=1e-4, atol=1e-5)


def test_episodes_split_each_class_without_overlap():
    y = np.repeat(np.arange(4), 6)
    for tr, te in transfer._episodes(y, 2, 3, np.random.default_rng(0)):
        assert np.bincount(y[tr]).tolist() == [2, 2, 2, 2]
        assert not np.intersect1d(tr, te).size and len(tr) + len(te) == len(y)


@pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="needs scikit-learn")
def test_transfer_digits_runs_and_reports_every_draw():
    kw = dict(shots=(1,), draws=2, select_draws=1, pretrain_epochs=0, epochs=2,
              lrs=(1e-3, 1e-2))
    r = transfer.transfer_digits(methods=("fine_tune", "frozen", "scratch"), **kw)
    assert 0 <= r["source_accuracy"] <= 1
    for m in transfer.METHODS:
        assert len(r[m][1]) == 2 and all(0 <= a <= 1 for a in r[m][1])
        assert r["lr"][m][1] in (1e-3, 1e-2)
    # fine-tuning the shared pretrained layers must not leak into the runs after it
    assert transfer.transfer_digits(methods=("frozen",), **kw)["frozen"] == r["frozen"]
    with pytest.raises(ValueError, match="methods"):
        transfer.transfer_digits(methods=("oracle",))


def test_ten_crop_and_ensemble():
    x, _ = stripes(6)
    m = small_net()
    big = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))  # 10x10 -> 8x8 crops
    crops = train.ten_crops(big, 8)
    assert len(crops) == 10
    np.testing.assert_array_equal(crops[4], x)  # the centre crop
    np.testing.assert_array_equal(crops[9], x[:, :, ::-1])
    p = train.predict_ten_crop(m, big, 8)
    manual = np.mean([train.tta.softmax(m.predict(c)) for c in crops], axis=0)
    np.testing.assert_allclose(p, manual, rtol=1e-5)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)
    m2 = small_net(seed=1)
    e = train.predict_ensemble([m, m2], x)
    np.testing.assert_allclose(
        e, (train.tta.softmax(m.predict(x)) + train.tta.softmax(m2.predict(x))) / 2, rtol=1e-5)


def test_checkpoint_roundtrip_on_a_model(tmp_path):
    x, y = stripes()
    m = small_net()
    train.compile(m, Adam(0.01))
    ck = train.ModelCheckpoint(tmp_path / "m.npz", monitor="loss", save_best_only=True)
    train.fit(m, x, y, epochs=2, verbose=0, callbacks=[ck], seed=0)
    m2 = small_net(seed=5)
    train.load_weights(m2, ck.last_saved)
    np.testing.assert_array_equal(m2.predict(x), m.predict(x))


def test_auxiliary_head_trained_with_weight_0_3_and_dropped_at_inference():
    nn.set_seed(0)
    x_in = nn.Input((8, 8, 1))
    h = nn.Flatten(name="flat")(nn.Conv2D(4, 3, activation="relu", name="conv")(x_in))
    main = nn.Dense(3, name="main")(h)
    aux = nn.Dense(3, name="aux")(h)
    m = nn.Model(x_in, [main, aux], inference_outputs=1)
    x, y = stripes()
    train.compile(m, Adam(0.01), metrics=["accuracy"], loss_weights=[1.0, 0.3])
    out = m(x, training=True)
    loss, _ = train.loop._loss_and_grads(m.training_config, out, y)
    ce = train.losses.softmax_cross_entropy
    assert loss == pytest.approx(ce(out[0], y) + 0.3 * ce(out[1], y), rel=1e-5)
    h = train.fit(m, x, y, epochs=3, verbose=0, seed=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert m.predict(x).shape == (len(x), 3)  # the main head only
    assert set(train.evaluate(m, x, y)) == {"loss", "accuracy"}
