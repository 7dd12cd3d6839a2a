"""Training: losses, metrics, optimizers, schedules, the fit loop, callbacks, checkpoints,
test-time augmentation, transfer learning and hyper-parameter search."""

from . import losses, metrics, optimizers, schedules
from .callbacks import Callback, EarlyStopping, LambdaCallback, ModelCheckpoint
from .checkpoint import atomic_save_npz, load_npz, load_weights, save_weights
from .history import History
from .loop import compile, evaluate, fit, predict
from .optimizers import SGD, Adam, Optimizer, RMSProp
from .schedules import Constant, CosineDecay, ExponentialDecay, InverseTimeDecay, StepDecay
from .tta import predict_ensemble, predict_ten_crop, ten_crops
from .tuning import (
    Choice,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Uniform,
    random_search,
)

__all__ = [
    "SGD", "Adam", "Callback", "Choice", "Constant", "CosineDecay", "EarlyStopping",
    "ExponentialDecay", "History", "IntUniform", "InverseTimeDecay", "LambdaCallback",
    "LogUniform", "ModelCheckpoint", "OneMinusLogUniform", "Optimizer", "RMSProp", "StepDecay",
    "Uniform", "atomic_save_npz", "compile", "evaluate", "fit", "load_npz", "load_weights",
    "losses", "metrics", "optimizers", "predict", "predict_ensemble", "predict_ten_crop",
    "random_search", "save_weights", "schedules", "ten_crops",
]
