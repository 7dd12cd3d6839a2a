"""fastconv: fast, readable CNN kernels with a NumPy reference and a Keras-like API.

Activations are NHWC ``(N, H, W, C)``, convolution weights HWIO ``(f_h, f_w, C, K)``.
"""

import os as _os

# libgomp's workers spin ~300k iterations after every parallel region by default; beside
# NumPy's OpenBLAS threads and the Python thread on small machines that spinning starved the
# other threads (a LeNet-5 epoch ran 4x slower on 2 threads than on 1). Read once when
# libgomp loads with _C; set GOMP_SPINCOUNT or OMP_WAIT_POLICY yourself to override.
if "OMP_WAIT_POLICY" not in _os.environ:
    _os.environ.setdefault("GOMP_SPINCOUNT", "10000")

from . import _C, reference  # noqa: E402
from ._backend import (
    get_backend,
    get_isa,
    get_num_threads,
    set_backend,
    set_isa,
    set_num_threads,
    supported_isas,
    use_backend,
    use_isa,
)
from ._info import info, info_dict
from ._optable import OPS
from .ops.conv import conv2d, conv2d_backward
from .ops.conv_packed import PackedConv2d
from .ops.dense import dense, dense_backward
from .ops.eltwise import (
    add,
    add_backward,
    concat,
    concat_backward,
    relu,
    relu_backward,
    sum_relu_backward,
    tanh_backward,
)
from .ops.loss import (
    softmax,
    softmax_cross_entropy,
    softmax_cross_entropy_backward,
    softmax_cross_entropy_with_grad,
)
from .ops.norm import batch_norm, batch_norm_backward, fold_batch_norm
from .ops.optim import adam_update
from .ops.pool import (
    avg_pool2d,
    avg_pool2d_backward,
    global_avg_pool2d,
    global_avg_pool2d_backward,
    max_pool2d,
    max_pool2d_backward,
)

__version__ = _C.__version__

_SUBMODULES = ("nn", "models", "train", "data")


def __getattr__(name: str):  # lazy: `fastconv.nn` without importing every floor at startup
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'fastconv' has no attribute {name!r}")

__all__ = [
    "OPS",
    "PackedConv2d",
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
    "get_backend",
    "get_isa",
    "get_num_threads",
    "global_avg_pool2d",
    "global_avg_pool2d_backward",
    "info",
    "info_dict",
    "max_pool2d",
    "max_pool2d_backward",
    "reference",
    "relu",
    "relu_backward",
    "set_backend",
    "set_isa",
    "set_num_threads",
    "softmax",
    "softmax_cross_entropy",
    "softmax_cross_entropy_backward",
    "softmax_cross_entropy_with_grad",
    "sum_relu_backward",
    "tanh_backward",
    "supported_isas",
    "use_backend",
    "use_isa",
]
