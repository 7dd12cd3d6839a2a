"""LeNet-5 (LeCun et al., 1998) as in the course: tanh, average pooling, 61,706 parameters."""

from __future__ import annotations

from .. import nn


def lenet5(input_shape: tuple[int, int, int] = (32, 32, 1), num_classes: int = 10, *,
           activation: str = "tanh", name: str = "lenet5") -> nn.Model:
    """C1 6@5x5 - S2 avg 2x2 - C3 16@5x5 - S4 avg 2x2 - C5 120 - F6 84 - output (logits).

    C5 is a dense layer on the flattened 5x5x16 maps (the same 48,120 weights as the paper's
    5x5 convolution at 32x32 input). Glorot initialisation for tanh.
    """
    x = nn.Input(input_shape, name="input")
    y = nn.Conv2D(6, 5, activation=activation, name="c1")(x)
    y = nn.AvgPool2D(2, name="s2")(y)
    y = nn.Conv2D(16, 5, activation=activation, name="c3")(y)
    y = nn.AvgPool2D(2, name="s4")(y)
    y = nn.Flatten(name="flatten")(y)
    y = nn.Dense(120, activation=activation, name="c5")(y)
    y = nn.Dense(84, activation=activation, name="f6")(y)
    y = nn.Dense(num_classes, name="output")(y)
    return nn.Model(x, y, name=name)
