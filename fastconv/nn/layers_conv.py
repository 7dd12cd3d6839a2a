"""Conv2D and Dense: the layers with weights, each a thin wrapper over one op pair."""

from __future__ import annotations

import numpy as np

import fastconv as F

from .._args import ConvGeometry, pair
from .activations import ACTIVATIONS, check_activation
from .layer import Layer, Shape
from .parameter import INITIALIZERS


def _default_init(activation: str, init: str | None) -> str:
    init = init or ("he_uniform" if activation == "relu" else "glorot_uniform")
    if init not in INITIALIZERS:
        raise ValueError(f"kernel_initializer: expected one of {INITIALIZERS}, got {init!r}")
    return init


def _activate(layer, y: np.ndarray) -> np.ndarray:
    """Apply a non-ReLU activation (ReLU is fused into the op) to the op's fresh output."""
    if layer.activation in ("linear", "relu"):
        return y
    if layer.activation == "tanh" and y.dtype.kind == "f":
        return np.tanh(y, out=y)  # y is ours (the op just made it): no second array
    return ACTIVATIONS[layer.activation][0](y)


def _unactivate(layer, dy: np.ndarray, y: np.ndarray, relu: bool) -> np.ndarray:
    if layer.activation not in ("linear", "relu"):
        return ACTIVATIONS[layer.activation][1](dy, y)
    return F.relu_backward(dy, y) if relu else dy


def _keep_output(layer, y: np.ndarray, relu: bool) -> np.ndarray | None:
    """The output, if the activation's backward needs it (a linear layer saves only x)."""
    return y if relu or layer.activation != "linear" else None


class Conv2D(Layer):
    """2-D convolution, NHWC input, HWIO kernel ``(kh, kw, C // groups, filters)``.

    padding: 'valid', 'same' (TensorFlow's), an int, (ph, pw) or ((top, bottom), (left,
    right)). activation 'relu' is fused into the kernel; He init for ReLU, else Glorot.
    """

    fuses_relu = True

    def __init__(self, filters: int, kernel_size: int | tuple[int, int], strides: object = 1,
                 padding: object = "valid", dilation_rate: object = 1, groups: int = 1,
                 activation: str | None = None, use_bias: bool = True,
                 kernel_initializer: str | None = None, *, dilation: object = None,
                 name: str | None = None, trainable: bool = True):
        super().__init__(name=name, trainable=trainable)
        if int(filters) < 1:
            raise ValueError(f"filters: must be >= 1, got {filters}")
        self.filters = int(filters)
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.strides = pair(strides, "strides")
        self.dilation = pair(dilation if dilation is not None else dilation_rate, "dilation")
        self.padding = padding
        self.groups = int(groups)
        self.activation = check_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _default_init(self.activation, kernel_initializer)

    def _geometry(self, input_shape: Shape) -> ConvGeometry:
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: expects (H, W, C) inputs, got {input_shape}")
        c = input_shape[2]
        if c % self.groups or self.filters % self.groups:
            raise ValueError(f"{self.name}: groups={self.groups} must divide the input channels "
                             f"{c} and filters {self.filters}")
        w_shape = (*self.kernel_size, c // self.groups, self.filters)
        return ConvGeometry((1, *input_shape), w_shape, self.strides, self.padding,
                            self.dilation, self.groups)

    def build(self, input_shape: Shape) -> None:
        g = self._geometry(input_shape)
        self.kernel = self.add_param("kernel", g.w_shape, self.kernel_initializer)
        self.bias = self.add_param("bias", (self.filters,), "zeros") if self.use_bias else None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._geometry(input_shape).y_shape[1:]

    def macs(self, input_shape: Shape, output_shape: Shape) -> int:
        p, q, k = output_shape
        kh, kw = self.kernel_size
        return p * q * k * kh * kw * (input_shape[2] // self.groups)

    def conv_args(self) -> dict:
        return dict(stride=self.strides, padding=self.padding, dilation=self.dilation,
                    groups=self.groups)

    def _forward(self, x, training, relu=False):
        relu = relu or self.activation == "relu"
        b = self.bias.value if self.bias is not None else None
        y = F.conv2d(x, self.kernel.value, b, relu=relu, **self.conv_args())
        y = _activate(self, y)
        return y, (x, _keep_output(self, y, relu), relu)

    def _backward(self, dy, ctx, need_dx, preactivation=False):
        """preactivation: dy is already the gradient of the pre-activation output (the next
        layer applied the activation's backward: nn.graph's backward fusions)."""
        x, y, relu = ctx
        if not preactivation:
            dy = _unactivate(self, dy, y, relu)
        t = self.trainable
        if not (need_dx or t):
            return None, [None] * len(self._params)
        dx, dw, db = F.conv2d_backward(dy, x, self.kernel.value, need_dx=need_dx, need_dw=t,
                                       need_db=t and self.use_bias, **self.conv_args())
        return dx, ([dw, db] if self.use_bias else [dw])


class Dense(Layer):
    """Fully connected layer on (N, features) inputs: x @ kernel (in, units) + bias."""

    fuses_relu = True

    def __init__(self, units: int, activation: str | None = None, use_bias: bool = True,
                 kernel_initializer: str | None = None, *, name: str | None = None,
                 trainable: bool = True):
        super().__init__(name=name, trainable=trainable)
        if int(units) < 1:
            raise ValueError(f"units: must be >= 1, got {units}")
        self.units = int(units)
        self.activation = check_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _default_init(self.activation, kernel_initializer)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 1:
            raise ValueError(f"{self.name}: Dense expects flat (features,) inputs, got "
                             f"{input_shape}; add a Flatten() or GlobalAvgPool2D() first")
        self.kernel = self.add_param("kernel", (input_shape[0], self.units),
                                     self.kernel_initializer)
        self.bias = self.add_param("bias", (self.units,), "zeros") if self.use_bias else None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (self.units,)

    def macs(self, input_shape: Shape, output_shape: Shape) -> int:
        return input_shape[0] * self.units

    def _forward(self, x, training, relu=False):
        relu = relu or self.activation == "relu"
        b = self.bias.value if self.bias is not None else None
        y = _activate(self, F.dense(x, self.kernel.value, b, relu=relu))
        return y, (x, _keep_output(self, y, relu), relu)

    def _backward(self, dy, ctx, need_dx):
        x, y, relu = ctx
        dy = _unactivate(self, dy, y, relu)
        t = self.trainable
        if not (need_dx or t):
            return None, [None] * len(self._params)
        dx, dw, db = F.dense_backward(dy, x, self.kernel.value, need_dx=need_dx, need_dw=t,
                                      need_db=t and self.use_bias)
        return dx, ([dw, db] if self.use_bias else [dw])
