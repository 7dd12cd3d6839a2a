"""Helpers for the nn tests: float64 copies of layers/models and finite-difference checks."""

from __future__ import annotations

import numpy as np


def to_float64(obj) -> None:
    """Turn every parameter and buffer of a layer or model into float64 (gradient checks)."""
    layers = obj.layers if hasattr(obj, "layers") else [obj]
    for layer in layers:
        for p in layer.parameters():
            p.value = p.value.astype(np.float64)
        for name, v in layer.buffers().items():
            setattr(layer, name, v.astype(np.float64))


def randomize_bn(obj, rng) -> None:
    """Non-trivial gamma, beta and running statistics, so folding has something to do."""
    from fastconv import nn

    layers = obj.layers if hasattr(obj, "layers") else [obj]
    for layer in layers:
        if isinstance(layer, nn.BatchNormalization):
            c = layer.moving_mean.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.uniform(-0.5, 0.5, c),
                               rng.uniform(-0.5, 0.5, c), rng.uniform(0.5, 2.0, c)])


def sampled_grad_check(loss, a: np.ndarray, grad: np.ndarray, k: int = 12, seed: int = 0,
                       eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-8,
                       what: str = "") -> None:
    """Central differences of scalar loss() at k random entries of `a` (float64) vs grad."""
    rng = np.random.default_rng(seed)
    flat = a.reshape(-1)
    for i in rng.choice(flat.size, size=min(k, flat.size), replace=False):
        old = flat[i]
        flat[i] = old + eps
        fp = loss()
        flat[i] = old - eps
        fm = loss()
        flat[i] = old
        np.testing.assert_allclose(grad.reshape(-1)[i], (fp - fm) / (2 * eps), rtol=rtol,
                                   atol=atol, err_msg=f"{what}[{i}]")
