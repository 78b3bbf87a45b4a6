"""Exact answers for testing: Gaussian mixtures with closed-form densities and scores."""

from ._mixture import GaussianMixture
from ._presets import grid_mixture, two_mode_mixture

__all__ = ["GaussianMixture", "grid_mixture", "two_mode_mixture"]
