"""Graph models: building, summary, whole-network gradients, fusion/folding, weights I/O."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import numerical_grad
from nn_helpers import randomize_bn, sampled_grad_check, to_float64

import fastconv
from fastconv import nn
from fastconv.models import convolutional_block, identity_block, inception


def tiny_resnet(num_classes=3):
    x = nn.Input((6, 6, 3))
    y = nn.Conv2D(4, 3, padding="same", use_bias=False, name="stem")(x)
    y = nn.BatchNormalization(name="stem_bn")(y)
    y = nn.ReLU(name="stem_relu")(y)
    y = identity_block(y, (4, 4), name="id")
    y = convolutional_block(y, (2, 3, 6), strides=2, name="proj")
    y = nn.GlobalAvgPool2D()(y)
    return nn.Model(x, nn.Dense(num_classes, name="fc")(y), name="tiny_resnet")


def tiny_inception(aux=True):
    x = nn.Input((7, 7, 3))
    y = nn.Conv2D(4, 3, padding="same", activation="relu", name="stem")(x)
    y = nn.LRN(size=3, alpha=0.1, name="lrn")(y)
    y = inception(y, (2, 2, 3, 1, 2, 2), name="inc")
    outs = [nn.Dense(3, name="fc")(nn.GlobalAvgPool2D()(y))]
    if aux:
        a = nn.AvgPool2D(3, 2, name="aux_pool")(y)
        outs.append(nn.Dense(3, name="aux_fc")(nn.Flatten()(a)))
    return nn.Model(x, outs if aux else outs[0], inference_outputs=1)


def _whole_grad_check(model, x, n_out):
    rng = np.random.default_rng(5)
    with fastconv.use_backend("numpy"):
        to_float64(model)
        for p in model.parameters():  # no pre-activation sits exactly on ReLU's kink
            if p.name == "bias":
                p.value = rng.uniform(-0.5, 0.5, p.shape)
        ys = model(x, training=True)
        ys = ys if isinstance(ys, list) else [ys]
        assert len(ys) == n_out
        rs = [rng.standard_normal(y.shape) for y in ys]
        weights = [1.0, 0.3][:n_out]

        def loss():
            out = model(x, training=True)
            out = out if isinstance(out, list) else [out]
            return float(sum(w * np.sum(o * r) for w, o, r in zip(weights, out, rs, strict=True)))

        loss()
        dx = model.backward([w * r for w, r in zip(weights, rs, strict=True)] if n_out > 1
                            else rs[0])
        sampled_grad_check(loss, x, dx, k=10, what="x")
        for layer in model.layers:
            for p in layer.parameters():
                sampled_grad_check(loss, p.value, p.grad, k=2, what=f"{layer.name}.{p.name}")


def test_whole_network_gradient_residual():
    nn.set_seed(0)
    model = tiny_resnet()
    x = np.random.default_rng(0).standard_normal((3, 6, 6, 3))
    _whole_grad_check(model, x, 1)


def test_whole_network_gradient_inception_with_aux():
    nn.set_seed(1)
    model = tiny_inception()
    x = np.random.default_rng(1).standard_normal((2, 7, 7, 3))
    _whole_grad_check(model, x, 2)


def test_training_fuses_relu_and_inference_folds_bn():
    model = tiny_resnet()
    train, infer = model._plan(True), model._plan(False)
    assert not any(s.layer.name.endswith("relu") for s in train.steps)  # all fused
    assert [s.layer.name for s in infer.steps if s.bn is not None][:2] == ["stem", "id.conv1"]
    assert not any(isinstance(s.layer, nn.BatchNormalization) for s in infer.steps)
    model.fuse = False
    assert any(isinstance(s.layer, nn.ReLU) for s in model._plan(False).steps)


def three_way_residual():
    # s = ReLU(a + b) feeds three layers: its gradient arrives in three parts.
    x = nn.Input((5, 5, 3))
    a = nn.Conv2D(4, 3, padding="same", name="a")(x)
    b = nn.Conv2D(4, 1, name="b")(x)
    s = nn.ReLU(name="s_relu")(nn.Add(name="s")([a, b]))
    c1 = nn.Conv2D(4, 3, padding="same", name="c1")(s)
    c2 = nn.Conv2D(4, 1, name="c2")(s)
    t = nn.ReLU(name="t_relu")(nn.Add(name="t")([c1, c2, s]))
    return nn.Model(x, nn.Dense(3, name="fc")(nn.GlobalAvgPool2D()(t)))


def _step_under(model, x, dy, backend, set_mode, modes):
    """One training step's (y, dx, parameter gradients) under each mode (set_mode(mode) first)."""
    outs = []
    with fastconv.use_backend(backend):
        for mode in modes:
            set_mode(mode)
            y = model(x, training=True)
            dx = model.backward(dy)
            outs.append([y, dx] + [p.grad for p in model.parameters()])
    return outs


