"""ResNets (He et al., 2015) from the course's two building blocks; torchvision's layout
and layer names (stride on the 3x3 convolution, "v1.5"), so its weights map one to one."""

from __future__ import annotations

from collections.abc import Sequence

from .. import nn

BN_EPS = 1e-5


def conv_bn(y, filters: int, kernel: int, name: str, bn_name: str, strides: int = 1,
            relu: str | None = None):
    """Bias-free convolution (symmetric padding k // 2), BatchNorm, optional ReLU."""
    y = nn.Conv2D(filters, kernel, strides, kernel // 2, use_bias=False,
                  kernel_initializer="he_uniform", name=name)(y)
    y = nn.BatchNormalization(epsilon=BN_EPS, name=bn_name)(y)
    return nn.ReLU(name=relu)(y) if relu else y


def _main_path(y, filters: Sequence[int], strides: int, name: str):
    """Basic block (two 3x3) for two filter counts, bottleneck (1x1, 3x3, 1x1) for three."""
    if len(filters) == 2:
        y = conv_bn(y, filters[0], 3, f"{name}.conv1", f"{name}.bn1", strides, f"{name}.relu1")
        return conv_bn(y, filters[1], 3, f"{name}.conv2", f"{name}.bn2")
    y = conv_bn(y, filters[0], 1, f"{name}.conv1", f"{name}.bn1", 1, f"{name}.relu1")
    y = conv_bn(y, filters[1], 3, f"{name}.conv2", f"{name}.bn2", strides, f"{name}.relu2")
    return conv_bn(y, filters[2], 1, f"{name}.conv3", f"{name}.bn3")


def identity_block(x, filters: Sequence[int], name: str):
    """Main path + the input itself, then ReLU (input and output shapes are equal)."""
    y = _main_path(x, filters, 1, name)
    return nn.ReLU(name=f"{name}.relu")(nn.Add(name=f"{name}.add")([y, x]))


def convolutional_block(x, filters: Sequence[int], strides: int, name: str):
    """Main path + a projection shortcut (1x1 conv with stride, BN) where the shape changes."""
    y = _main_path(x, filters, strides, name)
    s = conv_bn(x, filters[-1], 1, f"{name}.downsample.0", f"{name}.downsample.1", strides)
    return nn.ReLU(name=f"{name}.relu")(nn.Add(name=f"{name}.add")([y, s]))


def stage(x, filters: Sequence[int], blocks: int, strides: int, name: str):
    """One stage: a convolutional block if the shape changes, then identity blocks."""
    if strides != 1 or x.shape[-1] != filters[-1]:
        x = convolutional_block(x, filters, strides, f"{name}.0")
    else:
        x = identity_block(x, filters, f"{name}.0")
    for i in range(1, blocks):
        x = identity_block(x, filters, f"{name}.{i}")
    return x


def resnet(blocks: Sequence[int], bottleneck: bool, input_shape=(224, 224, 3),
           num_classes: int = 1000, name: str = "resnet") -> nn.Model:
    """Stem (7x7/2 conv, 3x3/2 max pool), four stages (64, 128, 256, 512 wide, 4x expansion
    with bottlenecks), global average pool, fully connected logits."""
    x = nn.Input(input_shape, name="input")
    y = conv_bn(x, 64, 7, "conv1", "bn1", 2, "relu")
    y = nn.MaxPool2D(3, 2, padding=1, name="maxpool")(y)
    for i, (n, width) in enumerate(zip(blocks, (64, 128, 256, 512), strict=False)):
        filters = (width, width, 4 * width) if bottleneck else (width, width)
        y = stage(y, filters, n, 1 if i == 0 else 2, f"layer{i + 1}")
    y = nn.GlobalAvgPool2D(name="avgpool")(y)
    y = nn.Dense(num_classes, kernel_initializer="glorot_uniform", name="fc")(y)
    return nn.Model(x, y, name=name)


def resnet18(input_shape=(224, 224, 3), num_classes: int = 1000) -> nn.Model:
    """11,689,512 parameters."""
    return resnet((2, 2, 2, 2), False, input_shape, num_classes, "resnet18")


def resnet34(input_shape=(224, 224, 3), num_classes: int = 1000) -> nn.Model:
    """21,797,672 parameters."""
    return resnet((3, 4, 6, 3), False, input_shape, num_classes, "resnet34")


def resnet50(input_shape=(224, 224, 3), num_classes: int = 1000) -> nn.Model:
    """25,557,032 parameters."""
    return resnet((3, 4, 6, 3), True, input_shape, num_classes, "resnet50")


def resnet101(input_shape=(224, 224, 3), num_classes: int = 1000) -> nn.Model:
    """44,549,160 parameters."""
    return resnet((3, 4, 23, 3), True, input_shape, num_classes, "resnet101")


def resnet152(input_shape=(224, 224, 3), num_classes: int = 1000) -> nn.Model:
    """60,192,808 parameters."""
    return resnet((3, 8, 36, 3), True, input_shape, num_classes, "resnet152")
