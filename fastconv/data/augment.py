"""Image augmentation on NHWC float batches, as in the lecture: mirroring, random crops, colour
shifts, AlexNet's PCA colour augmentation, and (optional) rotation and shear.

Every random op is ``op(x, rng) -> x'`` with an explicit ``numpy.random.Generator``, so a seed
fixes the result; the deterministic building blocks (``flip_horizontal``, ``crop``, ``affine``,
``resize_bilinear``) are plain functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

Aug = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _batch(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x: expected an NHWC batch (4 dimensions), got shape {x.shape}")
    return x


# --- deterministic building blocks ----------------------------------------------------------

def flip_horizontal(x: np.ndarray) -> np.ndarray:
    """Mirror every image left-right."""
    return _batch(x)[:, :, ::-1, :].copy()


def crop(x: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    """The same window ``[top:top+height, left:left+width]`` of every image."""
    x = _batch(x)
    if top < 0 or left < 0 or top + height > x.shape[1] or left + width > x.shape[2]:
        raise ValueError(f"crop: window ({top}, {left}, {height}, {width}) outside "
                         f"{x.shape[1]}x{x.shape[2]}")
    return x[:, top:top + height, left:left + width, :].copy()


def resize_bilinear(x: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Bilinear resize of every image to ``size`` (half-pixel centres, like cv2/TF resize)."""
    x = _batch(x)
    oh, ow = (size, size) if isinstance(size, int) else size
    n, h, w, c = x.shape

    def axis(out: int, inp: int):
        pos = np.clip((np.arange(out) + 0.5) * inp / out - 0.5, 0, inp - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, inp - 1)
        return lo, hi, (pos - lo).astype(x.dtype)

    y0, y1, fy = axis(oh, h)
    x0, x1, fx = axis(ow, w)
    top = x[:, y0] * (1 - fy)[None, :, None, None] + x[:, y1] * fy[None, :, None, None]
    out = top[:, :, x0] * (1 - fx)[None, None, :, None] + top[:, :, x1] * fx[None, None, :, None]
    return out.astype(x.dtype, copy=False)


