"""scoresde: score-based generative modelling with SDEs, in JAX."""

from . import objectives, oracle, sde, solvers

__version__ = "0.1.0"
__all__ = ["sde", "oracle", "objectives", "solvers"]