@pytest.mark.parametrize("backend", ["cpu", "numpy"])
@pytest.mark.parametrize("build", [tiny_resnet, three_way_residual])
def test_residual_relu_gradient_sums_keep_gradients(backend, build):
    # An Add + ReLU output read by two layers: its two gradient parts are summed and masked
    # in one pass (sum_relu_backward); with three parts, the first two are added first.
    nn.set_seed(6)
    model = build()
    plan = model._plan(True)
    adds = {s.layer.name for s in plan.steps if s.out in plan.relu_sums}
    expect = {"id.bn2", "proj.downsample.1"} if build is tiny_resnet else {"s", "t"}
    assert adds == expect
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, *model.inputs[0].shape)).astype(np.float32)
    dy = rng.standard_normal((2, 3)).astype(np.float32)
    # the same plan with and without the fusion
    grads = _step_under(model, x, dy, backend, lambda sums: setattr(plan, "relu_sums", sums),
                        (plan.relu_sums, set()))
    for a, b in zip(*grads, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("backend", ["cpu", "numpy"])
def test_residual_join_fuses_into_batch_norm(backend):
    # BN -> Add -> ReLU is one batch_norm(residual=) where the Add's other input is ready: the
    # identity block's last BN, and the projection's shortcut BN (the main path's BN3 runs
    # before the shortcut exists).
    nn.set_seed(7)
    model = tiny_resnet()
    steps = model._plan(True).steps
    assert [s.layer.name for s in steps if s.residual] == ["id.bn2", "proj.downsample.1"]
    assert not any(isinstance(s.layer, nn.Add) for s in steps)
    assert not any(s.residual for s in model._plan(False).steps)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    dy = rng.standard_normal((2, 3)).astype(np.float32)
    outs = _step_under(model, x, dy, backend, lambda f: setattr(model, "fuse", f),
                       (True, False))
    model.fuse = True
    for a, b in zip(*outs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def tiny_lenet():
    x = nn.Input((12, 12, 2))
    y = nn.Conv2D(3, 3, activation="tanh", name="c1")(x)
    y = nn.AvgPool2D(2, name="s2")(y)
    y = nn.Conv2D(4, 3, activation="tanh", padding="same", name="c3")(y)
    y = nn.AvgPool2D(2, 1, name="s4")(y)  # overlapping windows
    y = nn.Dense(3, name="out")(nn.Flatten()(y))
    return nn.Model(x, y)


@pytest.mark.parametrize("backend", ["cpu", "numpy"])
def test_tanh_pool_backward_fusion_keeps_gradients(backend):
    nn.set_seed(4)
    model = tiny_lenet()
    steps = model._plan(True).steps
    assert [s.layer.name for s in steps if s.preact_grad] == ["c1", "c3"]
    assert [s.layer.name for s in steps if s.tanh_grad] == ["s2", "s4"]
    assert not any(s.tanh_grad or s.preact_grad for s in model._plan(False).steps)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 12, 12, 2)).astype(np.float32)
    dy = rng.standard_normal((3, 3)).astype(np.float32)
    grads = _step_under(model, x, dy, backend, lambda f: setattr(model, "fuse", f),
                        (True, False))
    for a, b in zip(*grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    model.fuse = True
    _whole_grad_check(model, x.astype(np.float64), 1)


@pytest.mark.parametrize("backend", ["cpu", "numpy"])
def test_folding_leaves_outputs_unchanged(backend):
    nn.set_seed(2)
    model = tiny_resnet()
    rng = np.random.default_rng(2)
    randomize_bn(model, rng)
    x = rng.standard_normal((4, 6, 6, 3)).astype(np.float32)
    with fastconv.use_backend(backend):
        fused = model.predict(x)
        model.fuse = False
        plain = model.predict(x)
    np.testing.assert_allclose(fused, plain, rtol=1e-4, atol=1e-5)


def test_fold_cache_follows_weight_changes():
    nn.set_seed(3)
    model = tiny_resnet()
    x = np.random.default_rng(3).standard_normal((2, 6, 6, 3)).astype(np.float32)
    before = model.predict(x)
    randomize_bn(model, np.random.default_rng(4))  # set_weights
    after = model.predict(x)
    assert not np.allclose(before, after)
    model.get_layer("stem").kernel.value *= 2  # in place, then a training step
    model(x, training=True)
    model.backward(np.ones((2, 3), np.float32))
    fused = model.predict(x)  # must not reuse the fold made before the in-place edit
    model.fuse = False
    np.testing.assert_allclose(fused, model.predict(x), rtol=1e-4, atol=1e-5)


def test_multi_output_training_and_inference():
    model = tiny_inception()
    x = np.zeros((2, 7, 7, 3), np.float32)
    out = model(x, training=True)
    assert isinstance(out, list) and [o.shape for o in out] == [(2, 3), (2, 3)]
    assert model(x).shape == (2, 3)
    assert model.predict(x, batch_size=1).shape == (2, 3)
    assert not any(s.layer.name.startswith("aux") for s in model._plan(False).steps)
    model(x, training=True)
    model.backward([np.ones((2, 3), np.float32), None])  # main loss only
    assert model.get_layer("aux_fc").kernel.grad is None
    assert model.get_layer("fc").kernel.grad is not None


def test_summary_and_counts():
    model = tiny_resnet()
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert 'Model: "tiny_resnet"' in text
    assert "stem (Conv2D)" in text and "(None, 6, 6, 4)" in text and "Connected to" in text
    # stem: 6*6 positions * 4 filters * 27 taps = 3,888 multiply-adds, 108 weights
    assert any("stem (Conv2D)" in ln and "108" in ln and "3,888" in ln for ln in lines)
    total = model.count_params()
    assert f"Total params: {total:,}" in text
    assert f"Trainable params: {total:,}" in text and "Non-trainable params: 0" in text
    model.freeze(up_to="id.add")
    frozen = sum(p.size for p in model.parameters() if not p.trainable)
    assert frozen > 0
    lines.clear()
    model.summary(print_fn=lines.append)
    assert f"Non-trainable params: {frozen:,}" in "\n".join(lines)
    assert len(model.trainable_parameters()) < len(model.parameters())


def test_sequential_keras_style():
    model = nn.Sequential([
        nn.Input((8, 8, 1)),
        nn.Conv2D(4, 3, activation="relu"),
        nn.MaxPool2D(),
        nn.Flatten(),
        nn.Dense(10, activation="softmax"),
    ], name="seq")
    assert model.output_shape == (None, 10) and model.input_shape == (None, 8, 8, 1)
    assert model.count_params() == 4 * 9 + 4 + 36 * 10 + 10
    assert len(model.layers) == 4
    lines = []
    model.summary(print_fn=lines.append)
    assert "Connected to" not in "\n".join(lines)
    y = model(np.random.default_rng(0).standard_normal((3, 8, 8, 1)).astype(np.float32))
    np.testing.assert_allclose(y.sum(axis=1), 1, rtol=1e-5)
    lazy = nn.Sequential([nn.Flatten(), nn.Dense(2)])
    assert "not built" in repr(lazy)
    with pytest.raises(RuntimeError, match="input shape"):
        lazy.count_params()
    assert lazy.predict(np.zeros((2, 3, 3, 1), np.float32)).shape == (2, 2)
    assert lazy.count_params() == 20


def test_state_dict_save_load(tmp_path):
    nn.set_seed(4)
    a = tiny_resnet()
    randomize_bn(a, np.random.default_rng(0))
    nn.set_seed(5)
    b = tiny_resnet()
    sd = a.state_dict()
    assert "stem.kernel" in sd and "stem_bn.moving_variance" in sd and "fc.bias" in sd
    n_bn = sum(isinstance(layer, nn.BatchNormalization) for layer in a.layers)
    assert n_bn == 7 and len(sd) == len(a.parameters()) + 2 * n_bn  # + running statistics
    path = tmp_path / "w.npz"
    a.save_weights(str(path))
    b.load_weights(str(path))
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 3)).astype(np.float32)
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    with pytest.raises(KeyError, match="unexpected"):
        b.load_state_dict({**sd, "extra.w": np.zeros(1)})
    missing, unexpected = b.load_state_dict({"fc.bias": np.ones(3)}, strict=False)
    assert unexpected == [] and "stem.kernel" in missing
    with pytest.raises(ValueError, match="shape"):
        b.load_state_dict({"fc.bias": np.ones(4)}, strict=False)


