"""The convolution kernels' scratch memory is bounded by tiles and weights, never by a
layer's im2col matrix: it does not grow with the batch."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastconv as fc
from fastconv import _C

# Each layer runs in a fresh process: workspace buffers grow to the largest request of their
# slot and stay, so one process would report the largest layer it ever ran.
_SCRIPT = """
import json, sys
import numpy as np
import fastconv as fc
from fastconv import _C
n, h, c, k, r, stride, pad = json.loads(sys.argv[1])
fc.set_num_threads(2)
rng = np.random.default_rng(0)
x = rng.standard_normal((n, h, h, c), dtype=np.float32)
w = rng.standard_normal((r, r, c, k), dtype=np.float32)
y = fc.conv2d(x, w, stride=stride, padding=pad)
fc.conv2d_backward(y, x, w, stride=stride, padding=pad)
p = y.shape[1]
print(json.dumps({"ws": _C.workspace_bytes(), "w": w.nbytes,
                  "im2col": n * p * p * r * r * c * 4}))
"""


def _workspace(layer: tuple, cwd) -> dict:
    # cwd outside the checkout: `python -c` puts the cwd first on sys.path, and the source
    # folder's fastconv/ (no built extension in CI) would shadow the installed package
    out = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(layer)], check=True,
                         capture_output=True, text=True, timeout=300, cwd=cwd)
    return json.loads(out.stdout.strip().splitlines()[-1])


# (N, H, C, K, R, stride, pad): the main paths 'auto' picks across the two batches (direct,
# Winograd F(4x4, 3x3) and F(4x4, 5x5) forward, dx and dw, the 1x1 GEMM, col2im dx, the
# first layer's im2col dw, the dx and dw tiles).
LAYERS = [
    (2, 56, 64, 64, 3, 1, 1),
    (2, 112, 3, 64, 7, 2, 3),
    (2, 56, 256, 128, 1, 1, 0),
    (2, 56, 64, 128, 3, 2, 1),
    (2, 28, 16, 32, 5, 1, 2),
    (2, 14, 256, 256, 3, 1, 1),
]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda la: "x".join(map(str, la)))
def test_conv_workspace_does_not_grow_with_the_batch(layer, tmp_path):
    small = _workspace(layer, tmp_path)
    big = _workspace((16, *layer[1:]), tmp_path)  # 8x the batch: 8x the activations, im2col
    # Winograd holds its transformed weights (T^2 / R^2 times the weights) and its dw sums
    # (as many again), the direct kernel a packed copy of the weights; the rest is tiles.
    # Batch 16 may pick another algorithm than batch 2 (Winograd once it has the tiles to pay
    # for its weight transform), so the two differ, but neither depends on the batch.
    bound = 16 * 2**20 + 12 * small["w"]
    assert small["ws"] <= bound and big["ws"] <= bound, (small, big)
    if big["im2col"] > 2 * bound:  # most layers: im2col is far above the bound at batch 16
        assert big["ws"] < big["im2col"] / 4, (small, big)


def test_workspace_bytes_counts_this_process():
    before = _C.workspace_bytes()
    x = np.ones((1, 20, 20, 8), np.float32)
    w = np.ones((3, 3, 8, 16), np.float32)
    _C.conv2d_forward(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1, False, None, "direct")
    assert _C.workspace_bytes() >= max(before, w.nbytes)  # at least the packed weights


def test_a_threads_workspace_goes_when_the_thread_exits():
    old = fc.get_num_threads()
    fc.set_num_threads(1)  # the kernel runs on the Python thread itself
    try:
        x = np.ones((1, 30, 30, 64), np.float32)
        w = np.ones((3, 3, 64, 64), np.float32)
        seen = []

        def run() -> None:
            _C.conv2d_forward(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1, False, None, "direct")
            seen.append(_C.workspace_bytes())

        before = _C.workspace_bytes()
        t = threading.Thread(target=run)
        t.start()
        t.join()
        assert seen[0] >= before + w.nbytes  # the thread's own buffers, counted
        # freed with the thread (they used to leak); join() returns when the Python thread
        # state goes, a moment before the OS thread runs its C++ thread_local destructors
        deadline = time.monotonic() + 5.0
        while _C.workspace_bytes() != before and time.monotonic() < deadline:
            time.sleep(0.001)
        assert _C.workspace_bytes() == before
    finally:
        fc.set_num_threads(old)
