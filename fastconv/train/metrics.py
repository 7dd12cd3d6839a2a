"""Metrics computed on model outputs (logits or probabilities: the ranking is the same)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _class_ids(y_true: np.ndarray) -> np.ndarray:
    y_true = np.asarray(y_true)
    return y_true.argmax(axis=-1) if y_true.ndim == 2 else y_true


def accuracy(y_pred: np.ndarray, y_true: np.ndarray) -> float:
    """Fraction of rows whose arg-max equals the label (int labels or one-hot targets)."""
    return float(np.mean(np.asarray(y_pred).argmax(axis=-1) == _class_ids(y_true)))


def top_k_accuracy(y_pred: np.ndarray, y_true: np.ndarray, k: int = 5) -> float:
    """Fraction of rows whose label is among the k highest scores (ILSVRC's top-5 error)."""
    y_pred = np.asarray(y_pred)
    k = min(k, y_pred.shape[-1])
    top = np.argpartition(-y_pred, k - 1, axis=-1)[:, :k]
    return float(np.mean((top == _class_ids(y_true)[:, None]).any(axis=1)))


def top5_accuracy(y_pred: np.ndarray, y_true: np.ndarray) -> float:
    """top_k_accuracy with k = 5."""
    return top_k_accuracy(y_pred, y_true, 5)


def binary_accuracy(y_pred: np.ndarray, y_true: np.ndarray) -> float:
    """Fraction of logits on the right side of 0 (probability 0.5) for 0/1 targets."""
    y_pred = np.asarray(y_pred)
    return float(np.mean((y_pred > 0) == (np.asarray(y_true).reshape(y_pred.shape) > 0.5)))


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": accuracy,
    "acc": accuracy,
    "top5": top5_accuracy,
    "top_5_accuracy": top5_accuracy,
    "top5_accuracy": top5_accuracy,
    "binary_accuracy": binary_accuracy,
}


def get(metric: str | Callable) -> tuple[str, Callable[[np.ndarray, np.ndarray], float]]:
    """(name, function) from a metric name or a function ``f(y_pred, y_true) -> float``."""
    if callable(metric):
        return getattr(metric, "__name__", "metric"), metric
    if isinstance(metric, str) and metric.lower() in METRICS:
        return metric.lower(), METRICS[metric.lower()]
    raise ValueError(f"metrics: unknown metric {metric!r}; choose from {sorted(METRICS)}")
