"""Plain NumPy implementation of every fastconv op, forward and backward.

The oracle for the tests and the selectable slow backend (``fastconv.set_backend('numpy')``).
Works in float32 and float64: results have the inputs' (promoted) dtype.
Layout: activations NHWC, convolution weights HWIO ``(f_h, f_w, C / groups, K)``.
"""

from .conv import conv2d, conv2d_backward

__all__ = ["conv2d", "conv2d_backward"]
