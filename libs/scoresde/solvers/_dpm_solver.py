"""DPM-Solver++ multistep, deterministic (orders 1-3) and stochastic (2M-SDE) (Lu et al. 2022).

Written on the scaled state x_hat = x / a with sigma = std / a and lambda = -log sigma, where a
step from sigma to sigma' (h = lambda' - lambda) with the denoiser D is
x' = (sigma'/sigma) x - expm1(-h) D (+ higher-order corrections from earlier D's). This is
the paper's update with alpha = 1, the same for VE, VP, sub-VP and the sigma ladder; the
2M-SDE form scales x by exp(-eta h) and adds noise sigma' sqrt(1 - exp(-2 eta h)) z.
"""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import check_choice, check_positive_int, check_range
from ..sde import AbstractProcess
from . import _noise, _sigma_sampler
from ._abstract import AbstractSampler
from ._grid import check_grid
from ._schedules import SCHEDULES
from ._solution import Solution, scan_steps


def _lambdas(sigmas):
    return -jnp.log(jnp.maximum(sigmas, 1e-30))


class DPMSolverPP(AbstractSampler):
    """DPM-Solver++(1S / 2M / 3M): `n_steps` denoiser calls at s_0 > ... > s_{N-1}, each followed by a step.

    schedule: 'logsnr' (geometric sigmas, as DPM-Solver), 'edm' (rho-spaced) or 'time'; or the
    grid `sigmas`. With `final_to_zero` the last step goes to sigma = 0 (returns the denoiser
    output); otherwise the grid has N + 1 levels ending at sigma(eps). The first steps use
    lower orders (no history yet), as does a step to sigma = 0. nfe = n_steps.
    """

    n_steps: int = eqx.field(static=True, default=20)
    order: int = eqx.field(static=True, default=2)
    schedule: str = eqx.field(static=True, default="logsnr")
    rho: float = eqx.field(static=True, default=7.0)
    eps: float = eqx.field(static=True, default=1e-3)
    final_to_zero: bool = eqx.field(static=True, default=True)
    sigmas: Float[Array, " n_plus_1"] | None = None

    def __check_init__(self):
        if self.sigmas is not None:
            check_grid("sigmas", self.sigmas, hi=float("inf"), zero_end=True)
        check_positive_int("n_steps", self.n_steps)
        if self.order not in (1, 2, 3) or isinstance(self.order, bool):
            raise ValueError(f"order must be 1, 2 or 3, got {self.order!r}")
        check_choice("schedule", self.schedule, SCHEDULES)

    def sample(self, process: AbstractProcess, score_fn, shape, *, key, x_init=None, t_start=None, saveat=None):
        sigmas, x, denoise, idx, _ = _sigma_sampler.setup(
            self, process, score_fn, shape, key, x_init, t_start, saveat, to_zero=self.final_to_zero
        )
        n, lam, order = sigmas.shape[0] - 1, _lambdas(sigmas), self.order

        def step(carry, i):
            x, d1, d2, h1, h2 = carry
            s_cur, s_next = sigmas[i], sigmas[i + 1]
            d = denoise(x, s_cur)
            h = lam[i + 1] - lam[i]
            to_zero = s_next == 0
            x_new = (s_next / s_cur) * x - jnp.expm1(-h) * d
            if order >= 2:
                # 2M: x' += -expm1(-h) / (2 r) (D - D_1) with r = h_1 / h (k-diffusion's midpoint form).
                r0 = jnp.where(i >= 1, h1 / jnp.where(to_zero, 1.0, h), 1.0)
                phi2 = jnp.expm1(-h) / jnp.where(to_zero, 1.0, h) + 1
                second = -jnp.expm1(-h) / (2 * r0) * (d - d1)
                if order == 3:
                    r1 = h2 / jnp.where(to_zero, 1.0, h)
                    d1_0 = (d - d1) / r0
                    d1_1 = (d1 - d2) / jnp.where(i >= 2, r1, 1.0)
                    third = phi2 * (d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)) - (phi2 / h - 0.5) * (d1_0 - d1_1) / (
                        r0 + r1
                    )
                    corr = jnp.where(i >= 2, third, jnp.where(i >= 1, second, 0.0))
                else:
                    corr = jnp.where(i >= 1, second, 0.0)
                x_new = x_new + jnp.where(to_zero, 0.0, corr)
            if not self.final_to_zero:
                x_new = jnp.where(i == n - 1, (s_next / s_cur) * x - jnp.expm1(-h) * d, x_new)
            x_new = jnp.where(to_zero, d, x_new)
            return x_new, d, d1, h, h1

        zero = jnp.zeros_like(x)
        init = (x, zero, zero, jnp.zeros(()), jnp.zeros(()))
        carry, ys = scan_steps(step, init, jnp.arange(n), n, idx, lambda c: c[0])
        ts, ys = _sigma_sampler.saved(process, sigmas, idx, ys)
        return Solution(_sigma_sampler.to_process(process, carry[0], sigmas[-1]), n, ts, ys)


