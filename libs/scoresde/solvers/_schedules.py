"""Noise-level and time grids shared by the samplers: EDM rho, log-SNR uniform, time uniform."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import check_choice, check_positive_int, check_range
from ..sde import AbstractProcess

SCHEDULES = ("edm", "logsnr", "time")


def edm_sigmas(sigma_min: float, sigma_max: float, n_steps: int, rho: float = 7.0) -> Float[Array, " n"]:
    """Karras et al. (2022): (s_max^(1/rho) + i/(N-1) (s_min^(1/rho) - s_max^(1/rho)))^rho, i < N."""
    check_positive_int("n_steps", n_steps)
    check_range("sigma_min", sigma_min, 0.0, None, strict=True)
    if not sigma_max > sigma_min:
        raise ValueError(f"sigma_max must exceed sigma_min, got {sigma_max} <= {sigma_min}")
    frac = jnp.arange(n_steps) / max(n_steps - 1, 1)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return (hi + frac * (lo - hi)) ** rho


def logsnr_sigmas(sigma_min: float, sigma_max: float, n_steps: int) -> Float[Array, " n"]:
    """Geometric sigmas from sigma_max to sigma_min: uniform in log-SNR = -2 log sigma (DPM-Solver's default)."""
    check_positive_int("n_steps", n_steps)
    check_range("sigma_min", sigma_min, 0.0, None, strict=True)
    if not sigma_max > sigma_min:
        raise ValueError(f"sigma_max must exceed sigma_min, got {sigma_max} <= {sigma_min}")
    return jnp.geomspace(sigma_max, sigma_min, n_steps)


def uniform_times(process: AbstractProcess, n_steps: int, eps: float = 1e-3) -> Float[Array, " n"]:
    """n_steps times uniform from T down to eps (score_sde's grid)."""
    check_positive_int("n_steps", n_steps)
    t0, t1 = process.time_span(eps)
    return jnp.linspace(t0, t1, n_steps)


def sigma_range(process: AbstractProcess, eps: float) -> tuple[float, float]:
    """(sigma(eps), sigma(T)) as Python floats, computed at trace time even under jit."""
    t0, t1 = process.time_span(eps)
    with jax.ensure_compile_time_eval():
        return float(process.sigma(t1)), float(process.sigma(t0))


def sigma_schedule(
    process: AbstractProcess,
    n_steps: int,
    *,
    kind: str = "edm",
    eps: float = 1e-3,
    rho: float = 7.0,
    s_max: float | None = None,
) -> Float[Array, " n"]:
    """N decreasing EDM noise levels sigma(t) = std/a between sigma(T) (or `s_max`) and sigma(eps).

    kind: 'edm' (rho-spaced), 'logsnr' (geometric in sigma, i.e. uniform in log-SNR) or
    'time' (uniform in t).
    """
    check_choice("schedule", kind, SCHEDULES)
    check_positive_int("n_steps", n_steps)
    lo, hi = sigma_range(process, eps)
    hi = hi if s_max is None else s_max
    if kind == "edm":
        return edm_sigmas(lo, hi, n_steps, rho)
    if kind == "logsnr":
        return logsnr_sigmas(lo, hi, n_steps)
    t0, t1 = process.time_span(eps)
    with jax.ensure_compile_time_eval():
        t0 = t0 if s_max is None else float(process.t_from_sigma(s_max))
    return process.sigma(jnp.linspace(t0, t1, n_steps))
