"""diffrax ODE solves with adaptive (Tsit5/Dopri5 + PID) or fixed (Heun/Euler) steps."""

import diffrax
import jax
import jax.numpy as jnp

from .._checks import check_choice, check_positive_int

ODE_SOLVERS = {
    "tsit5": (diffrax.Tsit5, 6, True),  # (class, new evaluations per step, first-same-as-last)
    "dopri5": (diffrax.Dopri5, 6, True),
    "dopri8": (diffrax.Dopri8, 13, True),  # 14 stages, the first reused
    "heun": (diffrax.Heun, 2, False),
    "euler": (diffrax.Euler, 1, False),
}


def ode_solve(
    vector_field,
    y0,
    *,
    t0: float,
    t1: float,
    solver: str,
    rtol: float,
    atol: float,
    n_steps: int | None,
    max_steps: int = 16384,
):
    """Solve dy/dt = vector_field(t, y) from t0 to t1; returns (y(t1), number of vector-field evaluations).

    n_steps=None: adaptive steps with a PID controller (Tsit5/Dopri5/Dopri8 only);
    otherwise `n_steps` equal steps.
    """
    check_choice("solver", solver, tuple(ODE_SOLVERS))
    cls, per_step, fsal = ODE_SOLVERS[solver]
    if n_steps is None:
        if solver in ("heun", "euler"):
            raise ValueError(f"solver={solver!r} has no error estimate: give n_steps for a fixed-step solve")
        controller = diffrax.PIDController(rtol=rtol, atol=atol)
        dt0 = None
        steps_cap = max_steps
    else:
        check_positive_int("n_steps", n_steps)
        controller = diffrax.ConstantStepSize()
        dt0 = (t1 - t0) / n_steps
        steps_cap = n_steps
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(lambda t, y, args: vector_field(t, y)),
        cls(),
        t0=t0,
        t1=t1,
        dt0=dt0,
        y0=y0,
        saveat=diffrax.SaveAt(t1=True),
        stepsize_controller=controller,
        max_steps=steps_cap,
    )
    # num_steps counts rejected steps too; each costs per_step new evaluations. No extra
    # evaluations for the initial step size: diffeqsolve wraps every term in WrapTerm, so
    # PIDController's _select_initial_step never sees an ODETerm and returns 0.01 without
    # calling the vector field (diffrax 0.7; counted with a callback in tests/test_samplers.py).
    steps = sol.stats["num_steps"]
    nfe = steps * per_step + (1 if fsal else 0)
    return jax.tree_util.tree_map(lambda a: a[0], sol.ys), jnp.asarray(nfe)
