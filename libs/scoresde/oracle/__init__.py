"""Exact answers for testing: Gaussian mixtures with closed-form densities and scores."""

from ._empirical import empirical_denoiser, empirical_log_prob, empirical_score, empirical_sigma_score_fn
from ._mixture import GaussianMixture
from ._presets import grid_mixture, two_mode_mixture

__all__ = [
    "GaussianMixture",
    "grid_mixture",
    "two_mode_mixture",
    "empirical_denoiser",
    "empirical_score",
    "empirical_log_prob",
    "empirical_sigma_score_fn",
]
