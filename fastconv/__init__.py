"""fastconv: fast, readable CNN kernels with a NumPy reference and a Keras-like API.

Activations are NHWC ``(N, H, W, C)``, convolution weights HWIO ``(f_h, f_w, C, K)``.
"""

from . import _C, reference
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

__version__ = _C.__version__

_SUBMODULES = ("nn", "models", "train", "data")


def __getattr__(name: str):  # lazy: `fastconv.nn` without importing every floor at startup
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'fastconv' has no attribute {name!r}")

__all__ = [
    "OPS",
    "conv2d",
    "conv2d_backward",
    "get_backend",
    "get_isa",
    "get_num_threads",
    "info",
    "info_dict",
    "reference",
    "set_backend",
    "set_isa",
    "set_num_threads",
    "supported_isas",
    "use_backend",
    "use_isa",
]
