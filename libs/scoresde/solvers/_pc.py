"""Predictor-corrector sampling (Song et al. 2021, Alg. 1-3), as one lax.scan."""

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from .._checks import check_choice, check_range
from .._typing import Key, ScoreFn
from ..sde import AbstractSDE
from ._brownian import grid_noise
from ._common import batch_times, check_sampler_args, initial_state
from ._steps import CORRECTOR_STEPS, PREDICTOR_STEPS


def pc(
    sde: AbstractSDE,
    score_fn: ScoreFn,
    key: Key,
    shape: tuple[int, ...],
    *,
    n_steps: int = 1000,
    snr: float = 0.16,
    n_corrector: int = 1,
    predictor: str = "reverse_diffusion",
    corrector: str = "langevin",
    denoise: bool = True,
    eps: float = 1e-3,
    x_init: Float[Array, " batch *data"] | None = None,
    constraint=None,
) -> tuple[Float[Array, " batch *data"], int]:
    """At each of `n_steps` times from T to eps: `n_corrector` Langevin steps, then one predictor step.

    predictor: 'euler_maruyama' | 'reverse_diffusion' | 'none'; corrector: 'langevin' | 'ald' | 'none'
    ('ald' is NCSN's annealed Langevin with step 2 (snr std)^2). As in score_sde, the corrector
    runs before the predictor at each time, and `denoise` returns the last predictor mean.
    `constraint(x, t_next, i)`, if given, is applied to the state (and the mean) after each
    step i, whose end time is t_next (guidance uses it to impose known entries).
    Returns (samples, nfe = n_steps * (n_corrector + 1)) with 'none' parts not counted.
    """
    check_choice("predictor", predictor, (*PREDICTOR_STEPS, "none"))
    check_choice("corrector", corrector, (*CORRECTOR_STEPS, "none"))
    check_sampler_args(sde, shape, n_steps, eps)
    if isinstance(n_corrector, bool) or not isinstance(n_corrector, int) or n_corrector < 0:
        raise ValueError(f"n_corrector must be a non-negative integer, got {n_corrector!r}")
    check_range("snr", snr, 0.0, None, strict=True)
    if predictor == "none" and (corrector == "none" or n_corrector == 0):
        raise ValueError("pc needs a predictor or a corrector: predictor='none' with no corrector steps does nothing")
    k_init, k_pred, k_corr = jr.split(key, 3)
    x = initial_state(sde, k_init, shape, x_init)
    h = (sde.T - eps) / n_steps
    ts = jnp.linspace(sde.T, eps, n_steps + 1)[:-1]
    n_corr = 0 if corrector == "none" else n_corrector

    def step(carry, inp):
        x, _ = carry
        i, t = inp
        tb = batch_times(t, shape[0])
        for j in range(n_corr):
            z = grid_noise(k_corr, i * n_corr + j, shape)
            x, _ = CORRECTOR_STEPS[corrector](sde, x, tb, score_fn(x, tb), snr, h, z)
        if predictor == "none":
            mean = x
        else:
            z = grid_noise(k_pred, i, shape)
            x, mean = PREDICTOR_STEPS[predictor](sde, x, tb, score_fn(x, tb), h, z)
        if constraint is not None:
            x, mean = constraint(x, t - h, i), constraint(mean, t - h, i)
        return (x, mean), None

    (x, mean), _ = jax.lax.scan(step, (x, x), (jnp.arange(n_steps), ts))
    nfe = n_steps * (n_corr + (predictor != "none"))
    return (mean if denoise else x), nfe
