"""Sampling through the probability-flow ODE dx/dt = f - g^2 s / 2 (Song et al. 2021, eq. 13)."""

import diffrax
import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import check_positive_int
from ..sde import AbstractProcess
from . import _noise
from ._abstract import AbstractSampler, check_call, initial_state, require_sde
from ._common import batch_times
from ._grid import check_grid, time_grid
from ._ode import ODE_SOLVERS, diffeq_solve, stages
from ._solution import Solution, save_indices


class ProbabilityFlow(AbstractSampler):
    """Integrate the PF-ODE from T (or t_start) down to eps with any explicit RK diffrax solver.

    Adaptive with `stepsize_controller` (default PID, rtol = atol = 1e-5) unless `n_steps` or
    the grid `ts` is given (then fixed steps, the controller unused). `denoise` ends with
    Tweedie's E[x_0 | x_eps] (one more score call). nfe counts every stage of every step,
    rejected steps included; one known undercount: when an FSAL solver's first step is rejected,
    diffrax evaluates the first stage again (one call per such rejection, not counted).
    """

    solver: diffrax.AbstractSolver = diffrax.Tsit5()
    stepsize_controller: diffrax.AbstractStepSizeController = diffrax.PIDController(rtol=1e-5, atol=1e-5)
    n_steps: int | None = eqx.field(static=True, default=None)
    ts: Float[Array, " n_plus_1"] | None = None
    max_steps: int = eqx.field(static=True, default=16384)
    eps: float = eqx.field(static=True, default=1e-3)
    denoise: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        if self.ts is not None:
            check_grid("ts", self.ts, hi=float("inf"), zero_end=False)
        stages(self.solver)
        check_positive_int("max_steps", self.max_steps)
        if self.n_steps is not None:
            check_positive_int("n_steps", self.n_steps)
        adaptive = self.n_steps is None and self.ts is None
        if adaptive and isinstance(self.stepsize_controller, diffrax.ConstantStepSize):
            raise ValueError("ProbabilityFlow with ConstantStepSize needs n_steps or ts (a grid to step on)")
        if adaptive and isinstance(self.solver, diffrax.Euler | diffrax.Heun | diffrax.Midpoint | diffrax.Ralston):
            raise ValueError(
                f"solver {type(self.solver).__name__} has no error estimate: give n_steps or ts for fixed steps"
            )

    def sample(self, process: AbstractProcess, score_fn, shape, *, key, x_init=None, t_start=None, saveat=None):
        check_call(process, shape, key, x_init, t_start)
        sde = require_sde("ProbabilityFlow", process)
        fixed = self.n_steps is not None or self.ts is not None
        grid = time_grid(sde, self.n_steps or 1, self.eps, self.ts, t_start)
        x = initial_state(sde, _noise.split(key, 1)[0], shape, x_init, t_start, grid[0])
        batch = shape[0]

        def velocity(t, y):
            tb = batch_times(t, batch)
            return sde.ode_drift(y, tb, score_fn(y, tb))

        if fixed:
            idx = save_indices(saveat, grid.shape[0] - 1)
            save_ts = None if idx is None else grid[idx]
            x, nfe, ys = diffeq_solve(velocity, x, solver=self.solver, ts=grid, save_ts=save_ts)
        else:
            if saveat is not None and not isinstance(saveat, int):
                raise ValueError(
                    "adaptive ProbabilityFlow saves a count of equally spaced times (saveat=int), not indices"
                )
            save_ts = None if saveat is None else jnp.linspace(grid[0], grid[-1], save_indices(saveat, saveat - 1).size)
            x, nfe, ys = diffeq_solve(
                velocity, x, solver=self.solver, t0=grid[0], t1=grid[-1],
                controller=self.stepsize_controller, max_steps=self.max_steps, save_ts=save_ts,
            )  # fmt: skip
        if self.denoise:
            tb = batch_times(grid[-1], batch)
            x = sde.denoise(x, tb, score_fn(x, tb))
            nfe = nfe + 1
        return Solution(x, nfe, save_ts, ys)


def probability_flow(
    sde,
    score_fn,
    key,
    shape,
    *,
    solver="tsit5",
    rtol=1e-5,
    atol=1e-5,
    n_steps=None,
    eps=1e-3,
    denoise=False,
    x_init=None,
):
    """Convenience form of `ProbabilityFlow` by solver name; returns (samples, nfe)."""
    if solver not in ODE_SOLVERS:
        raise ValueError(f"solver={solver!r} is not one of {', '.join(map(repr, ODE_SOLVERS))}")
    sampler = ProbabilityFlow(
        ODE_SOLVERS[solver](), diffrax.PIDController(rtol=rtol, atol=atol), n_steps, eps=eps, denoise=denoise
    )
    sol = sampler.sample(sde, score_fn, tuple(shape), key=key, x_init=x_init)
    return sol.x, sol.nfe
