"""UniPC (Zhao et al. 2023): a multistep predictor (UniP) and a corrector (UniC) that costs no extra call.

Written, like DPM-Solver++, on the scaled state x_hat = x / a with sigma = std / a, lambda =
-log sigma and the denoiser D (data prediction). A step from sigma_s to sigma_t (h = lambda_t -
lambda_s, z = -h) is

    x_t = (sigma_t / sigma_s) x_s - expm1(z) D_s - B(h) sum_k rho_k (D_k - D_s) / r_k,

with r_k = (lambda_k - lambda_s) / h for the earlier (and, in the corrector, the new) points and
rho solving sum_k rho_k r_k^(i-1) = g_i(z) i! / B(h), i = 1..p, where g_i(z) = sum_{j>=1}
z^j / (j + i)! (B(h) = -h for 'bh1', expm1(-h) for 'bh2'). The corrector re-takes the last step
once D is known at its end (the call the next step needs anyway) and continues from the corrected
state; the stored D stays the one at the predicted state. Order-2 predictors and order-1
correctors use rho = 1/2, as the paper's code does.
"""

import math

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import check_choice, check_positive_int
from ..sde import AbstractProcess
from . import _sigma_sampler
from ._abstract import AbstractSampler
from ._grid import check_grid
from ._schedules import SCHEDULES
from ._solution import Solution, scan_steps

VARIANTS = ("bh1", "bh2")


def _g(z, i: int):
    """g_i(z) = sum_{j>=1} z^j / (j + i)!: a Taylor sum for |z| < 1 (the closed form cancels), else the closed form."""
    zs = jnp.where(jnp.abs(z) < 1, z, 0.5)
    series = sum(zs**j * (1.0 / math.factorial(j + i)) for j in range(1, 12))
    zc = jnp.where(jnp.abs(z) < 1, 1.0, z)
    closed = jnp.expm1(zc) / zc - 1  # g_1
    for k in range(2, i + 1):
        closed = closed / zc - 1 / math.factorial(k)
    return jnp.where(jnp.abs(z) < 1, series, closed)


def _bs(h, variant: str):
    """(B(h), [b_1, b_2, b_3]) with b_i = g_i(-h) i! / B(h)."""
    z = -h
    big_b = z if variant == "bh1" else jnp.expm1(z)
    return big_b, [_g(z, i) * math.factorial(i) / big_b for i in (1, 2, 3)]


def _solve(rks, b):
    """rho with sum_k rho_k rks_k^(i-1) = b_i, i = 1..len(rks) (a Vandermonde system of size 2 or 3)."""
    r = jnp.stack(rks)
    mat = jnp.stack([r**i for i in range(len(rks))])
    return jnp.linalg.solve(mat, jnp.stack(b[: len(rks)]))


def _update(x, d0, s_ratio, h, variant, diffs, rks, order: int, corrector_end=None):
    """One UniP step (corrector_end None) or UniC step (corrector_end = D at the step's end) of the given order.

    diffs[k] = D_k - D_s of the earlier points, rks[k] their r_k (order - 1 of them are used).
    """
    big_b, b = _bs(h, variant)
    base = s_ratio * x - jnp.expm1(-h) * d0
    if corrector_end is None:
        if order == 1:
            return base
        if order == 2:
            return base - big_b * 0.5 * diffs[0] / rks[0]
        rho = _solve(rks[:2], b)
        return base - big_b * (rho[0] * diffs[0] / rks[0] + rho[1] * diffs[1] / rks[1])
    end = corrector_end - d0
    if order == 1:
        return base - big_b * 0.5 * end
    rho = _solve([*rks[: order - 1], jnp.ones(())], b)
    res = sum(rho[k] * diffs[k] / rks[k] for k in range(order - 1))
    return base - big_b * (res + rho[order - 1] * end)


