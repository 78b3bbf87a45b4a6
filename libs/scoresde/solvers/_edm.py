"""EDM's deterministic/stochastic Heun sampler (Karras et al. 2022, Alg. 1-2)."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import check_choice, check_positive_int, check_range
from ..sde import AbstractProcess
from . import _noise, _sigma_sampler
from ._abstract import AbstractSampler
from ._grid import check_grid
from ._schedules import SCHEDULES
from ._solution import Solution, scan_steps


class EDMHeun(AbstractSampler):
    """Heun steps on dx_hat/dsigma = (x_hat - D(x_hat, sigma)) / sigma over `n_steps` levels and 0 (or `sigmas`).

    Levels follow `schedule` ('edm' rho-spaced by default) between sigma(T) and sigma(eps).
    `churn` > 0 adds EDM's stochastic churn (S_churn) where s_tmin <= sigma <= s_tmax. Steps
    to sigma = 0 are Euler: nfe = 2 (levels) - 1.
    """

    n_steps: int = eqx.field(static=True, default=18)
    rho: float = eqx.field(static=True, default=7.0)
    schedule: str = eqx.field(static=True, default="edm")
    churn: float = eqx.field(static=True, default=0.0)
    s_tmin: float = eqx.field(static=True, default=0.0)
    s_tmax: float = eqx.field(static=True, default=float("inf"))
    s_noise: float = eqx.field(static=True, default=1.0)
    eps: float = eqx.field(static=True, default=1e-3)
    sigmas: Float[Array, " n_plus_1"] | None = None

    def __check_init__(self):
        if self.sigmas is not None:
            check_grid("sigmas", self.sigmas, hi=float("inf"), zero_end=True)
        check_positive_int("n_steps", self.n_steps)
        check_range("churn", self.churn, 0.0, None)
        check_choice("schedule", self.schedule, SCHEDULES)

    def sample(self, process: AbstractProcess, score_fn, shape, *, key, x_init=None, t_start=None, saveat=None):
        sigmas, x, denoise, idx, k_churn = _sigma_sampler.setup(
            self, process, score_fn, shape, key, x_init, t_start, saveat, to_zero=True
        )
        n = sigmas.shape[0] - 1
        gamma_max = min(self.churn / n, 2**0.5 - 1)
        churn, s_tmin, s_tmax, s_noise = self.churn, self.s_tmin, self.s_tmax, self.s_noise

        def step(x, inp):
            i, s_cur, s_next = inp
            if churn > 0:
                gamma = jnp.where((s_cur >= s_tmin) & (s_cur <= s_tmax), gamma_max, 0.0)
                s_hat = s_cur * (1 + gamma)
                x = x + jnp.sqrt(s_hat**2 - s_cur**2) * s_noise * _noise.normal(k_churn, i, shape)
            else:
                s_hat = s_cur
            d_cur = (x - denoise(x, s_hat)) / s_hat
            x_euler = x + (s_next - s_hat) * d_cur

            def heun(_):
                d_next = (x_euler - denoise(x_euler, s_next)) / s_next
                return x + (s_next - s_hat) * 0.5 * (d_cur + d_next)

            return jax.lax.cond(s_next > 0, heun, lambda _: x_euler, None)

        x, ys = scan_steps(step, x, (jnp.arange(n), sigmas[:-1], sigmas[1:]), n, idx)
        nfe = 2 * n - _sigma_sampler.steps_to_zero(sigmas)
        ts, ys = _sigma_sampler.saved(process, sigmas, idx, ys)
        return Solution(_sigma_sampler.to_process(process, x, sigmas[-1]), nfe, ts, ys)


def edm_heun(
    sde, score_fn, key, shape, *, n_steps=18, rho=7.0, sigma_min=None, sigma_max=None, churn=0.0,
    s_tmin=0.0, s_tmax=float("inf"), s_noise=1.0, eps=1e-3, x_init=None,
):  # fmt: skip
    """Convenience form of `EDMHeun`; sigma_min/sigma_max override sigma(eps)/sigma(T). Returns (samples, nfe)."""
    from ._schedules import edm_sigmas, sigma_range

    sigmas = None
    if sigma_min is not None or sigma_max is not None:
        lo, hi = sigma_range(sde, eps)
        sigmas = jnp.append(edm_sigmas(lo if sigma_min is None else sigma_min, hi if sigma_max is None else sigma_max,
                                       n_steps, rho), 0.0)  # fmt: skip
    sampler = EDMHeun(n_steps, rho, "edm", churn, s_tmin, s_tmax, s_noise, eps, sigmas)
    sol = sampler.sample(sde, score_fn, tuple(shape), key=key, x_init=x_init)
    return sol.x, sol.nfe
