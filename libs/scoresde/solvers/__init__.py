"""Samplers built on diffrax and lax.scan; each returns (samples, nfe).

- `reverse_sde`: Euler-Maruyama or reverse-diffusion steps of the reverse SDE (diffrax).
- `pc`: predictor-corrector (Langevin / annealed-Langevin corrector).
- `annealed_langevin`, `langevin`: NCSN's sampler and plain Langevin dynamics.
- `probability_flow`: the PF-ODE, adaptive (Tsit5/Dopri5) or fixed-step (Heun/Euler).
- `edm_heun`, `dpm_solver_2m`: fast ODE solvers in the EDM sigma parameterisation.
- `integrate_flow`: a generic fixed-step particle flow (DGflow, SD flow).
"""

from ._brownian import GridBrownianPath, grid_noise
from ._dpm_solver import dpm_solver_2m
from ._edm import edm_heun
from ._flow import integrate_flow
from ._langevin import annealed_langevin, langevin
from ._noise import sample_keys
from ._ode import ode_solve
from ._pc import pc
from ._pf_ode import probability_flow
from ._reverse_sde import reverse_sde
from ._schedules import edm_sigmas, sigma_schedule
from ._sde_solve import fixed_step_solve
from ._sigma_space import denoiser_from_score
from ._steps import (
    annealed_langevin_corrector_step,
    euler_maruyama_step,
    langevin_corrector_step,
    reverse_diffusion_step,
)

__all__ = [
    "reverse_sde",
    "pc",
    "annealed_langevin",
    "langevin",
    "probability_flow",
    "edm_heun",
    "dpm_solver_2m",
    "integrate_flow",
    "ode_solve",
    "fixed_step_solve",
    "sample_keys",
    "GridBrownianPath",
    "grid_noise",
    "edm_sigmas",
    "sigma_schedule",
    "denoiser_from_score",
    "euler_maruyama_step",
    "reverse_diffusion_step",
    "langevin_corrector_step",
    "annealed_langevin_corrector_step",
]
