"""Fixed-step samplers of the reverse-time SDE, as diffrax solves (Song et al. 2021, eq. 6)."""

import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from .._checks import check_choice
from .._typing import Key, ScoreFn
from ..sde import AbstractSDE
from ..sde._abstract import _bcast
from ._common import batch_times, check_sampler_args, initial_state
from ._sde_solve import fixed_step_solve

PREDICTORS = ("euler_maruyama", "reverse_diffusion")


def reverse_sde(
    sde: AbstractSDE,
    score_fn: ScoreFn,
    key: Key,
    shape: tuple[int, ...],
    *,
    n_steps: int = 1000,
    predictor: str = "euler_maruyama",
    denoise: bool = True,
    eps: float = 1e-3,
    x_init: Float[Array, " batch *data"] | None = None,
) -> tuple[Float[Array, " batch *data"], int]:
    """Integrate dx = [f - g^2 s] dt + g dw from t = T down to eps in `n_steps` equal steps.

    predictor: 'euler_maruyama' (the SDE's own coefficients) or 'reverse_diffusion'
    (the SDE's discretisation, x' = x - f_i + G_i^2 s + G_i z; the DDPM / SMLD ancestral-like
    step of Song et al. 2021, App. E). `denoise` drops the noise of the last step, so that
    the mean of the last step is returned. Returns (samples, nfe = n_steps).
    """
    check_choice("predictor", predictor, PREDICTORS)
    check_sampler_args(sde, shape, n_steps, eps)
    k_init, k_path = jr.split(key)
    x = initial_state(sde, k_init, shape, x_init)
    batch = shape[0]
    h = (sde.T - eps) / n_steps

    if predictor == "euler_maruyama":

        def drift(t, y):
            tb = batch_times(t, batch)
            return sde.reverse_drift(y, tb, score_fn(y, tb))

        diffusion = sde.diffusion
    else:

        def drift(t, y):
            # x' = x - f_i + G_i^2 s, written as an Euler step of size -h.
            tb = batch_times(t, batch)
            f, g = sde.discretize(y, tb, h)
            return (f - _bcast(g**2, y) * score_fn(y, tb)) / h

        def diffusion(t):
            _, g = sde.discretize(jnp.zeros((1,)), jnp.full((1,), t), h)
            return g[0] / jnp.sqrt(h)

    ts = jnp.linspace(sde.T, eps, n_steps + 1)
    out = fixed_step_solve(drift, diffusion, x, ts=ts, key=k_path, zero_last_noise=denoise)
    return out, n_steps
