"""Variance-preserving SDE (DDPM in continuous time) and its sub-VP variant."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import check_range
from .._typing import Batch, Scalar, Times
from ._abstract import AbstractSDE, _bcast


class _AbstractLinearBetaSDE(AbstractSDE):
    """Shared pieces of VP and sub-VP: beta(t) = beta_min + t (beta_max - beta_min)."""

    beta_min: eqx.AbstractVar[float]
    beta_max: eqx.AbstractVar[float]
    T = 1.0

    def __check_init__(self):
        check_range("beta_min", self.beta_min, 0.0, None, strict=True)
        if not self.beta_max > self.beta_min:
            raise ValueError(f"beta_max must exceed beta_min, got {self.beta_max} <= {self.beta_min}")

    def beta(self, t: Times) -> Float[Array, "*batch"]:
        return self.beta_min + jnp.asarray(t) * (self.beta_max - self.beta_min)

    def log_mean_coeff(self, t: Times) -> Float[Array, "*batch"]:
        """m(t) = -t^2 (beta_max - beta_min)/4 - t beta_min/2, so that a(t) = exp(m(t))."""
        t = jnp.asarray(t)
        return -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min

    def drift_coeff(self, t: Times) -> Float[Array, "*batch"]:
        return -0.5 * self.beta(t)

    def prior_std(self) -> float:
        return 1.0

    def _t_from_neg_log_mean(self, c: Array) -> Float[Array, "*batch"]:
        """Solve -m(t) = c for t >= 0 (a quadratic in t)."""
        qa, qb = 0.25 * (self.beta_max - self.beta_min), 0.5 * self.beta_min
        return 2 * c / (qb + jnp.sqrt(qb**2 + 4 * qa * c))


class VPSDE(_AbstractLinearBetaSDE):
    """f = -beta(t)/2, g = sqrt(beta(t)); x_t = e^m x_0 + sqrt(1 - e^{2m}) z."""

    beta_min: float = eqx.field(static=True, default=0.1)
    beta_max: float = eqx.field(static=True, default=20.0)

    def diffusion(self, t: Times) -> Float[Array, "*batch"]:
        return jnp.sqrt(self.beta(t))

    def marginal(self, t: Times) -> tuple[Float[Array, "*batch"], Float[Array, "*batch"]]:
        m = self.log_mean_coeff(t)
        return jnp.exp(m), jnp.sqrt(-jnp.expm1(2 * m))

    def sigma(self, t: Times) -> Float[Array, "*batch"]:
        return jnp.sqrt(jnp.expm1(-2 * self.log_mean_coeff(t)))

    def t_from_sigma(self, sigma: Times) -> Float[Array, "*batch"]:
        # sigma^2 = e^{-2m} - 1  =>  -m = log(1 + sigma^2) / 2
        return self._t_from_neg_log_mean(0.5 * jnp.log1p(jnp.asarray(sigma) ** 2))

    def discretize(self, x: Batch, t: Float[Array, " batch"], dt: Scalar) -> tuple[Batch, Float[Array, " batch"]]:
        """DDPM chain: x_i = sqrt(1 - b_i) x_{i-1} + sqrt(b_i) z with b_i = 1 - exp(-int_{t-dt}^t beta).

        b_i = -expm1(-dt beta(t - dt/2)) is score_sde's beta(t) dt up to O(dt^2), and stays in (0, 1)
        for any step size (beta(t) dt > 1 with fewer than ~20 steps made sqrt(1 - b_i) nan).
        """
        b = -jnp.expm1(-dt * self.beta(t - 0.5 * dt))
        return (_bcast(jnp.sqrt(1.0 - b), x) - 1.0) * x, jnp.sqrt(b)


class SubVPSDE(_AbstractLinearBetaSDE):
    """VP drift with g = sqrt(beta(t)(1 - e^{2m'})), m' = -beta_min t - (beta_max-beta_min) t^2/2; std = 1 - e^{2m}."""

    beta_min: float = eqx.field(static=True, default=0.1)
    beta_max: float = eqx.field(static=True, default=20.0)

    def diffusion(self, t: Times) -> Float[Array, "*batch"]:
        return jnp.sqrt(self.beta(t) * -jnp.expm1(4 * self.log_mean_coeff(t)))

    def marginal(self, t: Times) -> tuple[Float[Array, "*batch"], Float[Array, "*batch"]]:
        m = self.log_mean_coeff(t)
        return jnp.exp(m), -jnp.expm1(2 * m)

    def sigma(self, t: Times) -> Float[Array, "*batch"]:
        # (1 - e^{2m}) / e^m = 2 sinh(-m)
        return 2 * jnp.sinh(-self.log_mean_coeff(t))

    def t_from_sigma(self, sigma: Times) -> Float[Array, "*batch"]:
        return self._t_from_neg_log_mean(jnp.arcsinh(0.5 * jnp.asarray(sigma)))
