"""fastconv.models: the classic architectures, built from fastconv.nn, logits outputs.

Each constructor takes ``input_shape`` and ``num_classes``; parameter counts at the default
shape equal the published ones (tests/test_models.py).
"""

from .alexnet import alexnet
from .googlenet import googlenet, inception
from .lenet import lenet5
from .resnet import (
    convolutional_block,
    identity_block,
    resnet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
)
from .vgg import vgg16

__all__ = ["alexnet", "convolutional_block", "googlenet", "identity_block", "inception",
           "lenet5", "resnet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
           "vgg16"]
