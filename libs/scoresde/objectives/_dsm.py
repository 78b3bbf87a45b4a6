"""Continuous-time denoising score matching (Song et al. 2021, eq. 7)."""

import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from .._checks import check_range
from .._typing import Batch, Key, ScoreFn
from ..sde import AbstractSDE
from ..sde._abstract import _bcast


def _per_sample(sq: Batch, reduce_mean: bool) -> Float[Array, " batch"]:
    flat = sq.reshape(sq.shape[0], -1)
    return jnp.mean(flat, axis=1) if reduce_mean else jnp.sum(flat, axis=1)


def sample_times(key: Key, n: int, eps: float, T: float) -> Float[Array, " n"]:
    """t ~ U(eps, T), the training-time distribution."""
    return jr.uniform(key, (n,), minval=eps, maxval=T)


def dsm_loss(
    sde: AbstractSDE,
    score_fn: ScoreFn,
    x0: Batch,
    key: Key,
    *,
    likelihood_weighting: bool = False,
    reduce_mean: bool = False,
    eps: float = 1e-5,
) -> Float[Array, ""]:
    """E_t E_z lambda(t) |s(x_t, t) + z / std(t)|^2 with t ~ U(eps, T).

    lambda = std^2 by default (the loss is then |std s + z|^2, well scaled at every t);
    lambda = g^2 with `likelihood_weighting`, which bounds the negative log-likelihood.
    `reduce_mean` averages over data dimensions instead of summing.
    """
    check_range("eps", eps, 0.0, sde.T, strict=True)
    kt, kz = jr.split(key)
    t = sample_times(kt, x0.shape[0], eps, sde.T)
    xt, z = sde.perturb(x0, t, key=kz)
    _, std = sde.marginal(t)
    score = score_fn(xt, t)
    if likelihood_weighting:
        sq = (score + z / _bcast(std, z)) ** 2
        per = _per_sample(sq, reduce_mean) * sde.diffusion(t) ** 2
    else:
        per = _per_sample((score * _bcast(std, z) + z) ** 2, reduce_mean)
    return jnp.mean(per)
