import importlib.util

import numpy as np
import pytest

from fastconv.data import from_arrays, image_folder, load_digits, stratified_split

# find_spec, not importorskip: importing scikit-learn (and SciPy) costs seconds; the digits
# are read from the CSV it ships
needs_sklearn = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None,
                                   reason="scikit-learn not installed")


@needs_sklearn
def test_digits_shapes_split_and_range():
    (xtr, ytr), (xte, yte) = load_digits()
    assert xtr.shape[1:] == (32, 32, 1) and xtr.dtype == np.float32
    assert len(xtr) + len(xte) == 1797
    assert abs(len(xte) / 1797 - 0.2) < 0.01
    assert 0 <= xtr.min() and xtr.max() <= 1
    assert set(np.unique(yte)) == set(range(10))
    (a, _), _ = load_digits(seed=0)
    np.testing.assert_array_equal(a, xtr)  # same seed, same split
    (_, ysub), _ = load_digits(8, classes=[7, 3])
    assert set(np.unique(ysub)) == {0, 1}


@needs_sklearn
def test_digits_relabel_order():
    from fastconv.data.datasets import _digits_arrays

    images, target = _digits_arrays()
    assert images.shape == (1797, 8, 8) and np.bincount(target).min() >= 170
    (x, y), _ = load_digits(8, classes=[7, 3], test_fraction=0.5)
    # images labelled 0 are sevens: compare with the raw data
    raw7 = (images[target == 7] / 16.0).astype(np.float32)
    assert any(np.array_equal(x[i, ..., 0], raw7[j]) for i in np.flatnonzero(y == 0)[:1]
               for j in range(len(raw7)))


def test_stratified_split_is_per_class():
    y = np.repeat([0, 1], [50, 10])
    tr, te = stratified_split(y, 0.2, seed=1)
    assert np.sum(y[te] == 0) == 10 and np.sum(y[te] == 1) == 2
    assert not set(tr) & set(te)


def test_from_arrays():
    x, y = from_arrays(np.zeros((3, 4, 4), np.uint8) + 255, [0, 1, 2], scale=255)
    assert x.shape == (3, 4, 4, 1) and x.dtype == np.float32 and x.max() == 1
    assert y.dtype == np.int64
    with pytest.raises(ValueError, match="labels"):
        from_arrays(np.zeros((3, 4, 4)), [0, 1])
    with pytest.raises(TypeError, match="integer"):
        from_arrays(np.zeros((2, 4, 4)), [0.5, 1])


def test_image_folder(tmp_path):
    for k, name in enumerate(["cat", "dog"]):
        (tmp_path / name).mkdir()
        for i in range(2):
            np.save(tmp_path / name / f"{i}.npy", np.full((6, 6, 3), 100 * k + i, np.uint8))
    (tmp_path / "notes.txt").write_text("ignored")
    x, y, names = image_folder(tmp_path, size=4)
    assert names == ["cat", "dog"] and list(y) == [0, 0, 1, 1]
    assert x.shape == (4, 4, 4, 3)
    np.testing.assert_allclose(x[3], 101 / 255, rtol=1e-6)


def test_sample_photos_are_real_rgb_images():
    try:
        import skimage  # noqa: F401
    except ImportError:
        pytest.importorskip("sklearn")
        pytest.importorskip("PIL")
    from fastconv.data import sample_photos

    photos = sample_photos(size=48)
    assert len(photos) >= 2
    for img in photos.values():
        assert img.shape == (48, 48, 3) and img.dtype == np.float32
        assert 0 <= img.min() and img.max() <= 1 and img.std() > 0.05
