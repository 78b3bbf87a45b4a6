"""Noise-level and time grids shared by the samplers."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import check_choice, check_positive_int, check_range
from ..sde import AbstractSDE


def edm_sigmas(sigma_min: float, sigma_max: float, n_steps: int, rho: float = 7.0) -> Float[Array, " n"]:
    """Karras et al. (2022): (s_max^(1/rho) + i/(N-1) (s_min^(1/rho) - s_max^(1/rho)))^rho, i < N."""
    check_positive_int("n_steps", n_steps)
    check_range("sigma_min", sigma_min, 0.0, None, strict=True)
    if not sigma_max > sigma_min:
        raise ValueError(f"sigma_max must exceed sigma_min, got {sigma_max} <= {sigma_min}")
    frac = jnp.arange(n_steps) / max(n_steps - 1, 1)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return (hi + frac * (lo - hi)) ** rho


def sigma_range(sde: AbstractSDE, eps: float) -> tuple[float, float]:
    """(sigma(eps), sigma(T)) as Python floats, computed at trace time even under jit."""
    with jax.ensure_compile_time_eval():
        return float(sde.sigma(eps)), float(sde.sigma(sde.T))


def sigma_schedule(
    sde: AbstractSDE, n_steps: int, *, kind: str = "edm", eps: float = 1e-3, rho: float = 7.0
) -> Float[Array, " n"]:
    """N decreasing EDM noise levels sigma(t) = std/a between sigma(T) and sigma(eps).

    kind: 'edm' (rho-spaced), 'logsnr' (geometric in sigma, i.e. uniform in log-SNR) or
    'time' (uniform in t).
    """
    check_choice("schedule", kind, ("edm", "logsnr", "time"))
    check_range("eps", eps, 0.0, sde.T, strict=True)
    check_positive_int("n_steps", n_steps)
    s_min, s_max = sigma_range(sde, eps)
    if kind == "edm":
        return edm_sigmas(s_min, s_max, n_steps, rho)
    if kind == "logsnr":
        return jnp.geomspace(s_max, s_min, n_steps)
    return sde.sigma(jnp.linspace(sde.T, eps, n_steps))
