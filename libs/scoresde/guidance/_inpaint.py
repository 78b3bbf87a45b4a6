"""Imputation / inpainting by replacement (Song et al. 2021, App. I.2).

Known entries are overwritten after every sampler step by the known data pushed forward
to the current time, y_t = a(t) y + std(t) z; unknown entries follow the unconditional
reverse SDE, so they are drawn from (approximately) p(x_unknown | x_known).
"""

import dataclasses

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from .._typing import ScoreFn
from ..sde import AbstractSDE
from ..sde._abstract import _bcast
from ..solvers import AbstractSampler, PredictorCorrector, Solution, _noise


def inpaint_solution(
    sde: AbstractSDE,
    score_fn: ScoreFn,
    x_known: Float[Array, " batch *data"],
    mask: Bool[Array, "..."] | Float[Array, "..."],
    *,
    key,
    sampler: AbstractSampler = PredictorCorrector(),
) -> Solution:
    """Sample the entries where `mask` is False given `x_known` where it is True, with any PC sampler.

    `key` is one key or one per sample. The known entries of the result equal `x_known` exactly.
    """
    if not isinstance(sampler, PredictorCorrector):
        raise ValueError(f"inpainting runs a PredictorCorrector sampler (its constraint), got {type(sampler).__name__}")
    if mask.shape != x_known.shape:
        raise ValueError(f"mask must have the shape of x_known {x_known.shape}, got {mask.shape}")
    keep = mask.astype(x_known.dtype)
    k_sample, k_known = _noise.split(key, 2)
    shape = x_known.shape

    def constraint(x, t_next, i):
        tb = jnp.full((shape[0],), t_next)
        a, std = sde.marginal(tb)
        y_t = _bcast(a, x) * x_known + _bcast(std, x) * _noise.normal(k_known, i, shape)
        return keep * y_t + (1 - keep) * x

    sol = dataclasses.replace(sampler, constraint=constraint).sample(sde, score_fn, tuple(shape), key=k_sample)
    return eqx.tree_at(lambda s: s.x, sol, keep * x_known + (1 - keep) * sol.x)


def inpaint(
    sde: AbstractSDE,
    score_fn: ScoreFn,
    key,
    x_known: Float[Array, " batch *data"],
    mask: Bool[Array, "..."] | Float[Array, "..."],
    *,
    n_steps: int = 1000,
    predictor: str = "reverse_diffusion",
    corrector: str = "langevin",
    n_corrector: int = 1,
    snr: float = 0.16,
    eps: float = 1e-3,
    sampler: PredictorCorrector | None = None,
) -> tuple[Float[Array, " batch *data"], int]:
    """Inpainting with a PC sampler given by score_sde's names (or `sampler`); returns (samples, nfe)."""
    if sampler is None:
        from ..solvers._from_config import CORRECTORS, PREDICTORS, _pick

        pred = _pick("predictor", PREDICTORS, predictor)
        corr_cls = _pick("corrector", CORRECTORS, corrector)
        corr = None if corr_cls is None or n_corrector == 0 else corr_cls(snr=snr, n_steps=n_corrector)
        sampler = PredictorCorrector(n_steps, None if pred is None else pred(), corr, True, eps)
    sol = inpaint_solution(sde, score_fn, x_known, mask, key=key, sampler=sampler)
    return sol.x, sol.nfe
