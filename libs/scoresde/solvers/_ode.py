"""diffrax ODE solves with any explicit Runge-Kutta solver, adaptive or on a grid, with an exact NFE count."""

import diffrax
import jax
import jax.numpy as jnp

from .._checks import check_choice, check_positive_int

ODE_SOLVERS = {
    "tsit5": diffrax.Tsit5,
    "dopri5": diffrax.Dopri5,
    "dopri8": diffrax.Dopri8,
    "bosh3": diffrax.Bosh3,
    "heun": diffrax.Heun,
    "midpoint": diffrax.Midpoint,
    "ralston": diffrax.Ralston,
    "euler": diffrax.Euler,
}


def stages(solver: diffrax.AbstractSolver) -> tuple[int, bool]:
    """(vector-field evaluations per step, first-same-as-last) of an explicit RK solver, from its tableau."""
    if isinstance(solver, diffrax.Euler):
        return 1, False
    if isinstance(solver, diffrax.AbstractERK):
        fsal = bool(solver.tableau.fsal)
        return len(solver.tableau.c) + 1 - int(fsal), fsal
    raise ValueError(
        f"solver must be an explicit Runge-Kutta solver (diffrax.Euler, Heun, Tsit5, Dopri5, ...), so that the "
        f"number of score evaluations is known; got {type(solver).__name__}"
    )


def evaluations(solver: diffrax.AbstractSolver, num_steps):
    """Vector-field evaluations of a solve of num_steps steps (rejected ones included).

    No extra evaluations for the initial step size: diffeqsolve wraps every term in WrapTerm,
    so PIDController's initial-step selection never calls the vector field (diffrax 0.7;
    counted with a callback in tests/test_samplers.py).
    """
    per_step, fsal = stages(solver)
    return num_steps * per_step + (1 if fsal else 0)


def diffeq_solve(
    vector_field, y0, *, solver, ts=None, t0=None, t1=None, controller=None, max_steps=16384, save_ts=None
):
    """Solve dy/dt = vector_field(t, y): on the grid `ts`, or adaptively from t0 to t1 with `controller`.

    Returns (y(end), nfe, ys at save_ts or None).
    """
    if ts is not None:
        t0, t1, dt0, controller, cap = ts[0], ts[-1], None, diffrax.StepTo(ts), ts.shape[0] - 1
    else:
        dt0, cap = None, max_steps
    saveat = diffrax.SaveAt(t1=True) if save_ts is None else diffrax.SaveAt(ts=save_ts, t1=True)
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(lambda t, y, args: vector_field(t, y)),
        solver,
        t0=t0,
        t1=t1,
        dt0=dt0,
        y0=y0,
        saveat=saveat,
        stepsize_controller=controller,
        max_steps=cap,
    )
    nfe = jnp.asarray(evaluations(solver, sol.stats["num_steps"]))
    last = jax.tree_util.tree_map(lambda a: a[-1], sol.ys)  # y may be a pytree (likelihood: (x, delta logp))
    return last, nfe, (None if save_ts is None else jax.tree_util.tree_map(lambda a: a[:-1], sol.ys))


def ode_solve(vector_field, y0, *, t0, t1, solver: str, rtol: float, atol: float, n_steps, max_steps: int = 16384):
    """Solve by solver name: adaptive (PID, rtol/atol) when n_steps is None, else n_steps equal steps; (y(t1), nfe)."""
    check_choice("solver", solver, tuple(ODE_SOLVERS))
    if n_steps is None:
        if solver in ("heun", "euler", "midpoint", "ralston"):
            raise ValueError(f"solver={solver!r} has no error estimate: give n_steps for a fixed-step solve")
        y, nfe, _ = diffeq_solve(
            vector_field, y0, solver=ODE_SOLVERS[solver](), t0=t0, t1=t1,
            controller=diffrax.PIDController(rtol=rtol, atol=atol), max_steps=max_steps,
        )  # fmt: skip
        return y, nfe
    check_positive_int("n_steps", n_steps)
    y, nfe, _ = diffeq_solve(vector_field, y0, solver=ODE_SOLVERS[solver](), ts=jnp.linspace(t0, t1, n_steps + 1))
    return y, nfe
