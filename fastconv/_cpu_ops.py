"""Adapters from validated arguments to the C++ pooling, batch-norm and element-wise kernels.

Each adapter takes its reference function's arguments, normalised (pairs, ((t, b), (l, r))
paddings) and validated (C-contiguous float32 arrays), plus ``out=`` where the op has one.
Small, weight- or logit-sized ops (fold_batch_norm, softmax, cross-entropy) run in float32
NumPy: there is nothing for a kernel to win there, except the training step's cross-entropy
with its gradient (int labels), whose dozen NumPy calls cost ~50 us a LeNet step. dense has
its own kernels: NumPy's BLAS would bring a second thread pool whose workers spin after
each call, on the cores the conv kernels' OpenMP threads need next (batch-1 inference lost
up to half its speed to it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _C, reference
from .reference.norm import update_running


def _pads(padding) -> tuple[int, int, int, int]:
    (t, b), (l, r) = padding
    return (t, b, l, r)


# ---------------------------------------------------------------- pooling

def max_pool2d(x: np.ndarray, pool_size, stride, padding, *, out=None) -> np.ndarray:
    return _C.max_pool2d_forward(x, tuple(pool_size), tuple(stride), _pads(padding), out)


def max_pool2d_backward(dy: np.ndarray, x: np.ndarray, pool_size, stride, padding
                        ) -> np.ndarray:
    # The argmax is recomputed from x (the forward stores no index array).
    return _C.max_pool2d_backward(dy, x, tuple(pool_size), tuple(stride), _pads(padding))


def avg_pool2d(x: np.ndarray, pool_size, stride, padding, *, count_include_pad: bool = False,
               out=None) -> np.ndarray:
    return _C.avg_pool2d_forward(x, tuple(pool_size), tuple(stride), _pads(padding),
                                 count_include_pad, out)


def avg_pool2d_backward(dy: np.ndarray, x: np.ndarray, pool_size, stride, padding, *,
                        count_include_pad: bool = False, through_tanh: bool = False
                        ) -> np.ndarray:
    return _C.avg_pool2d_backward(dy, x, tuple(pool_size), tuple(stride), _pads(padding),
                                  count_include_pad, through_tanh)


def global_avg_pool2d(x: np.ndarray) -> np.ndarray:
    return _C.global_avg_pool2d_forward(x)


def global_avg_pool2d_backward(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    return _C.global_avg_pool2d_backward(dy, x)


# ---------------------------------------------------------------- batch norm

def batch_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean=None,
               running_var=None, *, training: bool = False, momentum: float = 0.99,
               eps: float = 1e-3, relu: bool = False, return_stats: bool = False,
               residual=None):
    if training:
        y, mean, var, invstd = _C.batch_norm_forward_train(x, gamma, beta, eps, relu, None,
                                                           residual)
        update_running(running_mean, running_var, mean, var, momentum)
        mean = mean.astype(np.float32)
    else:
        y = _C.batch_norm_forward_infer(x, gamma, beta, running_mean, running_var, eps, relu,
                                        None, residual)
        if not return_stats:
            return y
        mean = running_mean.copy()
        invstd = (1.0 / np.sqrt(running_var.astype(np.float64) + eps)).astype(np.float32)
    return (y, mean, invstd) if return_stats else y


def batch_norm_backward(dy: np.ndarray, x: np.ndarray, gamma: np.ndarray, mean: np.ndarray,
                        invstd: np.ndarray, *, training: bool = True, y=None):
    dx, dgamma, dbeta = _C.batch_norm_backward(dy, x, y, gamma, mean, invstd, training)
    return dx, dgamma, dbeta


def fold_batch_norm(w, b, gamma, beta, mean, var, eps: float = 1e-3):
    """Weight-sized: the float32 NumPy reference is the kernel."""
    return reference.fold_batch_norm(w, b, gamma, beta, mean, var, eps)


# ---------------------------------------------------------------- element-wise, concat

def relu(x: np.ndarray, *, out=None) -> np.ndarray:
    return _C.relu_forward(x, out)


def relu_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _C.relu_backward(dy, y)


def sum_relu_backward(a: np.ndarray, b: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _C.sum_relu_backward(a, b, y)


def tanh_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _C.tanh_backward(dy, y)


def add(a: np.ndarray, b: np.ndarray, *, relu: bool = False, out=None) -> np.ndarray:
    return _C.add_forward(a, b, relu, out)


def add_backward(dy: np.ndarray, y=None) -> tuple[np.ndarray, np.ndarray]:
    g = dy if y is None else _C.relu_backward(dy, y)
    return g, g


def concat(xs: Sequence[np.ndarray], axis: int = -1) -> np.ndarray:
    if axis % xs[0].ndim == xs[0].ndim - 1:
        return _C.concat_last(list(xs))
    return np.concatenate(list(xs), axis=axis)


def concat_backward(dy: np.ndarray, sizes: Sequence[int], axis: int = -1) -> list[np.ndarray]:
    if axis % dy.ndim == dy.ndim - 1:
        return _C.split_last(dy, list(sizes))
    return reference.concat_backward(dy, sizes, axis)


# ------------------------------- logits-sized: NumPy float32 (C++ for the training step's loss)

softmax = reference.softmax


# Cross-entropy with int labels: one C++ pass (the training step's case) serving all three
# ops, so that the loss, the gradient and the pair agree bitwise; one-hot labels: NumPy.
def _sce_int(logits: np.ndarray, labels: np.ndarray) -> bool:
    return labels.ndim == 1 and logits.dtype == np.float32


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    if _sce_int(logits, labels):
        return _C.softmax_cross_entropy_with_grad(logits, labels)[0]
    return reference.softmax_cross_entropy(logits, labels)


def softmax_cross_entropy_backward(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    if _sce_int(logits, labels):
        return _C.softmax_cross_entropy_with_grad(logits, labels)[1]
    return reference.softmax_cross_entropy_backward(logits, labels)


def softmax_cross_entropy_with_grad(logits: np.ndarray, labels: np.ndarray
                                    ) -> tuple[float, np.ndarray]:
    if _sce_int(logits, labels):
        return _C.softmax_cross_entropy_with_grad(logits, labels)
    return reference.softmax_cross_entropy_with_grad(logits, labels)


def dense(x: np.ndarray, w: np.ndarray, b=None, *, relu: bool = False) -> np.ndarray:
    if x.dtype != np.float32:  # float64 compute runs the NumPy reference
        return reference.dense(x, w, b, relu=relu)
    return _C.dense_forward(x, w, b, relu)


def dense_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, *, need_dx: bool = True,
                   need_dw: bool = True, need_db: bool = True):
    if x.dtype != np.float32:
        return reference.dense_backward(dy, x, w, need_dx=need_dx, need_dw=need_dw,
                                        need_db=need_db)
    return _C.dense_backward(dy, x, w, need_dx, need_dw, need_db)


# ---------------------------------------------------------------- optimizers

def adam_update(w: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, *, lr_t: float,
                b1: float, b2: float, c2: float, eps: float, l2: float = 0.0,
                decay: float = 0.0) -> None:
    if w.dtype != np.float32:  # float64 state runs the NumPy reference
        return reference.adam_update(w, g, m, v, lr_t=lr_t, b1=b1, b2=b2, c2=c2, eps=eps,
                                     l2=l2, decay=decay)
    return _C.adam_update(w, g, m, v, lr_t, b1, b2, c2, eps, l2, decay)
