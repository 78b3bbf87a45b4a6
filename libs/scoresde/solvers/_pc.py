"""Predictor-corrector sampling (Song et al. 2021, Alg. 1-3), as one lax.scan."""

from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import check_choice, check_positive_int, check_range
from ..sde import AbstractProcess
from . import _noise
from ._abstract import AbstractSampler, check_call, initial_state, require_sde
from ._common import batch_times
from ._grid import check_grid, time_grid
from ._predictors import (
    AbstractCorrector,
    AbstractPredictor,
    AnnealedLangevinCorrector,
    EulerMaruyama,
    LangevinCorrector,
    ReverseDiffusion,
)
from ._solution import Solution, save_indices, scan_steps


class PredictorCorrector(AbstractSampler):
    """At each grid time from T to eps: the corrector's Langevin steps, then one predictor step.

    As in score_sde the corrector runs before the predictor, and `denoise` returns the last
    predictor mean. `predictor` or `corrector` may be None (not both). `constraint(x, t_next, i)`,
    if given, is applied to the state (and the mean) after step i, whose end time is t_next
    (inpainting imposes the known entries with it). nfe = steps * (corrector steps + 1).
    """

    n_steps: int = eqx.field(static=True, default=1000)
    predictor: AbstractPredictor | None = ReverseDiffusion()
    corrector: AbstractCorrector | None = LangevinCorrector()
    denoise: bool = eqx.field(static=True, default=True)
    eps: float = eqx.field(static=True, default=1e-3)
    ts: Float[Array, " n_plus_1"] | None = None
    constraint: Callable | None = None

    def __check_init__(self):
        if self.ts is not None:
            check_grid("ts", self.ts, hi=float("inf"), zero_end=False)
        check_positive_int("n_steps", self.n_steps)
        if self.predictor is None and self.corrector is None:
            raise ValueError("PredictorCorrector needs a predictor or a corrector: with neither it does nothing")

    def sample(self, process: AbstractProcess, score_fn, shape, *, key, x_init=None, t_start=None, saveat=None):
        check_call(process, shape, key, x_init, t_start)
        sde = require_sde("PredictorCorrector", process)
        grid = time_grid(sde, self.n_steps, self.eps, self.ts, t_start)
        n = grid.shape[0] - 1
        k_init, k_pred, k_corr = _noise.split(key, 3)
        x = initial_state(sde, k_init, shape, x_init, t_start, grid[0])
        n_corr = 0 if self.corrector is None else self.corrector.n_steps
        pred, corr, constraint = self.predictor, self.corrector, self.constraint

        def step(carry, inp):
            x, _ = carry
            i, t, t_next = inp
            h = t - t_next
            tb = batch_times(t, shape[0])
            for j in range(n_corr):
                z = _noise.normal(k_corr, i * n_corr + j, shape)
                x, _ = corr.step(sde, x, tb, score_fn(x, tb), h, z)
            if pred is None:
                mean = x
            else:
                x, mean = pred.step(sde, x, tb, score_fn(x, tb), h, _noise.normal(k_pred, i, shape))
            if constraint is not None:
                x, mean = constraint(x, t_next, i), constraint(mean, t_next, i)
            return x, mean

        idx = save_indices(saveat, n)
        (x, mean), ys = scan_steps(step, (x, x), (jnp.arange(n), grid[:-1], grid[1:]), n, idx, lambda c: c[0])
        nfe = n * (n_corr + (pred is not None))
        return Solution(mean if self.denoise else x, nfe, None if idx is None else grid[idx], ys)


def pc(
    sde,
    score_fn,
    key,
    shape,
    *,
    n_steps=1000,
    snr=0.16,
    n_corrector=1,
    predictor="reverse_diffusion",
    corrector="langevin",
    denoise=True,
    eps=1e-3,
    x_init=None,
    constraint=None,
):
    """Convenience form of `PredictorCorrector(...).sample` with score_sde's names; returns (samples, nfe).

    predictor: 'euler_maruyama' | 'reverse_diffusion' | 'none'; corrector: 'langevin' | 'ald' | 'none'.
    """
    check_choice("predictor", predictor, ("euler_maruyama", "reverse_diffusion", "none"))
    check_choice("corrector", corrector, ("langevin", "ald", "none"))
    if isinstance(n_corrector, bool) or not isinstance(n_corrector, int) or n_corrector < 0:
        raise ValueError(f"n_corrector must be a non-negative integer, got {n_corrector!r}")
    check_range("snr", snr, 0.0, None, strict=True)
    pred = {"euler_maruyama": EulerMaruyama(), "reverse_diffusion": ReverseDiffusion(), "none": None}[predictor]
    if corrector == "none" or n_corrector == 0:
        corr = None
    else:
        corr = (LangevinCorrector if corrector == "langevin" else AnnealedLangevinCorrector)(snr, n_corrector)
    sampler = PredictorCorrector(n_steps, pred, corr, denoise, eps, constraint=constraint)
    sol = sampler.sample(sde, score_fn, tuple(shape), key=key, x_init=x_init)
    return sol.x, sol.nfe
