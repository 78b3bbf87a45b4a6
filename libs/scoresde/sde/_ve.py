"""Variance-exploding SDE (SMLD / NCSN in continuous time)."""

import math

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import check_range
from .._typing import Batch, Scalar, Times
from ._abstract import AbstractSDE


class VESDE(AbstractSDE):
    """sigma(t) = sigma_min (sigma_max/sigma_min)^t, f = 0, g = sigma(t) sqrt(2 log(sigma_max/sigma_min))."""

    sigma_min: float = eqx.field(static=True, default=0.01)
    sigma_max: float = eqx.field(static=True, default=50.0)
    T = 1.0

    def __check_init__(self):
        check_range("sigma_min", self.sigma_min, 0.0, None, strict=True)
        if not self.sigma_max > self.sigma_min:
            raise ValueError(f"sigma_max must exceed sigma_min, got {self.sigma_max} <= {self.sigma_min}")

    @property
    def _log_ratio(self) -> float:
        return math.log(self.sigma_max / self.sigma_min)

    def sigma(self, t: Times) -> Float[Array, "*batch"]:
        return self.sigma_min * jnp.exp(jnp.asarray(t) * self._log_ratio)

    def drift_coeff(self, t: Times) -> Float[Array, "*batch"]:
        return jnp.zeros_like(jnp.asarray(t, float))

    def diffusion(self, t: Times) -> Float[Array, "*batch"]:
        return self.sigma(t) * math.sqrt(2 * self._log_ratio)

    def marginal(self, t: Times) -> tuple[Float[Array, "*batch"], Float[Array, "*batch"]]:
        s = self.sigma(t)
        return jnp.ones_like(s), s

    def prior_std(self) -> float:
        return self.sigma_max

    def t_from_sigma(self, sigma: Times) -> Float[Array, "*batch"]:
        return jnp.log(jnp.asarray(sigma) / self.sigma_min) / self._log_ratio

    def discretize(self, x: Batch, t: Float[Array, " batch"], dt: Scalar) -> tuple[Batch, Float[Array, " batch"]]:
        """SMLD chain: x_i = x_{i-1} + sqrt(sigma_i^2 - sigma_{i-1}^2) z."""
        s = self.sigma(t)
        s_prev = jnp.where(t - dt > 0, self.sigma(t - dt), 0.0)
        return jnp.zeros_like(x), jnp.sqrt(s**2 - s_prev**2)
