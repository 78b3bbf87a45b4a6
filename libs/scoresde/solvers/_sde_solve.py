"""The one fixed-step SDE solve: Euler-Maruyama for dx = drift(t, x) dt + diffusion(t) dW on a grid, via diffrax.

The reverse-SDE sampler (grid from T down to eps) and the particle flows of DGflow and SD flow
(grid forward in time, optional noise) are both this solve.
"""

import diffrax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._brownian import GridBrownianPath
from ._terms import ScalarDiffusionTerm


def fixed_step_solve(
    drift,
    diffusion,
    x0: Float[Array, " batch *data"],
    *,
    ts: Float[Array, " n_plus_1"],
    key=None,
    zero_last_noise: bool = False,
    save_ts: Float[Array, " saves"] | None = None,
):
    """Euler(-Maruyama) steps over the grid `ts` from ts[0] to ts[-1]; returns x at ts[-1] (and states at `save_ts`).

    `drift(t, x)` is batched with a scalar t; `diffusion(t)` a scalar, or None for an ODE
    (no key needed). `key` is one key or one per sample. With `save_ts` (points of the
    grid) returns (x_end, ys of shape (saves, batch, *data)).
    """
    ts = jnp.asarray(ts, x0.dtype)
    n_steps = ts.shape[0] - 1
    ode = diffrax.ODETerm(lambda t, y, args: drift(t, y))
    if diffusion is None:
        terms = ode
    else:
        path = GridBrownianPath(ts, tuple(x0.shape), key, zero_last=zero_last_noise)
        terms = diffrax.MultiTerm(ode, ScalarDiffusionTerm(diffusion, path))
    saveat = diffrax.SaveAt(t1=True) if save_ts is None else diffrax.SaveAt(ts=save_ts, t1=True)
    sol = diffrax.diffeqsolve(
        terms,
        diffrax.Euler(),
        t0=ts[0],
        t1=ts[-1],
        dt0=None,
        y0=x0,
        saveat=saveat,
        stepsize_controller=diffrax.StepTo(ts),
        max_steps=n_steps,
    )
    if save_ts is None:
        return sol.ys[0]
    return sol.ys[-1], sol.ys[:-1]
