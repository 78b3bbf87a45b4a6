"""Data: sources (2-D toys, digits, CIFAR-10 archive, image folders) and grain pipelines."""

from ._cifar10 import load_cifar10, write_cifar10_archive
from ._images import load_digits, load_image_folder
from ._pipeline import make_dataset, scale
from ._toy2d import TOY2D, swiss_roll_curve, toy2d

__all__ = [
    "toy2d",
    "TOY2D",
    "swiss_roll_curve",
    "load_digits",
    "load_image_folder",
    "load_cifar10",
    "write_cifar10_archive",
    "make_dataset",
    "scale",
]
