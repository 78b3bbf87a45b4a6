"""EDM's deterministic/stochastic Heun sampler (Karras et al. 2022, Alg. 1-2)."""

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from .._checks import check_range
from .._typing import Key, ScoreFn
from ..sde import AbstractSDE
from ._brownian import grid_noise
from ._common import check_sampler_args
from ._schedules import edm_sigmas, sigma_range
from ._sigma_space import denoiser_from_score, initial_scaled_state


def edm_heun(
    sde: AbstractSDE,
    score_fn: ScoreFn,
    key: Key,
    shape: tuple[int, ...],
    *,
    n_steps: int = 18,
    rho: float = 7.0,
    sigma_min: float | None = None,
    sigma_max: float | None = None,
    churn: float = 0.0,
    s_tmin: float = 0.0,
    s_tmax: float = float("inf"),
    s_noise: float = 1.0,
    eps: float = 1e-3,
    x_init: Float[Array, " batch *data"] | None = None,
) -> tuple[Float[Array, " batch *data"], int]:
    """Heun steps on dx_hat/dsigma = (x_hat - D(x_hat, sigma)) / sigma over the rho-spaced sigmas and 0.

    sigma_min/sigma_max default to sigma(eps) and sigma(T) of the SDE. `churn` > 0 adds
    EDM's stochastic churn (S_churn), applied where s_tmin <= sigma <= s_tmax. The last step
    (to sigma = 0) is Euler: nfe = 2 n_steps - 1. `x_init` is in the SDE's space at T.
    """
    check_sampler_args(sde, shape, n_steps, eps)
    check_range("churn", churn, 0.0, None)
    default_min, default_max = sigma_range(sde, eps)
    s_min = default_min if sigma_min is None else sigma_min
    s_max = default_max if sigma_max is None else sigma_max
    sigmas = jnp.append(edm_sigmas(s_min, s_max, n_steps, rho), 0.0)
    denoise = denoiser_from_score(sde, score_fn)
    k_init, k_churn = jr.split(key)
    x = initial_scaled_state(sde, k_init, shape, x_init, s_max)
    gamma_max = min(churn / n_steps, 2**0.5 - 1)

    def step(x, inp):
        i, s_cur, s_next = inp
        if churn > 0:
            gamma = jnp.where((s_cur >= s_tmin) & (s_cur <= s_tmax), gamma_max, 0.0)
            s_hat = s_cur * (1 + gamma)
            x = x + jnp.sqrt(s_hat**2 - s_cur**2) * s_noise * grid_noise(k_churn, i, shape)
        else:
            s_hat = s_cur
        d_cur = (x - denoise(x, s_hat)) / s_hat
        x_euler = x + (s_next - s_hat) * d_cur

        def heun(_):
            d_next = (x_euler - denoise(x_euler, s_next)) / s_next
            return x + (s_next - s_hat) * 0.5 * (d_cur + d_next)

        return jax.lax.cond(s_next > 0, heun, lambda _: x_euler, None), None

    x, _ = jax.lax.scan(step, x, (jnp.arange(n_steps), sigmas[:-1], sigmas[1:]))
    return x, 2 * n_steps - 1
