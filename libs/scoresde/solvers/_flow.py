"""A generic fixed-step particle flow, dx = v(x, t) dt + sqrt(2 gamma) dW, on the one fixed-step SDE solve.

DGflow (z <- z + eta c(d) grad d + sqrt(2 gamma eta) xi), DDLS and SD flow
(x <- x + eta v_sigma(x)) are all this integrator with dt = eta and their own velocity.
"""

import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import check_positive_int, check_range
from . import _noise
from ._sde_solve import fixed_step_solve


def integrate_flow(
    velocity,
    x0: Float[Array, " batch *data"],
    *,
    step_size: float,
    n_steps: int,
    noise: float = 0.0,
    key=None,
    t0: float = 0.0,
    n_saves: int = 0,
) -> (
    tuple[Float[Array, " batch *data"], int]
    | tuple[Float[Array, " batch *data"], int, Float[Array, " saves batch *data"]]
):
    """`n_steps` Euler(-Maruyama) steps of size `step_size` from time t0 of dx = velocity(x, t) dt + sqrt(2 noise) dW.

    `velocity(x, t)` is batched (t a scalar). `noise` = gamma >= 0 (0: deterministic, no key
    needed). `key` is one key, or one key per particle (shape (batch,)): then particle i's
    noise comes from key[i] alone. With `n_saves` > 0 also returns the states at `n_saves`
    equally spaced times including the start and the end, shape (n_saves, batch, *data).
    Returns (x, nfe[, path]).
    """
    check_positive_int("n_steps", n_steps)
    check_range("step_size", step_size, 0.0, None, strict=True)
    check_range("noise", noise, 0.0, None)
    if noise > 0 and key is None:
        raise ValueError("key is required when noise > 0")
    if noise > 0:
        _noise.check_key(key, x0.shape[0])
    if n_saves:
        check_positive_int("n_saves", n_saves)
        if n_saves < 2:
            raise ValueError(f"n_saves must be 0 (no path) or >= 2 (the path has the start and the end), got {n_saves}")
    ts = t0 + step_size * jnp.arange(n_steps + 1, dtype=x0.dtype)
    scale = (2.0 * noise) ** 0.5
    diffusion = (lambda t: jnp.asarray(scale)) if noise > 0 else None
    save_ts = ts[jnp.round(jnp.linspace(0, n_steps, n_saves)).astype(int)] if n_saves else None
    out = fixed_step_solve(lambda t, y: velocity(y, t), diffusion, x0, ts=ts, key=key, save_ts=save_ts)
    if n_saves:
        return out[0], n_steps, out[1]
    return out, n_steps
