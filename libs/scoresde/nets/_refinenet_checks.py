"""Argument checks shared by the two RefineNets (NCSN v1 and NCSNv2), each error naming the field."""

import math

import numpy as np

from .._checks import check_choice, check_positive_int

NONLINEARITIES = ("elu", "relu", "lrelu", "swish")


def check_common(num_channels, image_size, ngf, nonlinearity, centered) -> None:
    check_positive_int("model.num_channels", num_channels)
    check_positive_int("model.image_size", image_size)
    if image_size % 2:
        raise ValueError(f"model.image_size must be even (the network halves it once), got {image_size}")
    check_positive_int("model.ngf", ngf)
    if ngf < 2:
        raise ValueError(f"model.ngf must be at least 2 (InstanceNorm++ needs two channels), got {ngf}")
    check_choice("model.nonlinearity", nonlinearity, NONLINEARITIES)
    if not isinstance(centered, bool):
        raise ValueError(f"model.centered must be a bool, got {centered!r}")


def check_ladder(num_scales, sigma_max, sigma_min) -> None:
    check_positive_int("model.num_scales", num_scales)
    for name, value in (("model.sigma_min", sigma_min), ("model.sigma_max", sigma_max)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
            raise ValueError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(sigma_min) and sigma_min > 0):
        raise ValueError(f"model.sigma_min must be positive and finite, got {sigma_min}")
    if not math.isfinite(sigma_max) or not (sigma_max > sigma_min or (num_scales == 1 and sigma_max == sigma_min)):
        raise ValueError(f"model.sigma_max must be finite and exceed model.sigma_min={sigma_min}, got {sigma_max}")


def check_call(net, x, label) -> None:
    if label is not None:
        raise ValueError(f"{type(net).__name__} is not class-conditional; got label={label!r}")
    if x.ndim != 3 or x.shape[0] != net.num_channels:
        raise ValueError(f"{type(net).__name__} expects x of shape ({net.num_channels}, H, W), got {x.shape}")
    if x.shape[1] % 2 or x.shape[2] % 2:
        raise ValueError(f"{type(net).__name__} needs even H and W (one 2x downsampling), got {x.shape[1:]}")