def affine(x: np.ndarray, matrices: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """Warp each image by a 2x3 matrix mapping OUTPUT (row, col) to INPUT coordinates,
    sampled bilinearly about the image centre; pixels from outside get ``fill``."""
    x = _batch(x)
    n, h, w, c = x.shape
    mats = np.broadcast_to(np.asarray(matrices, np.float64), (n, 2, 3))
    cy, cx = (h - 1) / 2, (w - 1) / 2
    rr, cc = np.meshgrid(np.arange(h) - cy, np.arange(w) - cx, indexing="ij")
    a = mats[:, :, :, None, None]  # (N, 2, 3, 1, 1): the whole batch at once
    sr = a[:, 0, 0] * rr + a[:, 0, 1] * cc + a[:, 0, 2] + cy  # (N, H, W) source rows
    sc = a[:, 1, 0] * rr + a[:, 1, 1] * cc + a[:, 1, 2] + cx
    r0, c0 = np.floor(sr).astype(np.intp), np.floor(sc).astype(np.intp)
    fr, fc = (sr - r0)[..., None], (sc - c0)[..., None]
    nidx = np.arange(n)[:, None, None]
    acc = np.zeros((n, h, w, c), np.float64)
    for dr, dc, wt in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc),
                       (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        rr_, cc_ = r0 + dr, c0 + dc
        ok = ((rr_ >= 0) & (rr_ < h) & (cc_ >= 0) & (cc_ < w))[..., None]
        vals = x[nidx, np.clip(rr_, 0, h - 1), np.clip(cc_, 0, w - 1)]
        acc += wt * np.where(ok, vals, fill)
    return acc.astype(x.dtype, copy=False)


def rotation_matrix(degrees: float) -> np.ndarray:
    """2x3 matrix (output -> input) rotating an image by ``degrees`` counter-clockwise."""
    t = math.radians(degrees)
    return np.array([[math.cos(t), math.sin(t), 0.0], [-math.sin(t), math.cos(t), 0.0]])


def shear_matrix(shear: float) -> np.ndarray:
    """2x3 matrix (output -> input) shearing columns by ``shear`` per row from the centre."""
    return np.array([[1.0, 0.0, 0.0], [shear, 1.0, 0.0]])


def pca_color_basis(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (C,) and eigenvectors (C, C, columns) of the pixel colour covariance."""
    x = _batch(x)
    pix = x.reshape(-1, x.shape[-1]).astype(np.float64)
    vals, vecs = np.linalg.eigh(np.cov(pix, rowvar=False).reshape(x.shape[-1], x.shape[-1]))
    return np.clip(vals, 0, None), vecs


# --- random ops: op(x, rng) -> x' ------------------------------------------------------------

class RandomFlip:
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, x, rng):
        x = _batch(x).copy()
        flip = rng.random(x.shape[0]) < self.p
        x[flip] = x[flip][:, :, ::-1, :]
        return x


class RandomCrop:
    """Pad by ``padding`` (zeros) then cut a random ``size`` window from each image."""

    def __init__(self, size: int | tuple[int, int], padding: int = 0):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding = int(padding)

    def __call__(self, x, rng):
        x = _batch(x)
        p = self.padding
        if p:
            x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
        h, w = self.size
        if h > x.shape[1] or w > x.shape[2]:
            raise ValueError(f"RandomCrop: {self.size} larger than the (padded) image "
                             f"{x.shape[1:3]}")
        tops = rng.integers(0, x.shape[1] - h + 1, x.shape[0])
        lefts = rng.integers(0, x.shape[2] - w + 1, x.shape[0])
        return np.stack([x[i, t:t + h, s:s + w] for i, (t, s) in enumerate(zip(tops, lefts,
                                                                                 strict=True))])


class ColorShift:
    """Add a random offset in ``[-max_shift, max_shift]`` to each channel of each image."""

    def __init__(self, max_shift: float = 0.1):
        self.max_shift = float(max_shift)

    def __call__(self, x, rng):
        x = _batch(x)
        shift = rng.uniform(-self.max_shift, self.max_shift, (x.shape[0], 1, 1, x.shape[3]))
        return (x + shift).astype(x.dtype, copy=False)


class PCAColor:
    """AlexNet's colour augmentation: add ``vecs @ (alpha * vals)`` to every pixel of an image,
    ``alpha ~ N(0, std)`` drawn per image. Fit the basis on training data with :meth:`fit`."""

    def __init__(self, std: float = 0.1, eigvals=None, eigvecs=None):
        self.std = float(std)
        self.eigvals = None if eigvals is None else np.asarray(eigvals, np.float64)
        self.eigvecs = None if eigvecs is None else np.asarray(eigvecs, np.float64)

    def fit(self, x: np.ndarray) -> PCAColor:
        self.eigvals, self.eigvecs = pca_color_basis(x)
        return self

    def __call__(self, x, rng):
        x = _batch(x)
        if self.eigvals is None:
            raise RuntimeError("PCAColor: call .fit(training_images) first")
        alpha = rng.normal(0.0, self.std, (x.shape[0], x.shape[3]))
        delta = (alpha * self.eigvals) @ self.eigvecs.T  # (N, C)
        return (x + delta[:, None, None, :]).astype(x.dtype, copy=False)


class RandomRotation:
    """Rotate each image by an angle uniform in ``[-max_degrees, max_degrees]``."""

    def __init__(self, max_degrees: float = 10.0, fill: float = 0.0):
        self.max_degrees, self.fill = float(max_degrees), fill

    def __call__(self, x, rng):
        x = _batch(x)
        angles = rng.uniform(-self.max_degrees, self.max_degrees, x.shape[0])
        return affine(x, np.stack([rotation_matrix(a) for a in angles]), self.fill)


class RandomShear:
    """Shear each image by a factor uniform in ``[-max_shear, max_shear]``."""

    def __init__(self, max_shear: float = 0.2, fill: float = 0.0):
        self.max_shear, self.fill = float(max_shear), fill

    def __call__(self, x, rng):
        x = _batch(x)
        s = rng.uniform(-self.max_shear, self.max_shear, x.shape[0])
        return affine(x, np.stack([shear_matrix(v) for v in s]), self.fill)


class Compose:
    """Apply ops in order, all drawing from the same generator."""

    def __init__(self, ops: Sequence[Aug]):
        self.ops = list(ops)

    def __call__(self, x, rng):
        for op in self.ops:
            x = op(x, rng)
        return x

    def __repr__(self) -> str:
        return f"Compose({self.ops!r})"
