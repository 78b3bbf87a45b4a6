"""Langevin dynamics and NCSN's annealed Langevin sampler (Song & Ermon 2019, Alg. 1)."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float

from .._checks import check_decreasing, check_positive_int, check_range, is_concrete
from .._typing import Key, ScoreFn
from ..sde._abstract import _bcast
from ._brownian import grid_noise
from ._common import check_shape_arg


def annealed_langevin(
    score_fn: ScoreFn,
    sigmas: Float[Array, " L"] | np.ndarray,
    key: Key,
    shape: tuple[int, ...],
    *,
    n_steps_each: int = 100,
    step_lr: float = 2e-5,
    denoise: bool = True,
    x_init: Float[Array, " batch *data"] | None = None,
) -> tuple[Float[Array, " batch *data"], int]:
    """For each sigma_i (decreasing), `n_steps_each` steps x <- x + a_i s(x, sigma_i) + sqrt(2 a_i) z.

    a_i = step_lr sigma_i^2 / sigma_L^2. `score_fn(x, sigma)` takes one sigma per sample.
    x starts at `x_init`, or at N(0, sigma_1^2 I) without it. `denoise` adds the final
    Tweedie step x + sigma_L^2 s(x, sigma_L) (NCSNv2). Returns (samples, nfe).
    """
    check_shape_arg(shape)
    check_positive_int("n_steps_each", n_steps_each)
    check_range("step_lr", step_lr, 0.0, None, strict=True)
    if is_concrete(sigmas):
        check_decreasing("sigmas", sigmas)
    sigmas = jnp.asarray(sigmas)
    n_levels = sigmas.shape[0]
    k_init, k_noise = jr.split(key)
    if x_init is None:
        x = sigmas[0] * jr.normal(k_init, shape)
    else:
        if tuple(x_init.shape) != tuple(shape):
            raise ValueError(f"x_init must have shape {tuple(shape)}, got {tuple(x_init.shape)}")
        x = x_init
    batch = shape[0]
    levels = jnp.repeat(jnp.arange(n_levels), n_steps_each)

    def step(x, inp):
        i, level = inp
        sigma = sigmas[level]
        alpha = step_lr * (sigma / sigmas[-1]) ** 2
        s = score_fn(x, jnp.full((batch,), sigma))
        z = grid_noise(k_noise, i, shape)
        return x + alpha * s + jnp.sqrt(2 * alpha) * z, None

    x, _ = jax.lax.scan(step, x, (jnp.arange(levels.shape[0]), levels))
    nfe = n_levels * n_steps_each
    if denoise:
        sig = jnp.full((batch,), sigmas[-1])
        x = x + _bcast(sig**2, x) * score_fn(x, sig)
        nfe += 1
    return x, nfe


def langevin(
    score_fn,
    key: Key,
    x_init: Float[Array, " batch *data"],
    *,
    step_size: float,
    n_steps: int,
) -> tuple[Float[Array, " batch *data"], int]:
    """Plain (unadjusted) Langevin x <- x + a s(x) + sqrt(2a) z with a batched `score_fn(x)`."""
    check_positive_int("n_steps", n_steps)
    check_range("step_size", step_size, 0.0, None, strict=True)

    def step(x, i):
        z = grid_noise(key, i, x.shape)
        return x + step_size * score_fn(x) + jnp.sqrt(2 * step_size) * z, None

    x, _ = jax.lax.scan(step, x_init, jnp.arange(n_steps))
    return x, n_steps
