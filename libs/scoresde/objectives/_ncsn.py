"""NCSN's discrete multi-noise-level denoising score matching (Song & Ermon 2019)."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float

from .._checks import check_decreasing, is_concrete
from .._typing import Batch, Key, ScoreFn
from ..sde._abstract import _bcast


def geometric_sigmas(sigma_max: float, sigma_min: float, n_levels: int) -> np.ndarray:
    """sigma_1 > ... > sigma_L spaced geometrically (NCSN v1: 1 -> 0.01, L = 10)."""
    if not sigma_max > sigma_min > 0:
        raise ValueError(f"need sigma_max > sigma_min > 0, got sigma_max={sigma_max}, sigma_min={sigma_min}")
    return np.geomspace(sigma_max, sigma_min, n_levels)


def ncsn_loss(
    score_fn: ScoreFn,
    sigmas: Float[Array, " L"] | np.ndarray,
    x0: Batch,
    key: Key,
    *,
    reduce_mean: bool = False,
) -> Float[Array, ""]:
    """(1/L) sum_i 1/2 sigma_i^2 E|s(x~, sigma_i) + (x~ - x)/sigma_i^2|^2, one level drawn per sample.

    `score_fn(x, sigma)` takes the noise level of each sample, shape (batch,).
    """
    if is_concrete(sigmas):
        check_decreasing("sigmas", sigmas)
    sigmas = jnp.asarray(sigmas)
    ki, kz = jr.split(key)
    idx = jr.randint(ki, (x0.shape[0],), 0, sigmas.shape[0])
    sigma = sigmas[idx]
    z = jr.normal(kz, x0.shape, x0.dtype)
    xt = x0 + _bcast(sigma, z) * z
    # sigma^2 |s + z/sigma|^2 = |sigma s + z|^2
    sq = (_bcast(sigma, z) * score_fn(xt, sigma) + z) ** 2
    flat = sq.reshape(sq.shape[0], -1)
    per = jnp.mean(flat, axis=1) if reduce_mean else jnp.sum(flat, axis=1)
    return 0.5 * jnp.mean(per)
