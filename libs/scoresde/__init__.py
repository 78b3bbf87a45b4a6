"""scoresde: score-based generative modelling with SDEs, in JAX."""

from . import (
    checkpoint,
    data,
    guidance,
    likelihood,
    metrics,
    nets,
    objectives,
    oracle,
    parallel,
    refine,
    sde,
    solvers,
    train,
    viz,
)

__version__ = "0.1.0"
__all__ = [
    "sde",
    "oracle",
    "objectives",
    "solvers",
    "likelihood",
    "guidance",
    "refine",
    "metrics",
    "nets",
    "viz",
    "data",
    "parallel",
    "train",
    "checkpoint",
]
