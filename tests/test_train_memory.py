"""Training memory: saved tensors go as backward consumes them, the caching pool stays near
the live peak."""

from __future__ import annotations

import subprocess
import sys
import weakref

import numpy as np
import pytest
from test_nn_model import tiny_inception, tiny_resnet

import fastconv
from fastconv import _C, nn


def _arrays(obj, out: list) -> list:
    if isinstance(obj, np.ndarray):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _arrays(o, out)
    return out


@pytest.mark.parametrize("make", [tiny_resnet, tiny_inception])
def test_backward_frees_saved_tensors(make):
    nn.set_seed(0)
    model = make()
    x = np.random.default_rng(0).standard_normal((2, *model.inputs[0].shape)).astype(np.float32)
    out = model(x, training=True)
    saved = [weakref.ref(a) for a in _arrays(model._ctxs, []) if a is not x]
    assert saved
    dys = [np.ones_like(o) for o in out] if isinstance(out, list) else np.ones_like(out)
    del out
    model.backward(dys)
    assert model._ctxs is None
    assert [r for r in saved if r() is not None] == []  # nothing kept the activations
    with pytest.raises(RuntimeError, match="forward"):
        model.backward(dys)  # one backward per forward


def test_next_forward_drops_the_last_steps_tensors():
    nn.set_seed(0)
    model = tiny_resnet()
    x = np.zeros((2, 6, 6, 3), np.float32)
    model(x, training=True)
    saved = [weakref.ref(a) for a in _arrays(model._ctxs, []) if a is not x]
    model(x, training=True)  # no backward in between: the old ctxs are not kept alongside
    assert [r for r in saved if r() is not None] == []


def test_linear_conv_saves_only_its_input():
    conv = nn.Conv2D(3, 3)
    x = np.ones((1, 5, 5, 2), np.float32)
    conv.forward(x, training=True)
    assert conv._ctx[0] is x and conv._ctx[1] is None
    conv.backward(np.ones((1, 3, 3, 3), np.float32))
    assert conv._ctx is None
    with pytest.raises(RuntimeError, match="before forward"):
        conv.backward(np.ones((1, 3, 3, 3), np.float32))
    relu = nn.Conv2D(3, 3, activation="relu")
    y = relu.forward(x, training=True)
    assert relu._ctx[1] is y  # the ReLU mask comes from the output


def test_fit_leaves_no_gradients_behind():
    nn.set_seed(0)
    model = tiny_resnet()
    model.compile("adam")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 6, 6, 3)).astype(np.float32)
    before = [p.value.copy() for p in model.parameters()]
    model.fit(x, rng.integers(0, 3, 8), batch_size=4, verbose=0)
    assert all(p.grad is None for p in model.parameters())
    assert any(not np.array_equal(b, p.value)
               for b, p in zip(before, model.parameters(), strict=True))


def test_pool_live_bytes_follow_arrays():
    a = np.ones((1 << 19,), np.float32)  # 2 MiB: a pooled output
    live = _C.pool_live_bytes()
    y = fastconv.relu(a)
    assert _C.pool_live_bytes() >= live + a.nbytes
    assert _C.pool_peak_bytes() >= _C.pool_live_bytes()
    del y
    assert _C.pool_live_bytes() == live


def test_pool_footprint_stays_near_the_live_peak(tmp_path):
    """A fresh process allocates and frees one array at a time, each of a new size class:
    a cache that kept every class would hold their sum, this one about the largest."""
    code = (
        "import numpy as np, fastconv\n"
        "from fastconv import _C\n"
        "worst = 0\n"
        "for mib in range(4, 40, 3):\n"
        "    y = fastconv.relu(np.ones((mib << 18,), np.float32))\n"
        "    worst = max(worst, _C.pool_live_bytes() + _C.pool_cached_bytes())\n"
        "    del y\n"
        "y = fastconv.relu(np.ones((37 << 18,), np.float32))\n"
        "hit = _C.pool_cached_bytes()\n"
        "print(worst / 2**20, _C.pool_peak_bytes() / 2**20, hit)\n")
    # cwd away from the checkout: from its root, `import fastconv` finds the unbuilt sources
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout.split()
    worst, peak = float(out[0]), float(out[1])
    assert 37 <= peak <= 40  # one 37 MiB array (rounded to its size class) at a time
    assert worst <= peak * 17 / 16 + 1
    assert int(out[2]) <= peak * 2**20 / 16  # the last size came back from the cache


def test_training_forward_drops_the_folded_inference_weights():
    nn.set_seed(0)
    model = tiny_resnet()
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 3)).astype(np.float32)
    before = model.predict(x)
    folded = [s for s in model._plan(False).steps if s.bn is not None]
    assert folded and all(s.folded is not None for s in folded)
    model(x, training=True)
    assert all(s.folded is None for s in folded)
    fused = model.predict(x)  # folded again, from the updated running statistics
    assert not np.allclose(fused, before)
    model.fuse = False
    np.testing.assert_allclose(fused, model.predict(x), rtol=1e-4, atol=1e-5)
