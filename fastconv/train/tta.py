"""Test-time tricks: 10-crop averaging and ensembles of models (averaged probabilities)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..data.augment import crop, flip_horizontal
from .loop import predict


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax (stable)."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def ten_crops(x: np.ndarray, size: int | tuple[int, int]) -> list[np.ndarray]:
    """The 10 crops of every image: 4 corners and the centre, then the same 5 mirrored."""
    x = np.asarray(x)
    h, w = (size, size) if isinstance(size, int) else size
    H, W = x.shape[1], x.shape[2]
    if h > H or w > W:
        raise ValueError(f"size: crop {h}x{w} larger than the images {H}x{W}")
    corners = [(0, 0), (0, W - w), (H - h, 0), (H - h, W - w), ((H - h) // 2, (W - w) // 2)]
    five = [crop(x, t, s, h, w) for t, s in corners]
    return five + [flip_horizontal(c) for c in five]


def predict_ten_crop(model, x: np.ndarray, size: int | tuple[int, int], *,
                     batch_size: int = 32, probabilities: bool = True) -> np.ndarray:
    """Average of the model's outputs over the 10 crops of each image (softmax first when
    ``probabilities``, since the model outputs logits)."""
    outs = [predict(model, c, batch_size=batch_size) for c in ten_crops(x, size)]
    if probabilities:
        outs = [softmax(o) for o in outs]
    return np.mean(outs, axis=0)


def predict_ensemble(models: Sequence, x: np.ndarray, *, batch_size: int = 32,
                     probabilities: bool = True) -> np.ndarray:
    """Average of several models' outputs (probabilities by default) on the same inputs."""
    if not models:
        raise ValueError("models: need at least one model")
    outs = [predict(m, x, batch_size=batch_size) for m in models]
    if probabilities:
        outs = [softmax(o) for o in outs]
    return np.mean(outs, axis=0)
