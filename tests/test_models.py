"""The model zoo: published parameter counts, summaries, and small-input forwards that match
the same graph on the NumPy reference backend."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

import fastconv
from fastconv import models, nn

PUBLISHED = [
    ("lenet5", {}, 61_706),
    ("alexnet", {}, 62_378_344),
    ("alexnet", {"variant": "torchvision"}, 61_100_840),
    ("vgg16", {}, 138_357_544),
    ("resnet18", {}, 11_689_512),
    ("resnet34", {}, 21_797_672),
    ("resnet50", {}, 25_557_032),
    ("resnet101", {}, 44_549_160),
    ("resnet152", {}, 60_192_808),
    ("googlenet", {"aux_logits": False}, 6_998_552),
    ("googlenet", {}, 13_378_280),
    ("googlenet", {"variant": "torchvision", "aux_logits": False}, 6_624_904),
    ("googlenet", {"variant": "torchvision"}, 13_004_888),
]


@pytest.mark.parametrize("name,kw,count", PUBLISHED, ids=[f"{n}-{c}" for n, _, c in PUBLISHED])
def test_published_parameter_counts(name, kw, count):
    model = getattr(models, name)(**kw)  # weights are drawn lazily: building is cheap
    assert model.count_params() == count
    assert sum(p.size for p in model.trainable_parameters()) == count


def test_input_and_output_shapes():
    assert models.lenet5().input_shape == (None, 32, 32, 1)
    assert models.alexnet().input_shape == (None, 227, 227, 3)
    assert models.alexnet().get_layer("pool5").output_shape == (None, 6, 6, 256)
    assert models.resnet50(num_classes=7).output_shape == (None, 7)
    r = models.resnet50()
    assert r.get_layer("layer4.2.relu").output_shape == (None, 7, 7, 2048)
    g = models.googlenet()
    assert g.output_shape == [(None, 1000)] * 3 and g.loss_weights == [1.0, 0.3, 0.3]
    assert g.get_layer("inception4e.concat").output_shape == (None, 14, 14, 832)
    assert g.get_layer("aux2.pool").output_shape == (None, 4, 4, 528)
    assert g.get_layer("inception5b.concat").output_shape == (None, 7, 7, 1024)
    assert models.googlenet(aux_logits=False).output_shape == (None, 1000)


def _names(model) -> set[str]:
    """state_dict keys without drawing the weights."""
    return {f"{model.keys[layer]}.{n}" for layer in model.layers
            for n in [p.name for p in layer.parameters()] + list(layer._buffers)}


def test_building_blocks_are_named_like_torchvision():
    sd = _names(models.resnet18())
    for key in ("conv1.kernel", "bn1.gamma", "layer1.0.conv1.kernel", "layer2.0.downsample.0."
                "kernel", "layer2.0.downsample.1.moving_variance", "fc.kernel", "fc.bias"):
        assert key in sd, key
    assert "layer1.0.downsample.0.kernel" not in sd  # identity block: no projection
    assert "layer1.0.downsample.0.kernel" in _names(models.resnet50())
    assert "inception3a.branch3.1.conv.kernel" in _names(models.googlenet(variant="torchvision"))
    assert set(models.lenet5().state_dict()) == _names(models.lenet5())


def test_resnet50_summary():
    lines = []
    models.resnet50().summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Total params: 25,557,032" in text and "Trainable params: 25,557,032" in text
    assert "conv1 (Conv2D)" in text and "(None, 112, 112, 64)" in text
    # 7x7x3 -> 64 at 112x112: 118,013,952 multiply-adds; the whole net ~4.1 G
    assert any(ln.startswith("conv1 (Conv2D)") and "118,013,952" in ln for ln in lines)
    total = next(ln for ln in lines if ln.startswith("Total mult-adds"))
    assert total.endswith(" G") and 4.0 < float(total.split()[-2]) < 4.2


SMALL = [
    ("lenet5", lambda: models.lenet5(), (32, 32, 1)),
    ("alexnet", lambda: models.alexnet((67, 67, 3), 10, fc_units=256), (67, 67, 3)),
    ("alexnet-tv", lambda: models.alexnet((63, 63, 3), 10, variant="torchvision",
                                                fc_units=256), (63, 63, 3)),
    ("vgg16", lambda: models.vgg16((32, 32, 3), 10, fc_units=64), (32, 32, 3)),
    ("resnet18", lambda: models.resnet18((32, 32, 3), 10), (32, 32, 3)),
    ("resnet50", lambda: models.resnet50((32, 32, 3), 10), (32, 32, 3)),
    ("googlenet", lambda: models.googlenet((80, 80, 3), 10), (80, 80, 3)),
    ("googlenet-tv", lambda: models.googlenet((80, 80, 3), 10, variant="torchvision"),
     (80, 80, 3)),
]


@pytest.mark.parametrize("build,shape", [s[1:] for s in SMALL], ids=[s[0] for s in SMALL])
def test_small_forward_matches_reference_backend(build, shape):
    nn.set_seed(0)
    model = build()
    x = np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)
    fast = model.predict(x)
    with fastconv.use_backend("numpy"):
        model.fuse = False
        ref = model.predict(x.astype(np.float64))  # every layer as written, float64
    assert fast.dtype == np.float32 and fast.shape == (1, model.outputs[0].shape[0])
    assert_close(fast, ref, rtol=1e-3, atol=1e-3)


def test_googlenet_training_outputs_and_backward():
    nn.set_seed(1)
    model = models.googlenet((80, 80, 3), 5, variant="torchvision")
    x = np.random.default_rng(1).standard_normal((2, 80, 80, 3)).astype(np.float32)
    outs = model(x, training=True)
    assert [o.shape for o in outs] == [(2, 5)] * 3
    model.freeze(up_to="inception3b.concat")  # keeps the (reference) conv backward short
    dx = model.backward([np.full((2, 5), w, np.float32) for w in model.loss_weights],
                        input_grad=False)
    assert dx is None
    assert all(p.grad is not None for p in model.trainable_parameters())
    assert model.get_layer("conv1.conv").kernel.grad is None
    assert model(x).shape == (2, 5)
