"""Callbacks hooked into ``fit``: checkpointing and early stopping (Keras's names)."""

from __future__ import annotations

import math
import os

import numpy as np

from .checkpoint import atomic_save_npz


class Callback:
    """Base: override any hook. ``fit`` sets ``self.model``; set ``stop_training`` to stop."""

    model = None
    stop_training = False

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: dict | None = None) -> None: ...


class _Monitor:
    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0):
        if mode == "auto":
            mode = "max" if any(s in monitor for s in ("acc", "top")) else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"mode: expected 'min', 'max' or 'auto', got {mode!r}")
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(min_delta)
        self.best = math.inf if mode == "min" else -math.inf

    def value(self, logs: dict | None) -> float | None:
        if not logs or self.monitor not in logs:
            return None
        return float(logs[self.monitor])

    def improved(self, v: float) -> bool:
        if self.mode == "min":
            return v < self.best - self.min_delta
        return v > self.best + self.min_delta


class ModelCheckpoint(Callback):
    """Save ``model.state_dict()`` to ``path`` after each epoch (or only when it improves).

    ``path`` may contain ``{epoch}`` and any log key, e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}"``.
    Writes are atomic (temp file, fsync, rename): an interrupted save keeps the last good file.
    """

    def __init__(self, path: str | os.PathLike, monitor: str = "val_loss",
                 save_best_only: bool = False, mode: str = "auto"):
        self.path = os.fspath(path)
        self.save_best_only = save_best_only
        self._m = _Monitor(monitor, mode)
        self.last_saved: str | None = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self.save_best_only:
            v = self._m.value(logs)
            if v is None and self._m.monitor.startswith("val_"):  # no validation data
                v = logs.get(self._m.monitor[4:])
            if v is None or not self._m.improved(v):
                return
            self._m.best = v
        path = self.path.format(epoch=epoch + 1, **logs)
        self.last_saved = atomic_save_npz(path, self.model.state_dict())


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor: str = "val_loss", patience: int = 3, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = False):
        self._m = _Monitor(monitor, mode, min_delta)
        self.patience, self.restore_best_weights = int(patience), restore_best_weights
        self.wait, self.stopped_epoch, self.best_epoch = 0, None, None
        self._best_state: dict[str, np.ndarray] | None = None

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.stop_training = 0, None, False
        self._m.best = math.inf if self._m.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        v = self._m.value(logs)
        if v is None:
            return
        if self._m.improved(v):
            self._m.best, self.wait, self.best_epoch = v, 0, epoch
            if self.restore_best_weights:
                self._best_state = {k: np.array(a, copy=True)
                                    for k, a in self.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch, self.stop_training = epoch, True

    def on_train_end(self, logs=None):
        if self.stop_training and self._best_state is not None:
            self.model.load_state_dict(self._best_state)


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=f)``."""

    def __init__(self, **hooks):
        for name, fn in hooks.items():
            if not name.startswith("on_"):
                raise ValueError(f"{name}: hooks are named on_*")
            setattr(self, name, fn)
