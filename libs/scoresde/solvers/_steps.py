"""Single sampler steps as pure functions: reverse-SDE predictors and Langevin correctors.

Each takes the current state, the score already evaluated there, and standard normal
noise, so that loops (lax.scan) own the randomness and count score evaluations.
"""

import jax.numpy as jnp

from ..sde import AbstractSDE
from ..sde._abstract import _bcast


def _batch_norm(v):
    return jnp.mean(jnp.linalg.norm(v.reshape(v.shape[0], -1), axis=-1))


def _sample_norm(v):
    return jnp.linalg.norm(v.reshape(v.shape[0], -1), axis=-1)


def euler_maruyama_step(sde: AbstractSDE, x, t, score, h, z):
    """x' = x - h (f - g^2 s) + g sqrt(h) z, one step of size h backwards in time. Returns (x', mean)."""
    mean = x - h * sde.reverse_drift(x, t, score)
    return mean + _bcast(sde.diffusion(t) * jnp.sqrt(h), z) * z, mean


def reverse_diffusion_step(sde: AbstractSDE, x, t, score, h, z):
    """x' = x - f_i + G_i^2 s + G_i z with (f_i, G_i) the SDE's discretisation. Returns (x', mean)."""
    f, g = sde.discretize(x, t, h)
    mean = x - f + _bcast(g**2, x) * score
    return mean + _bcast(g, z) * z, mean


def langevin_corrector_step(sde: AbstractSDE, x, t, score, snr: float, h, z, norm: str = "batch"):
    """score_sde's Langevin corrector: step 2 alpha (snr |z| / |s|)^2, norms averaged over the batch.

    alpha = 1 - b_i for VP-type SDEs (the DDPM alpha of this step), 1 otherwise. norm='sample'
    uses each sample's own norms instead (a sample then does not depend on its batch).
    """
    alpha = _corrector_alpha(sde, t, h)
    norm_of = _batch_norm if norm == "batch" else _sample_norm
    step = 2 * alpha * (snr * norm_of(z) / norm_of(score)) ** 2
    mean = x + _bcast(step, x) * score
    return mean + _bcast(jnp.sqrt(2 * step), z) * z, mean


def annealed_langevin_corrector_step(sde: AbstractSDE, x, t, score, snr: float, h, z):
    """score_sde's annealed-Langevin corrector: step 2 alpha (snr std(t))^2."""
    alpha = _corrector_alpha(sde, t, h)
    _, std = sde.marginal(t)
    step = 2 * alpha * (snr * std) ** 2
    mean = x + _bcast(step, x) * score
    return mean + _bcast(jnp.sqrt(2 * step), z) * z, mean


def _corrector_alpha(sde: AbstractSDE, t, h):
    beta = getattr(sde, "beta", None)
    if beta is None:
        return jnp.ones_like(t)
    return jnp.exp(-h * beta(t - 0.5 * h))  # 1 - b_i of VPSDE.discretize: positive for any h


PREDICTOR_STEPS = {"euler_maruyama": euler_maruyama_step, "reverse_diffusion": reverse_diffusion_step}
CORRECTOR_STEPS = {"langevin": langevin_corrector_step, "ald": annealed_langevin_corrector_step}
