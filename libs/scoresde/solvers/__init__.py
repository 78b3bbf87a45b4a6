"""Samplers: each returns (samples, nfe)."""

from ._brownian import GridBrownianPath
from ._reverse_sde import reverse_sde
from ._schedules import edm_sigmas, sigma_schedule

__all__ = ["reverse_sde", "GridBrownianPath", "edm_sigmas", "sigma_schedule"]
