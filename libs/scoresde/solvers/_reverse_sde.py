"""The reverse-time SDE dx = [f - g^2 s] dt + g dw (Song et al. 2021, eq. 6) on a fixed grid, as one diffrax solve."""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import check_positive_int
from ..sde import AbstractProcess
from . import _noise
from ._abstract import AbstractSampler, check_call, initial_state, require_sde
from ._common import batch_times
from ._grid import check_grid, time_grid
from ._predictors import AbstractPredictor, EulerMaruyama, ReverseDiffusion
from ._sde_solve import fixed_step_solve
from ._solution import Solution, save_indices


class ReverseSDE(AbstractSampler):
    """Euler-Maruyama (or reverse-diffusion) steps from T down to eps on `n_steps` uniform steps or the grid `ts`.

    `denoise` drops the noise of the last step (score_sde's noise removal). nfe = steps.
    """

    n_steps: int = eqx.field(static=True, default=1000)
    predictor: AbstractPredictor = EulerMaruyama()
    denoise: bool = eqx.field(static=True, default=True)
    eps: float = eqx.field(static=True, default=1e-3)
    ts: Float[Array, " n_plus_1"] | None = None

    def __check_init__(self):
        if self.ts is not None:
            check_grid("ts", self.ts, hi=float("inf"), zero_end=False)
        check_positive_int("n_steps", self.n_steps)

    def sample(self, process: AbstractProcess, score_fn, shape, *, key, x_init=None, t_start=None, saveat=None):
        check_call(process, shape, key, x_init, t_start)
        sde = require_sde("ReverseSDE", process)
        grid = time_grid(sde, self.n_steps, self.eps, self.ts, t_start)
        n = grid.shape[0] - 1
        k_init, k_path = _noise.split(key, 2)
        x = initial_state(sde, k_init, shape, x_init, t_start, grid[0])
        predictor, batch = self.predictor, shape[0]

        def step_of(t):
            if not predictor.uses_step:
                return None  # Euler-Maruyama's coefficients do not depend on h: no grid lookup per call
            i = jnp.argmin(jnp.abs(grid - t))
            return grid[i] - grid[jnp.minimum(i + 1, n)]

        def drift(t, y):
            tb = batch_times(t, batch)
            return predictor.drift(sde, y, tb, score_fn(y, tb), step_of(t))

        def diffusion(t):
            return predictor.diffusion(sde, t, step_of(t))

        idx = save_indices(saveat, n)
        save_ts = None if idx is None else grid[idx]
        out = fixed_step_solve(drift, diffusion, x, ts=grid, key=k_path, zero_last_noise=self.denoise, save_ts=save_ts)
        if idx is None:
            return Solution(out, n)
        return Solution(out[0], n, save_ts, out[1])


def reverse_sde(
    sde, score_fn, key, shape, *, n_steps=1000, predictor="euler_maruyama", denoise=True, eps=1e-3, x_init=None
):
    """Convenience form of `ReverseSDE(...).sample`: returns (samples, nfe)."""
    pred = {"euler_maruyama": EulerMaruyama(), "reverse_diffusion": ReverseDiffusion()}
    if predictor not in pred:
        raise ValueError(f"predictor={predictor!r} is not one of 'euler_maruyama', 'reverse_diffusion'")
    sol = ReverseSDE(n_steps, pred[predictor], denoise, eps).sample(sde, score_fn, tuple(shape), key=key, x_init=x_init)
    return sol.x, sol.nfe
