"""A generic fixed-step particle flow, dx = v(x, t) dt + sqrt(2 gamma) dW, as a diffrax solve.

DGflow (z <- z + eta c(d) grad d + sqrt(2 gamma eta) xi), DDLS and SD flow
(x <- x + eta v_sigma(x)) are all this integrator with dt = eta and their own velocity.
"""

import diffrax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import check_positive_int, check_range
from .._typing import Key
from ._brownian import GridBrownianPath
from ._terms import ScalarDiffusionTerm


def integrate_flow(
    velocity,
    x0: Float[Array, " batch *data"],
    *,
    step_size: float,
    n_steps: int,
    noise: float = 0.0,
    key: Key | None = None,
    t0: float = 0.0,
    n_saves: int = 0,
) -> (
    tuple[Float[Array, " batch *data"], int]
    | tuple[Float[Array, " batch *data"], int, Float[Array, " saves batch *data"]]
):
    """`n_steps` Euler(-Maruyama) steps of size `step_size` from time t0 of dx = velocity(x, t) dt + sqrt(2 noise) dW.

    `velocity(x, t)` is batched (t a scalar). `noise` = gamma >= 0 (0: deterministic, no key
    needed). With `n_saves` > 0 also returns the states at `n_saves` equally spaced times
    including the start and the end, shape (n_saves, batch, *data). Returns (x, nfe[, path]).
    """
    check_positive_int("n_steps", n_steps)
    check_range("step_size", step_size, 0.0, None, strict=True)
    check_range("noise", noise, 0.0, None)
    if noise > 0 and key is None:
        raise ValueError("key is required when noise > 0")
    t1 = t0 + n_steps * step_size
    drift = diffrax.ODETerm(lambda t, y, args: velocity(y, t))
    if noise > 0:
        path = GridBrownianPath(float(t0), float(step_size), n_steps, tuple(x0.shape), key)
        scale = (2.0 * noise) ** 0.5
        terms = diffrax.MultiTerm(drift, ScalarDiffusionTerm(lambda t: jnp.asarray(scale), path))
    else:
        terms = drift
    if n_saves:
        check_positive_int("n_saves", n_saves)
        if n_saves < 2:
            raise ValueError(f"n_saves must be 0 (no path) or >= 2 (the path has the start and the end), got {n_saves}")
        idx = jnp.round(jnp.linspace(0, n_steps, n_saves)).astype(int)
        saveat = diffrax.SaveAt(ts=jnp.minimum(t0 + idx * step_size, t1))  # rounding must not pass t1
    else:
        saveat = diffrax.SaveAt(t1=True)
    sol = diffrax.diffeqsolve(
        terms,
        diffrax.Euler(),
        t0=t0,
        t1=t1,
        dt0=step_size,
        y0=x0,
        saveat=saveat,
        stepsize_controller=diffrax.ConstantStepSize(),
        max_steps=n_steps,
    )
    if n_saves:
        return sol.ys[-1], n_steps, sol.ys
    return sol.ys[0], n_steps
