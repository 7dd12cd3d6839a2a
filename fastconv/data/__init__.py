"""Data for training: shipped datasets, loaders for arrays and image folders, augmentation,
and a background mini-batch pipeline."""

from . import augment
from .augment import (
    ColorShift,
    Compose,
    PCAColor,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomShear,
    crop,
    flip_horizontal,
    resize_bilinear,
)
from .datasets import load_digits, sample_photos, stratified_split
from .loaders import from_arrays, image_folder
from .pipeline import BatchLoader

__all__ = [
    "BatchLoader", "ColorShift", "Compose", "PCAColor", "RandomCrop", "RandomFlip",
    "RandomRotation", "RandomShear", "augment", "crop", "flip_horizontal", "from_arrays",
    "image_folder", "load_digits", "resize_bilinear", "sample_photos", "stratified_split",
]
