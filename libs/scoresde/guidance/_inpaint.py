"""Imputation / inpainting by replacement (Song et al. 2021, App. I.2).

Known entries are overwritten after every sampler step by the known data pushed forward
to the current time, y_t = a(t) y + std(t) z; unknown entries follow the unconditional
reverse SDE, so they are drawn from (approximately) p(x_unknown | x_known).
"""

import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Bool, Float

from .._typing import Key, ScoreFn
from ..sde import AbstractSDE
from ..sde._abstract import _bcast
from ..solvers import grid_noise, pc


def inpaint(
    sde: AbstractSDE,
    score_fn: ScoreFn,
    key: Key,
    x_known: Float[Array, " batch *data"],
    mask: Bool[Array, "..."] | Float[Array, "..."],
    *,
    n_steps: int = 1000,
    predictor: str = "reverse_diffusion",
    corrector: str = "langevin",
    n_corrector: int = 1,
    snr: float = 0.16,
    eps: float = 1e-3,
) -> tuple[Float[Array, " batch *data"], int]:
    """Sample the entries where `mask` is False given `x_known` where it is True.

    Runs the predictor-corrector sampler with the replacement constraint; the known
    entries of the result equal `x_known` exactly. Returns (samples, nfe).
    """
    if mask.shape != x_known.shape:
        raise ValueError(f"mask must have the shape of x_known {x_known.shape}, got {mask.shape}")
    keep = mask.astype(x_known.dtype)
    k_sample, k_known = jr.split(key)
    shape = x_known.shape

    def constraint(x, t_next, i):
        tb = jnp.full((shape[0],), t_next)
        a, std = sde.marginal(tb)
        y_t = _bcast(a, x) * x_known + _bcast(std, x) * grid_noise(k_known, i, shape)
        return keep * y_t + (1 - keep) * x

    x, nfe = pc(
        sde,
        score_fn,
        k_sample,
        tuple(shape),
        n_steps=n_steps,
        predictor=predictor,
        corrector=corrector,
        n_corrector=n_corrector,
        snr=snr,
        eps=eps,
        constraint=constraint,
    )
    return keep * x_known + (1 - keep) * x, nfe
