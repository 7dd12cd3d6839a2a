"""VGG-16 (Simonyan & Zisserman, 2014), configuration D: 138,357,544 parameters."""

from __future__ import annotations

from .. import nn

#: (convolutions, filters) per block of configuration D
VGG16_BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))


def vgg_block(y, convs: int, filters: int, name: str):
    """`convs` 3x3 'same' convolutions with ReLU, then a 2x2 max pool."""
    for i in range(1, convs + 1):
        y = nn.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv{i}")(y)
    return nn.MaxPool2D(2, name=f"{name}_pool")(y)


def vgg16(input_shape: tuple[int, int, int] = (224, 224, 3), num_classes: int = 1000, *,
          fc_units: int = 4096, dropout: float = 0.5, name: str = "vgg16") -> nn.Model:
    """Thirteen 3x3 convolutions in five blocks, then fc1, fc2 (dropout) and the logits."""
    x = nn.Input(input_shape, name="input")
    y = x
    for i, (convs, filters) in enumerate(VGG16_BLOCKS, start=1):
        y = vgg_block(y, convs, filters, f"block{i}")
    y = nn.Flatten(name="flatten")(y)
    y = nn.Dense(fc_units, activation="relu", name="fc1")(y)
    y = nn.Dropout(dropout, name="drop1")(y)
    y = nn.Dense(fc_units, activation="relu", name="fc2")(y)
    y = nn.Dropout(dropout, name="drop2")(y)
    y = nn.Dense(num_classes, kernel_initializer="glorot_uniform", name="predictions")(y)
    return nn.Model(x, y, name=name)