class DPMSolverPPSDE(AbstractSampler):
    """DPM-Solver++(2M)-SDE (k-diffusion's `sample_dpmpp_2m_sde`, midpoint form), `n_steps` denoiser calls.

    eta = 0 is DPM-Solver++(2M); eta = 1 (default) the SDE whose marginals match the data's.
    `s_noise` scales the added noise. nfe = n_steps.
    """

    n_steps: int = eqx.field(static=True, default=50)
    eta: float = eqx.field(static=True, default=1.0)
    s_noise: float = eqx.field(static=True, default=1.0)
    schedule: str = eqx.field(static=True, default="logsnr")
    rho: float = eqx.field(static=True, default=7.0)
    eps: float = eqx.field(static=True, default=1e-3)
    sigmas: Float[Array, " n_plus_1"] | None = None

    def __check_init__(self):
        if self.sigmas is not None:
            check_grid("sigmas", self.sigmas, hi=float("inf"), zero_end=True)
        check_positive_int("n_steps", self.n_steps)
        check_range("eta", self.eta, 0.0, None)
        check_range("s_noise", self.s_noise, 0.0, None)
        check_choice("schedule", self.schedule, SCHEDULES)

    def sample(self, process: AbstractProcess, score_fn, shape, *, key, x_init=None, t_start=None, saveat=None):
        sigmas, x, denoise, idx, k_noise = _sigma_sampler.setup(
            self, process, score_fn, shape, key, x_init, t_start, saveat, to_zero=True
        )
        n, lam, eta, s_noise = sigmas.shape[0] - 1, _lambdas(sigmas), self.eta, self.s_noise

        def step(carry, i):
            x, d_prev, h_prev = carry
            s_cur, s_next = sigmas[i], sigmas[i + 1]
            d = denoise(x, s_cur)
            to_zero = s_next == 0
            h = jnp.where(to_zero, 1.0, lam[i + 1] - lam[i])
            eta_h = eta * h
            x_new = (s_next / s_cur) * jnp.exp(-eta_h) * x - jnp.expm1(-h - eta_h) * d
            r = jnp.where(i >= 1, h_prev / h, 1.0)
            x_new = x_new + jnp.where(i >= 1, -0.5 * jnp.expm1(-h - eta_h) / r * (d - d_prev), 0.0)
            noise = _noise.normal(k_noise, i, shape)
            x_new = x_new + s_next * jnp.sqrt(-jnp.expm1(-2 * eta_h)) * s_noise * noise
            return jnp.where(to_zero, d, x_new), d, h

        carry, ys = scan_steps(step, (x, jnp.zeros_like(x), jnp.zeros(())), jnp.arange(n), n, idx, lambda c: c[0])
        ts, ys = _sigma_sampler.saved(process, sigmas, idx, ys)
        return Solution(_sigma_sampler.to_process(process, carry[0], sigmas[-1]), n, ts, ys)


def _convenience(order):
    def run(sde, score_fn, key, shape, *, n_steps=20, schedule="logsnr", rho=7.0, eps=1e-3, final_to_zero=True,
            x_init=None, sigmas=None):  # fmt: skip
        sampler = DPMSolverPP(n_steps, order, schedule, rho, eps, final_to_zero, sigmas)
        sol = sampler.sample(sde, score_fn, tuple(shape), key=key, x_init=x_init)
        return sol.x, sol.nfe

    run.__doc__ = f"Convenience form of `DPMSolverPP(order={order})`; returns (samples, nfe)."
    return run


dpm_solver_2m = _convenience(2)
dpm_solver_3m = _convenience(3)


def dpm_solver_2m_sde(sde, score_fn, key, shape, *, n_steps=50, eta=1.0, schedule="logsnr", eps=1e-3, x_init=None):
    """Convenience form of `DPMSolverPPSDE`; returns (samples, nfe)."""
    sol = DPMSolverPPSDE(n_steps, eta, schedule=schedule, eps=eps).sample(
        sde, score_fn, tuple(shape), key=key, x_init=x_init
    )
    return sol.x, sol.nfe
