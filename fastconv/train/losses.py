"""Losses: a value (mean over the batch) and its gradient with respect to the model output.

Models end with a linear layer that produces *logits*; the softmax lives inside the loss
(numerically stable log-sum-exp, and the gradient collapses to ``(p - t) / N``).
"""

from __future__ import annotations

import numpy as np

from ..ops import loss as _ops


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of softmax(logits) against int labels (N,) or targets (N, K)
    (the fastconv op: validated, dispatched to the current backend)."""
    return _ops.softmax_cross_entropy(logits, labels)


def softmax_cross_entropy_backward(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Gradient of the mean softmax cross-entropy: ``(softmax(logits) - t) / N``."""
    return _ops.softmax_cross_entropy_backward(logits, labels)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))  # never overflows
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def binary_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean binary cross-entropy of sigmoid(logits) against 0/1 targets (same shape)."""
    z = np.asarray(logits, np.float64)
    t = np.asarray(targets, np.float64).reshape(z.shape)
    # log(1 + e^-|z|) + max(z, 0) - z t  ==  -t log s - (1 - t) log(1 - s), without overflow
    return float(np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))))


def binary_cross_entropy_backward(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Gradient of the mean binary cross-entropy: ``(sigmoid(z) - t) / size``."""
    z = np.asarray(logits)
    t = np.asarray(targets, z.dtype).reshape(z.shape)
    return ((_sigmoid(z) - t) / z.size).astype(z.dtype, copy=False)


class Loss:
    """A named loss: ``loss(y_pred, y_true) -> float``, ``loss.backward(y_pred, y_true) -> dy``,
    ``loss.value_and_grad(y_pred, y_true) -> (float, dy)`` (one pass where the loss has one)."""

    def __init__(self, name: str, value, grad, value_and_grad=None):
        self.name, self._value, self._grad = name, value, grad
        self._value_and_grad = value_and_grad

    def __call__(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        return self._value(y_pred, y_true)

    def backward(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        return self._grad(y_pred, y_true)

    def value_and_grad(self, y_pred: np.ndarray, y_true: np.ndarray) -> tuple[float, np.ndarray]:
        if self._value_and_grad is not None:
            return self._value_and_grad(y_pred, y_true)
        return self._value(y_pred, y_true), self._grad(y_pred, y_true)

    def __repr__(self) -> str:
        return f"Loss({self.name!r})"


_CE = ("softmax_cross_entropy", softmax_cross_entropy, softmax_cross_entropy_backward,
       _ops.softmax_cross_entropy_with_grad)
_BCE = ("binary_cross_entropy", binary_cross_entropy, binary_cross_entropy_backward)
LOSSES = {
    "sparse_categorical_crossentropy": _CE,  # Keras names; labels int (N,)
    "categorical_crossentropy": _CE,         # labels one-hot (N, K)
    "softmax_cross_entropy": _CE,
    "cross_entropy": _CE,
    "binary_crossentropy": _BCE,
    "binary_cross_entropy": _BCE,
}


def get(loss: str | Loss) -> Loss:
    """A Loss from its name (Keras spellings accepted) or a Loss passed through."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss.lower() in LOSSES:
        return Loss(*LOSSES[loss.lower()])
    raise ValueError(f"loss: unknown loss {loss!r}; choose from {sorted(LOSSES)}")
