"""scoresde: score-based generative modelling with SDEs, in JAX."""

from . import guidance, likelihood, metrics, nets, objectives, oracle, sde, solvers, viz

__version__ = "0.1.0"
__all__ = ["sde", "oracle", "objectives", "solvers", "likelihood", "guidance", "metrics", "nets", "viz"]
