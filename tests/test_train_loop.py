import os

import numpy as np
import pytest
from train_doubles import TinyMLP, blobs

from fastconv import train
from fastconv.train import SGD, Adam, EarlyStopping, ModelCheckpoint
from fastconv.train.checkpoint import load_npz


def make(seed=0, aux=False, opt=None):
    m = TinyMLP(8, 16, 3, seed=seed, aux=aux)
    return train.compile(m, opt or Adam(0.05), "sparse_categorical_crossentropy",
                         metrics=["accuracy"])


def test_tiny_net_training_reduces_loss():
    x, y = blobs()
    m = make()
    before = train.evaluate(m, x, y)["loss"]
    h = train.fit(m, x, y, epochs=5, batch_size=32, verbose=0, seed=0)
    after = train.evaluate(m, x, y)
    assert after["loss"] < 0.5 * before
    assert after["accuracy"] > 0.9
    assert len(h.history["loss"]) == 5 and h.history["loss"][-1] < h.history["loss"][0]
    assert set(h.history) == {"loss", "accuracy", "lr"}


def test_fit_is_deterministic_under_a_seed():
    x, y = blobs()
    a, b = make(), make()
    train.fit(a, x, y, epochs=2, batch_size=16, verbose=0, seed=7)
    train.fit(b, x, y, epochs=2, batch_size=16, verbose=0, seed=7)
    assert a.w1.value.tobytes() == b.w1.value.tobytes()


def test_validation_split_and_progress_output(capsys):
    x, y = blobs()
    m = make()
    h = train.fit(m, x, y, epochs=2, validation_split=0.25, verbose=1, seed=0)
    assert "val_loss" in h.history and "val_accuracy" in h.history
    assert h.params["samples"] == 180
    err = capsys.readouterr().err
    assert "Epoch 2/2" in err and "loss=" in err


def test_validation_data_and_early_stopping_restores_best():
    x, y = blobs()
    xv, yv = blobs(60, seed=1)
    m = make(opt=SGD(1e-9))  # no progress at all -> stops after `patience` epochs
    es = EarlyStopping("val_loss", patience=2, min_delta=1e-6, restore_best_weights=True)
    h = train.fit(m, x, y, epochs=20, validation_data=(xv, yv), callbacks=[es], verbose=0)
    assert len(h.epoch) == 3 and es.stopped_epoch == 2


def test_checkpoint_callback_keeps_best(tmp_path):
    x, y = blobs()
    path = tmp_path / "best.npz"
    ck = ModelCheckpoint(path, monitor="loss", save_best_only=True)
    m = make()
    train.fit(m, x, y, epochs=3, callbacks=[ck], verbose=0, seed=0)
    saved = load_npz(path)
    np.testing.assert_array_equal(saved["w1"], m.w1.value)  # loss improved every epoch
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp")] == []


def test_multi_output_loss_weights_default_to_aux_0_3():
    x, y = blobs(32)
    m = make(aux=True)
    out = m(x, training=True)
    loss, grads = train.loop._loss_and_grads(m.training_config, out, y)
    ce = train.losses.softmax_cross_entropy
    assert loss == pytest.approx(ce(out[0], y) + 0.3 * ce(out[1], y), rel=1e-6)
    np.testing.assert_allclose(grads[1], 0.3 * train.losses.softmax_cross_entropy_backward(
        out[1], y), rtol=1e-6)
    h = train.fit(m, x, y, epochs=2, verbose=0, seed=0)  # and the loop handles lists
    assert train.predict(m, x).shape == (32, 3)  # inference: the main output only
    assert len(h.epoch) == 2


def test_fit_with_background_augmentation():
    x, y = blobs()
    m = make()
    noise = lambda xb, rng: xb + rng.normal(0, 0.01, xb.shape).astype(np.float32)  # noqa: E731
    h = train.fit(m, x, y, epochs=2, augment=noise, workers=2, verbose=0, seed=0)
    assert h.history["accuracy"][-1] > 0.8


def test_errors():
    x, y = blobs()
    with pytest.raises(RuntimeError, match="compile"):
        train.fit(TinyMLP(8, 4, 3), x, y)
    with pytest.raises(ValueError, match="labels"):
        train.fit(make(), x, y[:10], verbose=0)
    with pytest.raises(ValueError, match="optimizer"):
        train.compile(TinyMLP(8, 4, 3), "lbfgs")


def test_compile_takes_the_models_loss_weights_hint():
    m = TinyMLP(8, 4, 3, aux=True)
    m.loss_weights = [1.0, 0.5]
    train.compile(m, "sgd")
    assert m.training_config.loss_weights == [1.0, 0.5]
    train.compile(m, "sgd", loss_weights=[1.0, 0.0])  # explicit wins
    assert m.training_config.loss_weights == [1.0, 0.0]


def test_progress_bar_throttles_redraws(monkeypatch):
    import io
    import sys

    from fastconv.train.progress import ProgressBar

    for interval, draws in ((1e9, 2), (0.0, 50)):  # slow: the first and the last batch only
        out = io.StringIO()
        with monkeypatch.context() as mp:  # the plain-text bar, whether or not tqdm is installed
            mp.setitem(sys.modules, "tqdm.auto", None)
            bar = ProgressBar(50, "Epoch 1/1", stream=out, min_interval=interval)
        assert bar._tqdm is None
        for i in range(50):
            bar.update(1, {"loss": 1.0 / (i + 1)})
        assert out.getvalue().count("\r") == draws
        assert out.getvalue().endswith("50/50 loss=0.0200")
        bar.close({"loss": 0.02})
        assert out.getvalue().endswith("loss=0.0200\n")
