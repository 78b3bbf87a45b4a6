"""Sampling through the probability-flow ODE dx/dt = f - g^2 s / 2 (Song et al. 2021, eq. 13)."""

import jax.random as jr
from jaxtyping import Array, Float

from .._typing import Key, ScoreFn
from ..sde import AbstractSDE
from ._common import batch_times, check_sampler_args, initial_state
from ._ode import ode_solve


def probability_flow(
    sde: AbstractSDE,
    score_fn: ScoreFn,
    key: Key,
    shape: tuple[int, ...],
    *,
    solver: str = "tsit5",
    rtol: float = 1e-5,
    atol: float = 1e-5,
    n_steps: int | None = None,
    eps: float = 1e-3,
    denoise: bool = False,
    x_init: Float[Array, " batch *data"] | None = None,
) -> tuple[Float[Array, " batch *data"], Array]:
    """Integrate the PF-ODE from a prior sample at T down to eps.

    Adaptive (solver 'tsit5' | 'dopri5' | 'dopri8' with `rtol`, `atol`) when `n_steps` is None,
    fixed-step ('heun' | 'euler' | any) otherwise. `denoise` ends with Tweedie's
    E[x_0 | x_eps] (one more score call). Returns (samples, nfe) with nfe a scalar array.
    """
    check_sampler_args(sde, shape, n_steps, eps)
    x = initial_state(sde, jr.split(key)[0], shape, x_init)
    batch = shape[0]

    def velocity(t, y):
        tb = batch_times(t, batch)
        return sde.ode_drift(y, tb, score_fn(y, tb))

    x, nfe = ode_solve(velocity, x, t0=sde.T, t1=eps, solver=solver, rtol=rtol, atol=atol, n_steps=n_steps)
    if denoise:
        tb = batch_times(eps, batch)
        x = sde.denoise(x, tb, score_fn(x, tb))
        nfe = nfe + 1
    return x, nfe
