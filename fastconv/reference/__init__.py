"""Plain NumPy implementation of every fastconv op, forward and backward.

The oracle for the tests and the selectable slow backend (``fastconv.set_backend('numpy')``).
Works in float32 and float64: results have the inputs' (promoted) dtype.
Layout: activations NHWC, convolution weights HWIO ``(f_h, f_w, C / groups, K)``.
"""

from .conv import conv2d, conv2d_backward
from .dense import dense, dense_backward
from .eltwise import (
    add,
    add_backward,
    concat,
    concat_backward,
    relu,
    relu_backward,
    sum_relu_backward,
    tanh_backward,
)
from .loss import (
    softmax,
    softmax_cross_entropy,
    softmax_cross_entropy_backward,
    softmax_cross_entropy_with_grad,
)
from .norm import batch_norm, batch_norm_backward, fold_batch_norm
from .optim import adam_update
from .pool import (
    avg_pool2d,
    avg_pool2d_backward,
    global_avg_pool2d,
    global_avg_pool2d_backward,
    max_pool2d,
    max_pool2d_backward,
)

__all__ = [
    "adam_update",
    "add",
    "add_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "batch_norm",
    "batch_norm_backward",
    "concat",
    "concat_backward",
    "conv2d",
    "conv2d_backward",
    "dense",
    "dense_backward",
    "fold_batch_norm",
    "global_avg_pool2d",
    "global_avg_pool2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "relu",
    "relu_backward",
    "sum_relu_backward",
    "softmax",
    "softmax_cross_entropy",
    "softmax_cross_entropy_backward",
    "softmax_cross_entropy_with_grad",
    "tanh_backward",
]
