"""AlexNet (Krizhevsky et al., 2012) single-tower, and torchvision's variant."""

from __future__ import annotations

from .. import nn


def _conv(y, filters: int, k: int, name: str, strides: int = 1, padding: object = 0):
    return nn.Conv2D(filters, k, strides, padding, activation="relu", name=name)(y)


def _classifier(y, num_classes: int, dropout: float, units: int):
    y = nn.Flatten(name="flatten")(y)
    y = nn.Dropout(dropout, name="drop6")(y)
    y = nn.Dense(units, activation="relu", name="fc6")(y)
    y = nn.Dropout(dropout, name="drop7")(y)
    y = nn.Dense(units, activation="relu", name="fc7")(y)
    return nn.Dense(num_classes, kernel_initializer="glorot_uniform", name="fc8")(y)


def alexnet(input_shape: tuple[int, int, int] | None = None, num_classes: int = 1000, *,
            variant: str = "original", fc_units: int = 4096, dropout: float = 0.5,
            name: str = "alexnet") -> nn.Model:
    """AlexNet, logits output.

    variant='original' (227x227x3): 96@11x11/4 - LRN - max 3/2 - 256@5x5 - LRN - max 3/2 -
    384@3x3 - 384@3x3 - 256@3x3 - max 3/2 - 4096 - 4096 - classes, one tower (no groups):
    62,378,344 parameters. variant='torchvision' (224x224x3): 64-192-384-256-256, no LRN:
    61,100,840 (its adaptive 6x6 pool is the identity at 224 and is left out).
    fc_units (4096) shrinks the classifier for small experiments.
    """
    if variant not in ("original", "torchvision"):
        raise ValueError(f"variant: expected 'original' or 'torchvision', got {variant!r}")
    if variant == "original":
        x = nn.Input(input_shape or (227, 227, 3), name="input")
        y = _conv(x, 96, 11, "conv1", strides=4)
        y = nn.LRN(5, 1e-4, 0.75, 2.0, name="norm1")(y)
        y = nn.MaxPool2D(3, 2, name="pool1")(y)
        y = _conv(y, 256, 5, "conv2", padding=2)
        y = nn.LRN(5, 1e-4, 0.75, 2.0, name="norm2")(y)
        y = nn.MaxPool2D(3, 2, name="pool2")(y)
        widths = (384, 384, 256)
    else:
        x = nn.Input(input_shape or (224, 224, 3), name="input")
        y = _conv(x, 64, 11, "conv1", strides=4, padding=2)
        y = nn.MaxPool2D(3, 2, name="pool1")(y)
        y = _conv(y, 192, 5, "conv2", padding=2)
        y = nn.MaxPool2D(3, 2, name="pool2")(y)
        widths = (384, 256, 256)
    for i, k in enumerate(widths, start=3):
        y = _conv(y, k, 3, f"conv{i}", padding=1)
    y = nn.MaxPool2D(3, 2, name="pool5")(y)
    return nn.Model(x, _classifier(y, num_classes, dropout, fc_units), name=name)