def test_auto_names_are_stable_per_model():
    def build():
        x = nn.Input((4, 4, 2))
        return nn.Model(x, nn.Conv2D(2, 3)(nn.Conv2D(2, 1)(x)))

    build()
    assert list(build().state_dict()) == ["conv2d.kernel", "conv2d.bias", "conv2d_1.kernel",
                                          "conv2d_1.bias"]


def test_transfer_learning_new_head_and_freeze():
    base = tiny_resnet()
    feat = base.get_layer("proj.relu").output
    head = nn.Dense(5, name="new_fc")(nn.GlobalAvgPool2D(name="gap2")(feat))
    model = nn.Model(base.inputs, head)
    model.freeze(up_to="proj.relu")
    assert [p.trainable for p in model.parameters()][-2:] == [True, True]
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 3)).astype(np.float32)
    mean_before = model.get_layer("stem_bn").moving_mean.copy()
    y = model(x, training=True)
    assert y.shape == (2, 5)
    assert model.backward(np.ones_like(y), input_grad=False) is None
    assert model.get_layer("new_fc").kernel.grad is not None
    assert model.get_layer("stem").kernel.grad is None
    np.testing.assert_array_equal(model.get_layer("stem_bn").moving_mean, mean_before)


def test_model_on_an_intermediate_tensor():
    base = tiny_resnet()
    feat = base.get_layer("proj.relu").output
    head = nn.Model(feat, base.outputs[0], name="head")
    assert [type(layer).__name__ for layer in head.layers] == ["GlobalAvgPool2D", "Dense"]
    assert head.count_params() == base.get_layer("fc").count_params()
    lines = []
    head.summary(print_fn=lines.append)
    assert any("fc (Dense)" in ln for ln in lines)
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 3)).astype(np.float32)
    trunk = nn.Model(base.inputs, feat)
    np.testing.assert_allclose(head.predict(trunk.predict(x)), base.predict(x), rtol=1e-5,
                               atol=1e-6)


