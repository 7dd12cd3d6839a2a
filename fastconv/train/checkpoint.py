"""Weights on disk as ``.npz`` (no pickle), written atomically.

The new file is written next to the target under a temporary name, flushed and fsync'ed, then
``os.replace``'d over the target: a crash at any moment leaves either the old file or the new
one, never a torn one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping

import numpy as np


def atomic_save_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> str:
    """Write ``arrays`` to ``path`` (.npz appended if missing) via write-then-rename."""
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{k: np.asarray(v) for k, v in arrays.items()})
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return path


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of an .npz file, loaded with ``allow_pickle=False``."""
    with np.load(os.fspath(path), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def save_weights(model, path: str | os.PathLike) -> str:
    """``model.state_dict()`` (parameters and BN running statistics) to an atomic .npz."""
    return atomic_save_npz(path, model.state_dict())


def load_weights(model, path: str | os.PathLike, strict: bool = True) -> None:
    """Load an .npz written by :func:`save_weights` into ``model``."""
    model.load_state_dict(load_npz(path), strict=strict)
