"""The EDM view of any process: x_t / a(t) = x_0 + sigma z with sigma = std / a.

Solvers written in sigma (EDM Heun, DPM-Solver++) work on the scaled state x_hat = x / a
with the denoiser D(x_hat, sigma) = E[x_0 | x_hat] = x_hat + sigma^2 a s(a x_hat, t(sigma)).
`score_fn_from_denoiser` goes the other way, for a D(x, sigma) network (EDM, k-diffusion).
"""

import jax.numpy as jnp

from .._typing import ScoreFn
from ..sde import AbstractProcess
from ..sde._abstract import _bcast
from . import _noise


def denoiser_from_score(process: AbstractProcess, score_fn: ScoreFn):
    """D(x_hat, sigma) for batched x_hat and sigma a scalar or one per sample (sigma > 0)."""

    def denoise(x_hat, sigma):
        sigma = jnp.broadcast_to(jnp.asarray(sigma, x_hat.dtype), x_hat.shape[:1])
        t = process.t_from_sigma(sigma)
        a, _ = process.marginal(t)
        score = score_fn(_bcast(a, x_hat) * x_hat, t)
        return x_hat + _bcast(sigma**2 * a, x_hat) * score

    return denoise


def score_fn_from_denoiser(process: AbstractProcess, denoiser) -> ScoreFn:
    """s(x, t) = (D(x / a, sigma) - x / a) / (sigma^2 a) for a batched denoiser D(x_hat, sigma) with sigma (batch,)."""

    def score(x, t):
        a, std = process.marginal(t)
        sigma = std / a
        x_hat = x / _bcast(a, x)
        return (denoiser(x_hat, sigma) - x_hat) / _bcast(sigma**2 * a, x)

    return score


def scale_of(process: AbstractProcess, sigma):
    """a(t(sigma)), with a = 1 at sigma = 0 (the data end of every process)."""
    safe = jnp.where(sigma > 0, sigma, 1.0)
    return jnp.where(sigma > 0, process.marginal(process.t_from_sigma(safe))[0], 1.0)


def initial_scaled_state(process: AbstractProcess, key, shape, x_init, sigma0, *, sdedit: bool):
    """x_hat at the first level sigma0: sigma0 z, the caller's x_init at sigma0 (process space, / a),
    or with `sdedit` the clean x_init noised to sigma0."""
    if x_init is None:
        return sigma0 * _noise.normal(key, 0, tuple(shape))
    if tuple(x_init.shape) != tuple(shape):
        raise ValueError(f"x_init must have shape {tuple(shape)}, got {tuple(x_init.shape)}")
    if sdedit:
        return x_init + sigma0 * _noise.normal(key, 0, tuple(shape))
    return x_init / scale_of(process, sigma0)
