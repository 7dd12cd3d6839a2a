import numpy as np
import pytest

from fastconv.train import checkpoint


def test_roundtrip_without_pickle(tmp_path):
    d = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b.c": np.ones(2)}
    p = checkpoint.atomic_save_npz(tmp_path / "w", d)
    assert p.endswith("w.npz")
    back = checkpoint.load_npz(p)
    assert back.keys() == d.keys()
    for k in d:
        np.testing.assert_array_equal(back[k], d[k])
    with pytest.raises(ValueError):  # object arrays cannot be loaded: no pickle
        np.savez(tmp_path / "obj.npz", o=np.array([{}], dtype=object))
        checkpoint.load_npz(tmp_path / "obj.npz")


def test_crash_mid_save_keeps_last_good_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    good = {"w": np.full(1000, 1.0, np.float32)}
    checkpoint.atomic_save_npz(path, good)
    before = path.read_bytes()

    real = np.savez

    def crashing_savez(f, **arrays):
        real(f, **arrays)          # the bytes hit the temp file ...
        f.write(b"half a zip")
        raise OSError("disk full")  # ... and the process "dies" before the rename

    monkeypatch.setattr(np, "savez", crashing_savez)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.atomic_save_npz(path, {"w": np.zeros(1000, np.float32)})
    monkeypatch.undo()
    assert path.read_bytes() == before
    np.testing.assert_array_equal(checkpoint.load_npz(path)["w"], good["w"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz"]  # temp file cleaned


def test_kill_before_rename_leaves_old_file(tmp_path, monkeypatch):
    # interrupted between the write and the rename: old target intact, temp file removed
    path = tmp_path / "ckpt.npz"
    checkpoint.atomic_save_npz(path, {"w": np.ones(3)})
    import os

    def die(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", die)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.atomic_save_npz(path, {"w": np.zeros(3)})
    monkeypatch.undo()
    np.testing.assert_array_equal(checkpoint.load_npz(path)["w"], np.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz"]
