"""GoogLeNet / Inception v1 (Szegedy et al., 2014), the paper's and torchvision's."""

from __future__ import annotations

from collections.abc import Callable

from .. import nn

#: Table 1 of the paper: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj
INCEPTION = {
    "inception3a": (64, 96, 128, 16, 32, 32),
    "inception3b": (128, 128, 192, 32, 96, 64),
    "inception4a": (192, 96, 208, 16, 48, 64),
    "inception4b": (160, 112, 224, 24, 64, 64),
    "inception4c": (128, 128, 256, 24, 64, 64),
    "inception4d": (112, 144, 288, 32, 64, 64),
    "inception4e": (256, 160, 320, 32, 128, 128),
    "inception5a": (256, 160, 320, 32, 128, 128),
    "inception5b": (384, 192, 384, 48, 128, 128),
}
#: the loss weights of the main and the two auxiliary classifiers
AUX_LOSS_WEIGHTS = [1.0, 0.3, 0.3]

Conv = Callable[..., nn.Tensor]


def paper_conv(y, filters: int, k: int, name: str, strides: int = 1):
    """The paper's unit: convolution with bias, ReLU (fused)."""
    return nn.Conv2D(filters, k, strides, k // 2, activation="relu",
                     kernel_initializer="he_uniform", name=name)(y)


def bn_conv(y, filters: int, k: int, name: str, strides: int = 1):
    """torchvision's BasicConv2d: bias-free convolution, BatchNorm (eps 1e-3), ReLU."""
    y = nn.Conv2D(filters, k, strides, k // 2, use_bias=False, kernel_initializer="he_uniform",
                  name=f"{name}.conv")(y)
    y = nn.BatchNormalization(epsilon=1e-3, name=f"{name}.bn")(y)
    return nn.ReLU(name=f"{name}.relu")(y)


def inception(x, widths: tuple[int, ...], name: str, conv: Conv = paper_conv, k5: int = 5):
    """Four branches concatenated on channels: 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 |
    3x3 max pool -> 1x1 projection (torchvision: k5 = 3)."""
    c1, c3r, c3, c5r, c5, pp = widths
    b1 = conv(x, c1, 1, f"{name}.branch1")
    b2 = conv(conv(x, c3r, 1, f"{name}.branch2.0"), c3, 3, f"{name}.branch2.1")
    b3 = conv(conv(x, c5r, 1, f"{name}.branch3.0"), c5, k5, f"{name}.branch3.1")
    b4 = nn.MaxPool2D(3, 1, padding="same", name=f"{name}.branch4.0")(x)
    b4 = conv(b4, pp, 1, f"{name}.branch4.1")
    return nn.Concatenate(name=f"{name}.concat")([b1, b2, b3, b4])


def aux_head(x, num_classes: int, name: str, conv: Conv = paper_conv):
    """Auxiliary classifier: 5x5/3 average pool, 1x1 conv 128, fc 1024, dropout 0.7, logits."""
    y = nn.AvgPool2D(5, 3, name=f"{name}.pool")(x)
    y = conv(y, 128, 1, f"{name}.conv")
    y = nn.Flatten(name=f"{name}.flatten")(y)
    y = nn.Dense(1024, activation="relu", name=f"{name}.fc1")(y)
    y = nn.Dropout(0.7, name=f"{name}.dropout")(y)
    return nn.Dense(num_classes, kernel_initializer="glorot_uniform", name=f"{name}.fc2")(y)


def googlenet(input_shape=(224, 224, 3), num_classes: int = 1000, *, aux_logits: bool = True,
              variant: str = "paper", name: str = "googlenet") -> nn.Model:
    """Inception v1. variant='paper': biased convolutions, no BN, LRN in the stem:
    6,998,552 parameters (13,378,280 with the auxiliary heads). variant='torchvision': BN
    after bias-free convolutions, 3x3 in place of the 5x5 branch, no LRN: 6,624,904
    (13,004,888).

    With aux_logits the model outputs [main, aux1, aux2] in training and the main logits at
    inference; ``model.loss_weights`` is [1.0, 0.3, 0.3].
    """
    if variant not in ("paper", "torchvision"):
        raise ValueError(f"variant: expected 'paper' or 'torchvision', got {variant!r}")
    paper = variant == "paper"
    conv, k5 = (paper_conv, 5) if paper else (bn_conv, 3)
    x = nn.Input(input_shape, name="input")
    y = conv(x, 64, 7, "conv1", strides=2)
    y = nn.MaxPool2D(3, 2, padding="same", name="maxpool1")(y)
    if paper:
        y = nn.LRN(name="norm1")(y)
    y = conv(y, 64, 1, "conv2")
    y = conv(y, 192, 3, "conv3")
    if paper:
        y = nn.LRN(name="norm2")(y)
    y = nn.MaxPool2D(3, 2, padding="same", name="maxpool2")(y)
    aux = []
    for block, widths in INCEPTION.items():
        y = inception(y, widths, block, conv, k5)
        if block in ("inception4a", "inception4d") and aux_logits:
            aux.append(aux_head(y, num_classes, f"aux{len(aux) + 1}", conv))
        if block == "inception3b":
            y = nn.MaxPool2D(3, 2, padding="same", name="maxpool3")(y)
        if block == "inception4e":
            y = nn.MaxPool2D(3 if paper else 2, 2, padding="same", name="maxpool4")(y)
    y = nn.GlobalAvgPool2D(name="avgpool")(y)
    y = nn.Dropout(0.4 if paper else 0.2, name="dropout")(y)
    y = nn.Dense(num_classes, kernel_initializer="glorot_uniform", name="fc")(y)
    if not aux_logits:
        return nn.Model(x, y, name=name)
    model = nn.Model(x, [y, *aux], name=name, inference_outputs=1)
    model.loss_weights = list(AUX_LOSS_WEIGHTS)
    return model
