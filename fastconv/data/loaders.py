"""Bring user data into NHWC float32 arrays: NumPy arrays, or a folder with one sub-folder per
class (``root/cat/*.png``, ``root/dog/*.jpg``)."""

from __future__ import annotations

import os

import numpy as np

from .augment import resize_bilinear

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".npy")


def from_arrays(x, y=None, *, scale: float | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Check and convert arrays: images (N, H, W) or (N, H, W, C) -> float32 NHWC, labels ->
    int64 (N,) (or float targets (N, K) kept). ``scale`` divides pixel values (e.g. 255)."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"x: expected images (N, H, W) or (N, H, W, C), got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise TypeError(f"x: expected numeric images, got dtype {x.dtype}")
    x = x.astype(np.float32)
    if scale:
        x /= np.float32(scale)
    if y is None:
        return x, None
    y = np.asarray(y)
    if len(y) != len(x):
        raise ValueError(f"y: {len(y)} labels for {len(x)} images")
    if y.ndim == 1:
        if not np.issubdtype(y.dtype, np.integer):
            if np.any(y != np.round(y)):
                raise TypeError("y: labels must be integer class ids")
        y = y.astype(np.int64)
    elif y.ndim == 2:
        y = y.astype(np.float32)
    else:
        raise ValueError(f"y: expected (N,) labels or (N, K) targets, got shape {y.shape}")
    return x, y


def _read_image(path: str) -> np.ndarray:
    if path.lower().endswith(".npy"):
        return np.load(path, allow_pickle=False)
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError("reading image files needs Pillow: pip install pillow") from e
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB") if im.mode not in ("L", "RGB") else im)


def image_folder(root: str | os.PathLike, size: int | tuple[int, int] = 32, *,
                 grayscale: bool = False) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Load ``root/<class>/<image>`` into ``(x, y, class_names)``: x float32 NHWC in [0, 1]
    resized to ``size``, y int64 class ids in sorted class-name order."""
    root = os.fspath(root)
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if not classes:
        raise ValueError(f"root: {root!r} has no class sub-folders")
    xs, ys = [], []
    channels = 1 if grayscale else 3
    for k, name in enumerate(classes):
        folder = os.path.join(root, name)
        for f in sorted(os.listdir(folder)):
            if not f.lower().endswith(IMAGE_EXTENSIONS):
                continue
            raw = np.asarray(_read_image(os.path.join(folder, f)))
            img = raw.astype(np.float32)
            if np.issubdtype(raw.dtype, np.integer):  # 8/16-bit pixels -> [0, 1]
                img /= np.float32(np.iinfo(raw.dtype).max)
            if img.ndim == 2:
                img = img[..., None]
            if img.shape[-1] == 4:
                img = img[..., :3]
            if img.shape[-1] != channels:
                img = img.mean(-1, keepdims=True) if grayscale else np.repeat(img, 3, -1)
            xs.append(resize_bilinear(img[None], size)[0])
            ys.append(k)
    if not xs:
        raise ValueError(f"root: no images ({', '.join(IMAGE_EXTENSIONS)}) under {root!r}")
    return np.stack(xs).astype(np.float32), np.asarray(ys, np.int64), classes
