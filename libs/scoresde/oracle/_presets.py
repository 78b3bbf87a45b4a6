"""Mixtures used throughout the papers' toy experiments: NCSN's two-mode toy and the 25-Gaussians grid."""

import itertools

import numpy as np

from ._mixture import GaussianMixture


def two_mode_mixture(dim: int = 2) -> GaussianMixture:
    """NCSN's toy: 0.8 N((5,..,5), I) + 0.2 N((-5,..,-5), I)."""
    return GaussianMixture(np.array([0.8, 0.2]), np.array([[5.0] * dim, [-5.0] * dim]), np.array([1.0, 1.0]))


def grid_mixture(n_per_side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture:
    """The 25-Gaussians benchmark: an n x n grid of equal-weight modes centred at 0."""
    coords = (np.arange(n_per_side) - (n_per_side - 1) / 2) * spacing
    means = np.array(list(itertools.product(coords, coords)))
    k = len(means)
    return GaussianMixture(np.full(k, 1.0 / k), means, np.full(k, std))
