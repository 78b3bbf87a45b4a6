"""The grids fixed-step samplers step on: default or user-given, in time or in sigma, checked in one line."""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._checks import check_positive_int, is_concrete
from ..sde import AbstractProcess
from ._schedules import sigma_range, sigma_schedule


def check_grid(name: str, values, *, hi: float, zero_end: bool) -> Float[Array, " n"]:
    """A decreasing 1-D grid of >= 2 points in (0, hi] (the last may be 0 if `zero_end`), as a float32 array.

    Values are checked when concrete; a traced grid (one compilation for many grids) is
    checked for shape only.
    """
    arr = jnp.asarray(values, jnp.float32)
    if arr.ndim != 1 or arr.shape[0] < 2:
        raise ValueError(f"{name} must be a 1-D grid of at least 2 points, got shape {tuple(arr.shape)}")
    if is_concrete(values):
        v = np.asarray(values, np.float64)
        body = v[:-1] if zero_end else v
        if not np.all(np.isfinite(v)) or np.any(body <= 0) or v[-1] < 0:
            end = ">= 0 at the end" if zero_end else "> 0"
            raise ValueError(f"{name} must be finite and {end}, got {v.tolist()}")
        if np.any(np.diff(v) >= 0):
            raise ValueError(f"{name} must be strictly decreasing, got {v.tolist()}")
        if v[0] > hi * (1 + 1e-4):
            raise ValueError(f"{name} must start at or below {hi:g}, got {v[0]:g}")
    return arr


def time_grid(process: AbstractProcess, n_steps: int, eps: float, ts, t_start) -> Float[Array, " n_plus_1"]:
    """n_steps + 1 decreasing times: the given `ts`, or uniform from t_start (or T) down to eps."""
    if ts is not None:
        if t_start is not None:
            raise ValueError("give ts or t_start, not both: a grid of times starts where it starts")
        return check_grid("ts", ts, hi=process.T, zero_end=False)
    check_positive_int("n_steps", n_steps)
    t0, t1 = process.time_span(eps)
    if t_start is not None:
        t0 = check_t_start(process, t_start, t1)
    return jnp.linspace(t0, t1, n_steps + 1)


def sigma_grid(
    process: AbstractProcess, n_steps: int, eps: float, sigmas, t_start, *, schedule: str, rho: float, to_zero: bool
) -> Float[Array, " n_plus_1"]:
    """Decreasing noise levels: the given `sigmas`, or n_steps levels of `schedule` (+ 0 if `to_zero`)."""
    if sigmas is not None:
        if t_start is not None:
            raise ValueError("give sigmas or t_start, not both: a grid of sigmas starts where it starts")
        return check_grid("sigmas", sigmas, hi=sigma_range(process, eps)[1], zero_end=True)
    check_positive_int("n_steps", n_steps)
    _, t_end = process.time_span(eps)
    if t_start is None:
        s_max = None
    else:
        with jax.ensure_compile_time_eval():
            s_max = float(process.sigma(check_t_start(process, t_start, t_end)))
    levels = sigma_schedule(process, n_steps if to_zero else n_steps + 1, kind=schedule, eps=eps, rho=rho, s_max=s_max)
    return jnp.append(levels, 0.0) if to_zero else levels


def check_t_start(process: AbstractProcess, t_start, t_end: float) -> float:
    if not (isinstance(t_start, int | float) and t_end < t_start <= process.T):
        raise ValueError(f"t_start must lie in ({t_end:g}, {process.T:g}], got {t_start!r}")
    return float(t_start)