class UniPC(AbstractSampler):
    """UniPC-p (predictor UniP-p + corrector UniC): `n_steps` denoiser calls, no extra call for the corrector.

    order 1-3 (3 for unconditional sampling, as the paper suggests); variant 'bh1' (B(h) = h, the
    paper's choice below 10 steps unconditionally) or 'bh2' (B(h) = e^h - 1). schedule / rho / eps /
    final_to_zero / sigmas as in DPMSolverPP. The first steps use lower orders (no history yet); with
    `lower_order_final` the last steps do too (order <= steps left), and a step to sigma = 0 returns
    the denoiser output. nfe = n_steps.
    """

    n_steps: int = eqx.field(static=True, default=10)
    order: int = eqx.field(static=True, default=3)
    variant: str = eqx.field(static=True, default="bh2")
    schedule: str = eqx.field(static=True, default="logsnr")
    rho: float = eqx.field(static=True, default=7.0)
    eps: float = eqx.field(static=True, default=1e-3)
    final_to_zero: bool = eqx.field(static=True, default=True)
    lower_order_final: bool = eqx.field(static=True, default=True)
    sigmas: Float[Array, " n_plus_1"] | None = None

    def __check_init__(self):
        if self.sigmas is not None:
            check_grid("sigmas", self.sigmas, hi=float("inf"), zero_end=True)
        check_positive_int("n_steps", self.n_steps)
        if self.order not in (1, 2, 3) or isinstance(self.order, bool):
            raise ValueError(f"order must be 1, 2 or 3, got {self.order!r}")
        check_choice("variant", self.variant, VARIANTS)
        check_choice("schedule", self.schedule, SCHEDULES)

    def _order_at(self, i, n):
        """The predictor's order at step i of n: limited by the history (i + 1) and, optionally, the steps left."""
        p = jnp.minimum(self.order, i + 1)
        return jnp.minimum(p, n - i) if self.lower_order_final else p

    def sample(self, process: AbstractProcess, score_fn, shape, *, key, x_init=None, t_start=None, saveat=None):
        sigmas, x, denoise, idx, _ = _sigma_sampler.setup(
            self, process, score_fn, shape, key, x_init, t_start, saveat, to_zero=self.final_to_zero
        )
        n, variant = sigmas.shape[0] - 1, self.variant
        lam = -jnp.log(jnp.maximum(sigmas, 1e-30))

        def lam_at(j):
            return lam[jnp.maximum(j, 0)]

        def pick(order, candidates):
            out = candidates[0]
            for k, c in enumerate(candidates[1:], start=2):
                out = jnp.where(order >= k, c, out)
            return out

        def rks_of(i, h):
            # r_k of the points before step i's start, relative to it; a placeholder where there is no history
            return [jnp.where(i >= k, (lam_at(i - k) - lam_at(i)) / h, -float(k)) for k in (1, 2)]

        def step(carry, i):
            x, x_prev, d1, d2, d3 = carry  # x: predicted state at sigma_i; x_prev: the state step i-1 started from
            d = denoise(x, sigmas[i])
            # UniC: re-take step i-1 (sigma_{i-1} -> sigma_i) with D at its end, at the order UniP used there
            hc = jnp.where(i >= 1, lam[i] - lam_at(i - 1), 1.0)
            rc = rks_of(i - 1, hc)
            diffs_c = [d2 - d1, d3 - d1]
            ratio_c = sigmas[i] / sigmas[jnp.maximum(i - 1, 0)]
            c_order = self._order_at(i - 1, n)
            corrected = pick(
                c_order,
                [_update(x_prev, d1, ratio_c, hc, variant, diffs_c, rc, k, corrector_end=d) for k in (1, 2, 3)],
            )
            x = jnp.where(i >= 1, corrected, x)
            # UniP: sigma_i -> sigma_{i+1}
            to_zero = sigmas[i + 1] == 0
            h = jnp.where(to_zero, 1.0, lam[i + 1] - lam[i])
            rp = rks_of(i, h)
            diffs_p = [d1 - d, d2 - d]
            ratio_p = sigmas[i + 1] / sigmas[i]
            p_order = self._order_at(i, n)
            x_new = pick(p_order, [_update(x, d, ratio_p, h, variant, diffs_p, rp, k) for k in (1, 2, 3)])
            return jnp.where(to_zero, d, x_new), x, d, d1, d2

        zero = jnp.zeros_like(x)
        carry, ys = scan_steps(step, (x, x, zero, zero, zero), jnp.arange(n), n, idx, lambda c: c[0])
        ts, ys = _sigma_sampler.saved(process, sigmas, idx, ys)
        return Solution(_sigma_sampler.to_process(process, carry[0], sigmas[-1]), n, ts, ys)


def unipc(sde, score_fn, key, shape, *, n_steps=10, order=3, variant="bh2", schedule="logsnr", eps=1e-3, x_init=None):
    """Convenience form of `UniPC`; returns (samples, nfe)."""
    sol = UniPC(n_steps, order, variant, schedule, eps=eps).sample(sde, score_fn, tuple(shape), key=key, x_init=x_init)
    return sol.x, sol.nfe
