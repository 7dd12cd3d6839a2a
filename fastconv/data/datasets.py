"""Real data shipped inside installed packages (never downloaded at run time).

- :func:`load_digits`: scikit-learn's 1,797 handwritten digits (8x8, 0..16), upsampled to
  LeNet-5's 32x32 and split into a stratified train / held-out test set.
- :func:`sample_photos`: real photographs shipped by scikit-image or scikit-learn, for the
  augmentation examples.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence

import numpy as np

from .augment import resize_bilinear


def stratified_split(y: np.ndarray, test_fraction: float, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (train, test): ``test_fraction`` of every class held out, chosen by ``seed``."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction: must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for k in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == k))
        n_test = int(round(len(idx) * test_fraction))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 8, 8) in 0..16, labels) from the CSV that scikit-learn ships.

    The file is read directly when it can be found: importing scikit-learn pulls in SciPy
    and costs seconds; its ``load_digits`` is the fallback.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ImportError("the digits dataset needs scikit-learn: pip install 'fastconv[data]'")
    for root in spec.submodule_search_locations or []:
        path = os.path.join(root, "datasets", "data", "digits.csv.gz")
        if os.path.isfile(path):
            data = np.loadtxt(path, delimiter=",", dtype=np.float64)
            if data.shape == (1797, 65):
                return data[:, :64].reshape(-1, 8, 8), data[:, 64].astype(np.int64)
    from sklearn.datasets import load_digits as sk_load_digits

    d = sk_load_digits()
    return d.images, d.target.astype(np.int64)


def load_digits(size: int = 32, *, test_fraction: float = 0.2, seed: int = 0,
                classes: Sequence[int] | None = None, relabel: bool = True):
    """``((x_train, y_train), (x_test, y_test))`` from scikit-learn's handwritten digits.

    Images are float32 NHWC ``(N, size, size, 1)`` in [0, 1] (bilinear upsampling of the
    8x8 originals); labels int64. ``classes`` keeps only those digits (relabelled 0..k-1 in
    the given order when ``relabel``). Needs scikit-learn (the ``data`` extra).
    """
    images, y = _digits_arrays()
    x = (images.astype(np.float32) / 16.0)[..., None]
    if classes is not None:
        classes = [int(c) for c in classes]
        keep = np.isin(y, classes)
        x, y = x[keep], y[keep]
        if relabel:
            lut = np.full(10, -1, np.int64)
            lut[classes] = np.arange(len(classes))
            y = lut[y]
    if size != 8:
        x = np.clip(resize_bilinear(x, size), 0.0, 1.0)
    tr, te = stratified_split(y, test_fraction, seed)
    return (x[tr], y[tr]), (x[te], y[te])


def sample_photos(size: int | None = None) -> dict[str, np.ndarray]:
    """Real RGB photographs as float32 (H, W, 3) in [0, 1], keyed by name.

    From scikit-image (astronaut, coffee, chelsea) if installed, else scikit-learn's
    ``load_sample_images`` (china, flower). ``size`` resizes them to ``size x size``.
    """
    photos: dict[str, np.ndarray] = {}
    try:
        from skimage import data as skdata

        for name in ("astronaut", "coffee", "chelsea"):
            photos[name] = getattr(skdata, name)()
    except ImportError:
        try:
            from sklearn.datasets import load_sample_images

            s = load_sample_images()
            for fname, img in zip(s.filenames, s.images, strict=True):
                photos[fname.rsplit("/", 1)[-1].split(".")[0]] = img
        except ImportError as e:
            raise ImportError("sample photos need scikit-image or scikit-learn (with Pillow)"
                              ) from e
    out = {}
    for k, v in photos.items():
        img = np.asarray(v, np.float32)[..., :3] / 255.0
        if size is not None:
            img = resize_bilinear(img[None], size)[0]
        out[k] = img
    return out
