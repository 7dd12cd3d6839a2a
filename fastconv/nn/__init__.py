"""fastconv.nn: Keras-like layers and models on top of the fastconv ops.

    x = nn.Input((32, 32, 3))
    y = nn.Conv2D(16, 3, padding="same", activation="relu")(x)
    y = nn.Dense(10)(nn.Flatten()(nn.MaxPool2D()(y)))
    model = nn.Model(x, y)
    model.summary()

Layers build their parameters lazily from the symbolic input shape; ``forward(x, training)``
and ``backward(dy)`` run the graph; parameters are ``Parameter`` objects (value, grad,
trainable). Inference folds BatchNorm into convolutions and fuses ReLUs (see nn.graph).
"""

from .activations import Activation, ReLU, Sigmoid, Softmax, Tanh
from .layer import Input, InputLayer, Layer, Tensor
from .layers_conv import Conv2D, Dense
from .layers_core import Dropout, Flatten, ZeroPadding2D
from .layers_merge import Add, Concatenate
from .layers_norm import LRN, BatchNormalization, LocalResponseNormalization
from .layers_pool import (
    AveragePooling2D,
    AvgPool2D,
    GlobalAveragePooling2D,
    GlobalAvgPool2D,
    MaxPool2D,
    MaxPooling2D,
)
from .model import Model
from .parameter import Parameter, set_seed
from .sequential import Sequential
from .torch_weights import load_torch_state_dict

__all__ = [
    "LRN", "Activation", "Add", "AveragePooling2D", "AvgPool2D", "BatchNormalization",
    "Concatenate", "Conv2D", "Dense", "Dropout", "Flatten", "GlobalAveragePooling2D",
    "GlobalAvgPool2D", "Input", "InputLayer", "Layer", "LocalResponseNormalization",
    "MaxPool2D", "MaxPooling2D", "Model", "Parameter", "ReLU", "Sequential", "Sigmoid",
    "Softmax", "Tanh", "Tensor", "ZeroPadding2D", "load_torch_state_dict", "set_seed",
]
