"""A tiny model with the fastconv.nn contract, for testing the training floor on its own
(a 2-layer MLP in plain NumPy: flatten -> dense -> relu -> dense)."""

from __future__ import annotations

import numpy as np


class Param:
    def __init__(self, name, value):
        self.name, self.value, self.grad, self.trainable = name, value, None, True


class TinyMLP:
    def __init__(self, n_in, n_hidden, n_out, seed=0, aux=False):
        rng = np.random.default_rng(seed)
        self.w1 = Param("w1", (rng.standard_normal((n_in, n_hidden)) / np.sqrt(n_in))
                        .astype(np.float32))
        self.b1 = Param("b1", np.zeros(n_hidden, np.float32))
        self.w2 = Param("w2", (rng.standard_normal((n_hidden, n_out)) / np.sqrt(n_hidden))
                        .astype(np.float32))
        self.b2 = Param("b2", np.zeros(n_out, np.float32))
        self.aux = aux  # training returns [main, aux] with aux = main * 0.5 (for weights)

    def parameters(self):
        return [self.w1, self.b1, self.w2, self.b2]

    def trainable_parameters(self):
        return [p for p in self.parameters() if p.trainable]

    def state_dict(self):
        return {p.name: p.value.copy() for p in self.parameters()}

    def load_state_dict(self, d, strict=True):
        for p in self.parameters():
            p.value[...] = d[p.name]

    def __call__(self, x, training=False):
        self._x = x.reshape(len(x), -1)
        self._h = np.maximum(self._x @ self.w1.value + self.b1.value, 0)
        out = self._h @ self.w2.value + self.b2.value
        return [out, 0.5 * out] if (training and self.aux) else out

    def backward(self, dy):
        if isinstance(dy, list):
            dy = dy[0] + 0.5 * dy[1]
        self.w2.grad = self._h.T @ dy
        self.b2.grad = dy.sum(0)
        dh = (dy @ self.w2.value.T) * (self._h > 0)
        self.w1.grad = self._x.T @ dh
        self.b1.grad = dh.sum(0)


def blobs(n=240, k=3, d=8, seed=0):
    """Separable Gaussian clusters as (N, 2, 2, d/4) 'images' and int labels."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, d)) * 3
    y = rng.integers(0, k, n)
    x = centres[y] + rng.standard_normal((n, d))
    return x.reshape(n, 2, 2, d // 4).astype(np.float32), y.astype(np.int64)
