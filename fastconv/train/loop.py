"""Keras-style training: ``compile``, ``fit``, ``evaluate``, ``predict`` for fastconv models.

A model here is anything with the fastconv.nn contract: ``model(x, training=...)`` returning
logits (a list ``[main, aux1, ...]`` for multi-output models in training),
``model.backward(dy)`` setting ``Parameter.grad``, ``model.trainable_parameters()`` and
``model.state_dict()`` / ``load_state_dict()`` (for checkpoints).
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..data.pipeline import BatchLoader
from . import losses as _losses
from . import metrics as _metrics
from . import optimizers as _optimizers
from .callbacks import Callback
from .history import History
from .progress import ProgressBar

#: GoogLeNet's weight for each auxiliary classifier's loss during training.
AUX_LOSS_WEIGHT = 0.3


@dataclass
class TrainingConfig:
    """What ``compile`` attaches to a model as ``model.training_config``."""

    optimizer: _optimizers.Optimizer
    loss: _losses.Loss
    metrics: list = field(default_factory=list)  # [(name, fn)]
    loss_weights: list[float] | None = None


def compile(model, optimizer="adam", loss="sparse_categorical_crossentropy",
            metrics: Sequence = (), loss_weights: Sequence[float] | None = None):
    """Attach an optimizer, a loss and metrics to ``model`` (returns the model).

    ``loss_weights`` weighs the outputs of a multi-output model in training; by default the
    main output weighs 1 and each auxiliary head ``AUX_LOSS_WEIGHT`` (0.3, GoogLeNet).
    """
    if loss_weights is None:  # a model may carry its own hint (GoogLeNet: [1, 0.3, 0.3])
        loss_weights = getattr(model, "loss_weights", None)
    model.training_config = TrainingConfig(
        _optimizers.get(optimizer), _losses.get(loss), [_metrics.get(m) for m in metrics],
        None if loss_weights is None else [float(w) for w in loss_weights])
    return model


def _backward_fn(model):
    """``model.backward`` without the input gradient when the model can skip it (nothing
    consumes dL/dx, and backpropagation may stop below the last trainable layer)."""
    try:
        if "input_grad" in inspect.signature(model.backward).parameters:
            return lambda dy: model.backward(dy, input_grad=False)
    except (TypeError, ValueError):
        pass
    return model.backward


def _config(model) -> TrainingConfig:
    cfg = getattr(model, "training_config", None)
    if cfg is None:
        raise RuntimeError("model is not compiled: call compile(model, optimizer, loss) first")
    return cfg


def _as_inputs(x) -> np.ndarray:
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x: expected float images, got dtype {x.dtype}")
    return x.astype(np.float32, copy=False)


def _check_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_inputs(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"y: {len(y)} labels for {len(x)} inputs")
    if len(x) == 0:
        raise ValueError("x: no samples")
    return x, y


def _loss_and_grads(cfg: TrainingConfig, out, y) -> tuple[float, object]:
    """Weighted total loss and the gradient(s) for ``model.backward``."""
    if not isinstance(out, (list, tuple)):
        return cfg.loss.value_and_grad(out, y)
    weights = cfg.loss_weights or [1.0] + [AUX_LOSS_WEIGHT] * (len(out) - 1)
    if len(weights) != len(out):
        raise ValueError(f"loss_weights: {len(weights)} weights for {len(out)} outputs")
    total, grads = 0.0, []
    for w, o in zip(weights, out, strict=True):
        value, g = cfg.loss.value_and_grad(o, y)
        total += w * value
        grads.append(g * np.asarray(w, g.dtype))
    return total, grads


def predict(model, x, *, batch_size: int = 32) -> np.ndarray:
    """Inference outputs (logits) of ``model`` on ``x``, in batches."""
    x = _as_inputs(x)
    outs = []
    for i in range(0, len(x), batch_size):
        o = model(x[i:i + batch_size], training=False)
        outs.append(o[0] if isinstance(o, (list, tuple)) else o)
    return np.concatenate(outs)


def evaluate(model, x, y, *, batch_size: int = 32, verbose: int = 0) -> dict[str, float]:
    """``{'loss': ..., <metric>: ...}`` on ``(x, y)`` at inference (main output only)."""
    cfg = _config(model)
    x, y = _check_xy(x, y)
    out = predict(model, x, batch_size=batch_size)
    logs = {"loss": cfg.loss(out, y)}
    for name, fn in cfg.metrics:
        logs[name] = fn(out, y)
    if verbose:
        print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
    return logs


def fit(model, x, y, *, epochs: int = 1, batch_size: int = 32, validation_data=None,
        validation_split: float = 0.0, shuffle: bool = True, callbacks: Sequence[Callback] = (),
        verbose: int = 1, seed: int | None = None, augment=None, workers: int = 1) -> History:
    """Train ``model`` on ``(x, y)``; returns a :class:`History` of per-epoch logs.

    ``validation_split`` holds out the last fraction of ``x`` (before shuffling), as Keras.
    ``seed`` fixes the shuffling and the augmentation. ``augment(x, rng)`` (see
    fastconv.data.augment) runs on ``workers`` background threads feeding the batches.
    ``verbose=1`` shows a progress bar per epoch with the running loss and metrics.
    """
    cfg = _config(model)
    x, y = _check_xy(x, y)
    if epochs < 0 or batch_size < 1:
        raise ValueError("epochs must be >= 0 and batch_size >= 1")
    if validation_data is None and validation_split:
        if not 0 < validation_split < 1:
            raise ValueError(f"validation_split: must be in (0, 1), got {validation_split}")
        n_val = max(1, int(round(len(x) * validation_split)))
        x, y, validation_data = x[:-n_val], y[:-n_val], (x[-n_val:], y[-n_val:])
    loader = BatchLoader(x, y, batch_size, shuffle=shuffle, augment=augment, seed=seed,
                         workers=workers if augment is not None else 0)
    history = History()
    history.params = {"epochs": epochs, "batch_size": batch_size, "samples": len(x),
                      "steps": len(loader)}
    callbacks = list(callbacks)
    for cb in callbacks:
        cb.model = model
        cb.on_train_begin()
    opt = cfg.optimizer
    backward = _backward_fn(model)
    stop = False
    for epoch in range(epochs):
        opt.set_epoch(epoch)
        for cb in callbacks:
            cb.on_epoch_begin(epoch)
        bar = ProgressBar(len(loader), f"Epoch {epoch + 1}/{epochs}", enabled=verbose > 0)
        sums = {"loss": 0.0, **{n: 0.0 for n, _ in cfg.metrics}}
        seen = 0
        logs: dict[str, float] = {}
        for b, (xb, yb) in enumerate(loader.batches(epoch)):
            out = model(xb, training=True)
            loss, dy = _loss_and_grads(cfg, out, yb)
            if not math.isfinite(loss):
                warnings.warn(f"loss became {loss} at epoch {epoch + 1}, batch {b}: stopping",
                              RuntimeWarning, stacklevel=2)
                stop = True
                break
            backward(dy)
            params = model.trainable_parameters()
            opt.step(params)
            for p in params:  # like torch's zero_grad(set_to_none=True): no gradients are
                p.grad = None  # held through the next forward, the step's memory peak
            main = out[0] if isinstance(out, (list, tuple)) else out
            n = len(xb)
            seen += n
            sums["loss"] += loss * n
            for name, fn in cfg.metrics:
                sums[name] += fn(main, yb) * n
            logs = {k: v / seen for k, v in sums.items()}
            bar.update(1, logs)
            for cb in callbacks:
                cb.on_batch_end(b, logs)
        if validation_data is not None and not stop:
            val = evaluate(model, *validation_data, batch_size=max(batch_size, 128))
            logs.update({f"val_{k}": v for k, v in val.items()})
        logs["lr"] = opt.lr
        bar.close(logs)
        history.append(epoch, logs)
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        if stop or any(cb.stop_training for cb in callbacks):
            break
    for cb in callbacks:
        cb.on_train_end(history.history)
    return history