def test_shared_layer_gradients_add_up():
    x = nn.Input((3,))
    dense = nn.Dense(3, name="shared")
    model = nn.Model(x, dense(dense(x)))
    with fastconv.use_backend("numpy"):
        to_float64(model)
        xv = np.random.default_rng(0).standard_normal((2, 3))
        model(xv, training=True)
        model.backward(np.ones((2, 3)))
        w = dense.kernel

        def loss():
            return float(model(xv, training=True).sum())

        np.testing.assert_allclose(w.grad, numerical_grad(loss, w.value), rtol=1e-6)


def test_errors():
    x = nn.Input((4, 4, 2))
    y = nn.Conv2D(2, 3)(x)
    other = nn.Input((4, 4, 2))
    with pytest.raises(ValueError, match="not among the model's inputs"):
        nn.Model(other, y)
    model = nn.Model(x, y)
    with pytest.raises(ValueError, match="must be an array of shape"):
        model(np.zeros((1, 5, 4, 2), np.float32))
    with pytest.raises(RuntimeError, match="forward"):
        nn.Model(x, y).backward(np.zeros((1, 2, 2, 2)))
    with pytest.raises(ValueError, match="named"):
        z = nn.Input((4, 4, 2))
        nn.Model(z, nn.Conv2D(2, 1, name="c")(nn.Conv2D(2, 1, name="c")(z)))


def test_compile_fit_evaluate_delegate(monkeypatch):
    import sys
    import types

    calls = []
    loop = types.ModuleType("fastconv.train.loop")
    loop.compile = lambda model, **kw: calls.append(("compile", kw["loss_weights"]))
    loop.fit = lambda model, *a, **kw: calls.append(("fit", a))
    loop.evaluate = lambda model, *a, **kw: calls.append(("evaluate", a))
    pkg = types.ModuleType("fastconv.train")
    pkg.loop = loop
    monkeypatch.setitem(sys.modules, "fastconv.train", pkg)
    monkeypatch.setitem(sys.modules, "fastconv.train.loop", loop)
    model = tiny_resnet()
    model.compile(loss_weights=[1.0])
    model.fit(1, 2)
    model.evaluate(3)
    assert calls == [("compile", [1.0]), ("fit", (1, 2)), ("evaluate", (3,))]


def test_first_layer_skips_its_input_gradient(monkeypatch):
    """Training (input_grad=False) asks the first conv for no dx, and every parameter
    gradient is bitwise what a backward that also computes dL/dx gives."""
    import fastconv as F
    from fastconv import models
    from fastconv.nn import layers_conv

    nn.set_seed(3)
    model = models.lenet5()
    x = np.random.default_rng(3).random((4, 32, 32, 1), dtype=np.float32)
    dy = np.random.default_rng(4).standard_normal((4, 10)).astype(np.float32)
    model(x, training=True)
    dx = model.backward(dy)
    assert dx.shape == x.shape
    full = [p.grad.copy() for p in model.parameters()]
    calls = []
    real = F.conv2d_backward

    def spy(*args, **kw):
        calls.append(kw["need_dx"])
        return real(*args, **kw)

    monkeypatch.setattr(layers_conv.F, "conv2d_backward", spy)
    model(x, training=True)
    assert model.backward(dy, input_grad=False) is None
    assert calls == [True, False]  # c3 still passes dL/dx down to s2; c1 does not
    for p, g in zip(model.parameters(), full, strict=True):
        assert np.array_equal(p.grad, g), p.name
