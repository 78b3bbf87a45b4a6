"""DPM-Solver++(2M): multistep second-order data-prediction solver (Lu et al. 2022, Alg. 2).

Written on the scaled state x_hat = x / a with sigma = std / a, where the update is
x_i = (sigma_i / sigma_{i-1}) x_{i-1} + (1 - sigma_i / sigma_{i-1}) D_i, with D_i the
second-order combination of the last two denoiser outputs. This is the paper's update with
alpha = 1, and the same for VE, VP and sub-VP.
"""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._typing import Key, ScoreFn
from ..sde import AbstractSDE
from ._common import check_sampler_args
from ._schedules import sigma_schedule
from ._sigma_space import denoiser_from_score, initial_scaled_state


def dpm_solver_2m(
    sde: AbstractSDE,
    score_fn: ScoreFn,
    key: Key,
    shape: tuple[int, ...],
    *,
    n_steps: int = 20,
    schedule: str = "logsnr",
    rho: float = 7.0,
    eps: float = 1e-3,
    final_to_zero: bool = True,
    x_init: Float[Array, " batch *data"] | None = None,
) -> tuple[Float[Array, " batch *data"], int]:
    """`n_steps` denoiser calls at sigma(T) = s_0 > ... > s_{N-1} = sigma(eps), each followed by a step.

    schedule: 'logsnr' (geometric sigmas, as DPM-Solver), 'edm' (rho-spaced) or 'time'.
    With `final_to_zero` the last step goes to sigma = 0 (returns the denoiser output,
    first order); otherwise the grid has N + 1 points ending at sigma(eps) and the
    last step is first order ('lower_order_final'). Returns (samples, nfe = n_steps).
    """
    check_sampler_args(sde, shape, n_steps, eps)
    if final_to_zero:
        sigmas = jnp.append(sigma_schedule(sde, n_steps, kind=schedule, eps=eps, rho=rho), 0.0)
    else:
        sigmas = sigma_schedule(sde, n_steps + 1, kind=schedule, eps=eps, rho=rho)
    denoise = denoiser_from_score(sde, score_fn)
    s0 = sigmas[0]
    x = initial_scaled_state(sde, key, shape, x_init, s0)
    lam = -jnp.log(jnp.maximum(sigmas, 1e-30))  # lambda = log(alpha / sigma) with alpha = 1

    def step(carry, i):
        x, d_prev = carry
        s_cur, s_next = sigmas[i], sigmas[i + 1]
        d = denoise(x, s_cur)
        h = lam[i + 1] - lam[i]
        h_prev = lam[i] - lam[jnp.maximum(i - 1, 0)]
        last = i == n_steps - 1
        first_order = (i == 0) | (last & ~final_to_zero) | (s_next == 0)
        # r = 0 on the first step (h_prev = 0): keep 1/r finite there, or the unused
        # branch of the where gives inf * 0 = nan in reverse-mode gradients.
        r = jnp.where(first_order, 1.0, h_prev / h)
        second = (1 + 1 / (2 * r)) * d - (1 / (2 * r)) * d_prev
        d_use = jnp.where(first_order, d, second)
        ratio = s_next / s_cur
        return (ratio * x + (1 - ratio) * d_use, d), None

    (x, _), _ = jax.lax.scan(step, (x, jnp.zeros_like(x)), jnp.arange(n_steps))
    return x, n_steps
