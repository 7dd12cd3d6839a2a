import numpy as np
import pytest

from fastconv.data import BatchLoader
from fastconv.data import augment as A


def img(n=2, h=4, w=5, c=3):
    return np.arange(n * h * w * c, dtype=np.float32).reshape(n, h, w, c)


def test_flip_and_crop_by_hand():
    x = np.array([[1, 2, 3], [4, 5, 6]], np.float32)[None, ..., None]
    np.testing.assert_array_equal(A.flip_horizontal(x)[0, ..., 0], [[3, 2, 1], [6, 5, 4]])
    np.testing.assert_array_equal(A.crop(x, 1, 1, 1, 2)[0, ..., 0], [[5, 6]])
    with pytest.raises(ValueError, match="crop"):
        A.crop(x, 1, 2, 2, 2)


def test_random_flip_p0_p1():
    x, rng = img(), np.random.default_rng(0)
    np.testing.assert_array_equal(A.RandomFlip(0.0)(x, rng), x)
    np.testing.assert_array_equal(A.RandomFlip(1.0)(x, rng), x[:, :, ::-1])


def test_random_crop_windows_come_from_the_padded_image():
    x = img(6, 5, 5, 1)
    out = A.RandomCrop(3, padding=1)(x, np.random.default_rng(0))
    assert out.shape == (6, 3, 3, 1)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    for i in range(6):
        assert any(np.array_equal(out[i], padded[i, t:t + 3, s:s + 3])
                   for t in range(5) for s in range(5))


def test_color_shift_is_constant_per_channel():
    x = img()
    out = A.ColorShift(0.5)(x, np.random.default_rng(1))
    d = out - x
    assert np.allclose(d, d[:, :1, :1, :], atol=1e-4) and np.all(np.abs(d) <= 0.5 + 1e-4)


def test_pca_color_moves_along_the_principal_axis():
    # pixels vary along (1, 1, 0)/sqrt2 only: the shift must lie on that axis
    rng = np.random.default_rng(0)
    t = rng.standard_normal((4, 6, 6, 1))
    x = np.concatenate([t, t, np.zeros_like(t)], -1).astype(np.float32)
    aug = A.PCAColor(std=1.0).fit(x)
    lam = 2 * np.var(t, ddof=1)  # variance along the axis, eigenvalue of the covariance
    np.testing.assert_allclose(aug.eigvals.max(), lam, rtol=1e-5)
    d = aug(x, np.random.default_rng(3)) - x
    assert np.allclose(d[..., 0], d[..., 1], atol=1e-6) and np.allclose(d[..., 2], 0, atol=1e-6)
    assert np.allclose(d, d[:, :1, :1, :], atol=1e-6)  # one colour offset per image
    with pytest.raises(RuntimeError, match="fit"):
        A.PCAColor()(x, rng)


def test_rotation_90_and_identity_shear():
    x = img(1, 5, 5, 2)
    np.testing.assert_allclose(A.affine(x, A.rotation_matrix(90)),
                               np.rot90(x, 1, axes=(1, 2)), atol=1e-4)
    np.testing.assert_allclose(A.affine(x, A.shear_matrix(0.0)), x)
    out = A.RandomRotation(15)(x, np.random.default_rng(0))
    assert out.shape == x.shape
    out = A.RandomShear(0.3)(x, np.random.default_rng(0))
    assert out.shape == x.shape


def test_resize_bilinear():
    x = np.full((1, 3, 3, 1), 2.0, np.float32)
    np.testing.assert_allclose(A.resize_bilinear(x, 7), 2.0)
    r = np.arange(4, dtype=np.float32).reshape(1, 1, 4, 1)
    np.testing.assert_allclose(A.resize_bilinear(r, (1, 2))[0, 0, :, 0], [0.5, 2.5])


def test_compose_is_deterministic_under_a_seed():
    aug = A.Compose([A.RandomFlip(), A.RandomCrop(3, padding=1), A.ColorShift(0.1)])
    x = img(4, 4, 4, 3)
    a = aug(x, np.random.default_rng(5))
    b = aug(x, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


def test_background_loader_deterministic_whatever_the_workers():
    x = img(50, 4, 4, 3)
    y = np.arange(50)
    aug = A.Compose([A.RandomFlip(), A.ColorShift(0.2)])

    def collect(workers):
        ld = BatchLoader(x, y, 8, augment=aug, seed=3, workers=workers, prefetch=2)
        return [(xb.copy(), yb.copy()) for e in range(2) for xb, yb in ld.batches(e)]

    ref = collect(0)
    for w in (1, 3):
        got = collect(w)
        assert len(got) == len(ref) == 14
        for (xa, ya), (xb, yb) in zip(ref, got, strict=True):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)
    # every sample once per epoch, epochs shuffled differently
    ys0 = np.concatenate([yb for _, yb in ref[:7]])
    ys1 = np.concatenate([yb for _, yb in ref[7:]])
    assert sorted(ys0) == list(range(50)) and not np.array_equal(ys0, ys1)


def test_background_loader_propagates_errors_and_stops_early():
    def boom(xb, rng):
        raise ValueError("bad augmentation")

    ld = BatchLoader(img(20), np.arange(20), 4, augment=boom, workers=2)
    with pytest.raises(ValueError, match="bad augmentation"):
        list(ld.batches(0))
    it = BatchLoader(img(20), np.arange(20), 4, workers=2).batches(0)
    next(it)
    it.close()  # abandoning an epoch shuts the workers down
