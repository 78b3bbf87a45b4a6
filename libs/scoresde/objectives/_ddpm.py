"""DDPM's epsilon-prediction loss (Ho et al. 2020), on the VP marginal."""

import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from .._checks import check_positive_int, check_range
from .._typing import Batch, Key, ScoreFn
from ..sde import AbstractSDE


def ddpm_loss(
    sde: AbstractSDE,
    eps_fn: ScoreFn,
    x0: Batch,
    key: Key,
    *,
    n_timesteps: int | None = None,
    reduce_mean: bool = True,
    eps: float = 1e-5,
) -> Float[Array, ""]:
    """E |eps_theta(x_t, t) - z|^2 with x_t = a(t) x_0 + std(t) z.

    With `n_timesteps=N`, t is drawn from the DDPM grid {1/N, ..., 1}; otherwise t ~ U(eps, T).
    The matching score is -eps_theta / std (see `scoresde.nets` for the wrapper).
    """
    check_range("eps", eps, 0.0, sde.T, strict=True)
    if n_timesteps is not None:
        check_positive_int("n_timesteps", n_timesteps)
    kt, kz = jr.split(key)
    n = x0.shape[0]
    if n_timesteps is None:
        t = jr.uniform(kt, (n,), minval=eps, maxval=sde.T)
    else:
        t = (jr.randint(kt, (n,), 0, n_timesteps) + 1) / n_timesteps * sde.T
    xt, z = sde.perturb(x0, t, key=kz)
    sq = ((eps_fn(xt, t) - z) ** 2).reshape(n, -1)
    return jnp.mean(jnp.mean(sq, 1) if reduce_mean else jnp.sum(sq, 1))
