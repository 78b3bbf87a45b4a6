"""Noising processes: a Gaussian marginal x_t = a(t) x_0 + std(t) z, with or without an SDE behind it.

`AbstractProcess` is what every sampler needs: the marginal, the EDM noise level
sigma(t) = std/a and its inverse, the prior at t = T, perturbation and Tweedie's denoiser.
`AbstractSDE` adds the linear-drift Itô SDE dx = f(t) x dt + g(t) dw (Song et al. 2021),
from which the reverse SDE and the probability-flow ODE are derived once; NCSN's sigma
ladder (`SigmaLadder`) is a process without one.
"""

import abc
import math

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from .._typing import Batch, Key, Scalar, Times


def _bcast(coeff: Array, x: Array) -> Array:
    """Broadcast per-sample coefficients (batch,) or a scalar against x (batch, *data)."""
    coeff = jnp.asarray(coeff, x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else None)
    return coeff.reshape(coeff.shape + (1,) * (x.ndim - coeff.ndim))


class AbstractProcess(eqx.Module):
    """A Gaussian noising process on t in (0, T]: x_t = a(t) x_0 + std(t) z; subclasses give a, std.

    Subclasses also provide `T` (a float: a class variable or a property). Coefficient
    methods take times `t` of any shape; data-space methods take `x` of shape
    `(batch, *data)` and `t` of shape `(batch,)`.
    """

    @abc.abstractmethod
    def marginal(self, t: Times) -> tuple[Float[Array, "*batch"], Float[Array, "*batch"]]:
        """(a(t), std(t)) with x_t = a(t) x_0 + std(t) z."""

    @abc.abstractmethod
    def prior_std(self) -> float:
        """Standard deviation of the isotropic Gaussian prior at t = T."""

    @abc.abstractmethod
    def t_from_sigma(self, sigma: Times) -> Float[Array, "*batch"]:
        """Inverse of sigma(t) = std(t) / a(t)."""

    # ---- derived quantities -------------------------------------------------------
    def sigma(self, t: Times) -> Float[Array, "*batch"]:
        """The EDM noise level std(t)/a(t): x_t / a(t) = x_0 + sigma(t) z."""
        a, std = self.marginal(t)
        return std / a

    def time_span(self, eps: float) -> tuple[float, float]:
        """(T, eps): where a sampler starts and stops; eps must lie in (0, T)."""
        if not (isinstance(eps, int | float) and 0 < eps < self.T):
            raise ValueError(f"eps must lie in (0, {self.T}), got {eps!r}")
        return float(self.T), float(eps)

    def marginal_prob(self, x0: Batch, t: Float[Array, " batch"]) -> tuple[Batch, Float[Array, " batch"]]:
        """Mean a(t) x_0 and std(t) of the perturbation kernel p_0t(x_t | x_0)."""
        a, std = self.marginal(t)
        return _bcast(a, x0) * x0, std

    def perturb(self, x0: Batch, t: Float[Array, " batch"], *, key: Key) -> tuple[Batch, Batch]:
        """Draw x_t ~ p_0t(. | x_0); returns (x_t, z) with x_t = a x_0 + std z."""
        z = jr.normal(key, x0.shape, x0.dtype)
        mean, std = self.marginal_prob(x0, t)
        return mean + _bcast(std, z) * z, z

    def prior_sample(self, key: Key, shape: tuple[int, ...]) -> Float[Array, "..."]:
        return self.prior_std() * jr.normal(key, shape)

    def prior_logp(self, x: Batch) -> Float[Array, " batch"]:
        """log N(x; 0, prior_std^2 I), summed over the data dimensions of each sample."""
        s2 = self.prior_std() ** 2
        d = math.prod(x.shape[1:])
        sq = jnp.sum(x.reshape(x.shape[0], -1) ** 2, axis=1)
        return -0.5 * d * jnp.log(2 * jnp.pi * s2) - sq / (2 * s2)

    def denoise(self, x: Batch, t: Float[Array, " batch"], score: Batch) -> Batch:
        """Tweedie's estimate of E[x_0 | x_t] = (x + std^2 s) / a."""
        a, std = self.marginal(t)
        return (x + _bcast(std**2, x) * score) / _bcast(a, x)


class AbstractSDE(AbstractProcess):
    """A linear-drift SDE dx = f(t) x dt + g(t) dw with a Gaussian marginal; subclasses give f, g, a, std."""

    T: eqx.AbstractClassVar[float]

    @abc.abstractmethod
    def drift_coeff(self, t: Times) -> Float[Array, "*batch"]:
        """f(t) in the drift f(t) x."""

    @abc.abstractmethod
    def diffusion(self, t: Times) -> Float[Array, "*batch"]:
        """g(t)."""

    def drift(self, x: Batch, t: Float[Array, " batch"]) -> Batch:
        return _bcast(self.drift_coeff(t), x) * x

    def discretize(self, x: Batch, t: Float[Array, " batch"], dt: Scalar) -> tuple[Batch, Float[Array, " batch"]]:
        """One step of the discretised forward SDE over [t - dt, t]: x_t = x + f_i + G_i z.

        The default is Euler-Maruyama, f_i = f(t) x dt and G_i = g(t) sqrt(dt); VE and VP
        override it with the SMLD and DDPM chains (Song et al. 2021, App. D).
        """
        return self.drift(x, t) * dt, self.diffusion(t) * jnp.sqrt(dt)

    def reverse_drift(self, x: Batch, t: Float[Array, " batch"], score: Batch) -> Batch:
        """Drift of the reverse-time SDE, f - g^2 s (to be integrated from T down to 0)."""
        g = _bcast(self.diffusion(t), x)
        return self.drift(x, t) - g**2 * score

    def ode_drift(self, x: Batch, t: Float[Array, " batch"], score: Batch) -> Batch:
        """Velocity of the probability-flow ODE, f - g^2 s / 2."""
        g = _bcast(self.diffusion(t), x)
        return self.drift(x, t) - 0.5 * g**2 * score
