"""The EDM view of any of our SDEs: x_t / a(t) = x_0 + sigma z with sigma = std / a.

Solvers written in sigma (EDM Heun, DPM-Solver++) work on the scaled state x_hat = x / a
with the denoiser D(x_hat, sigma) = E[x_0 | x_hat] = x_hat + sigma^2 a s(a x_hat, t(sigma)).
"""

import jax.numpy as jnp
import jax.random as jr

from .._typing import ScoreFn
from ..sde import AbstractSDE
from ..sde._abstract import _bcast
from ._common import initial_state


def denoiser_from_score(sde: AbstractSDE, score_fn: ScoreFn):
    """D(x_hat, sigma) for batched x_hat and a scalar sigma > 0."""

    def denoise(x_hat, sigma):
        t = jnp.full((x_hat.shape[0],), sde.t_from_sigma(sigma))
        a, _ = sde.marginal(t)
        score = score_fn(_bcast(a, x_hat) * x_hat, t)
        return x_hat + sigma**2 * _bcast(a, x_hat) * score

    return denoise


def initial_scaled_state(sde: AbstractSDE, key, shape: tuple[int, ...], x_init, sigma_max):
    """x_hat at sigma_max: sigma_max * z, or the caller's x_init (SDE space, checked) divided by a(t(sigma_max))."""
    if x_init is None:
        return sigma_max * jr.normal(key, shape)
    return initial_state(sde, key, shape, x_init) / sde.marginal(sde.t_from_sigma(sigma_max))[0]
