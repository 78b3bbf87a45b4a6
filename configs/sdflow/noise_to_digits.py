"""Noise N(0, I) -> scikit-learn's 8x8 digits (in [-1, 1]) by kernel SD flow; digit grids per sigma level."""

from configs.sdflow.base import base_config


def get_config():
    c = base_config()
    c.source.name = "gaussian"
    c.target.name = "digits"
    c.target.n = 1437  # the whole train split
    c.target.n_test = 359  # the whole test split
    c.flow.n_particles = 512
    c.flow.sigma_max = 8.0
    c.flow.sigma_min = 0.3
    c.flow.n_levels = 20
    c.eval.mmd_bandwidth = 4.0
    return c
