"""Samplers as equinox Modules: `sampler.sample(process, score_fn, shape, *, key, ...) -> Solution`.

- `ReverseSDE`: Euler-Maruyama or reverse-diffusion steps of the reverse SDE (one diffrax solve).
- `PredictorCorrector`: predictor (`EulerMaruyama`, `ReverseDiffusion`) and corrector
  (`LangevinCorrector`, `AnnealedLangevinCorrector`) Modules, one lax.scan.
- `AnnealedLangevin` (NCSN, on a `SigmaLadder`), `Langevin` (noise-free scores).
- `ProbabilityFlow`: the PF-ODE with any explicit RK diffrax solver and step-size controller.
- `EDMHeun`, `DPMSolverPP` (1S / 2M / 3M), `DPMSolverPPSDE` (2M-SDE), `UniPC` (UniP + UniC): solvers in sigma.
- Grids: every fixed-step sampler takes `ts=` (time) or `sigmas=` (noise level); `edm_sigmas`,
  `logsnr_sigmas`, `uniform_times`, `sigma_schedule` make them.
- `sampler_from_config`: `sampling.method` + the method's sub-dict.
- `integrate_flow`: a generic fixed-step particle flow (DGflow, SD flow) on the same SDE solve.
The lower-case functions (`pc`, `reverse_sde`, ...) are one-call conveniences over the classes.
"""

from ._abstract import AbstractSampler
from ._brownian import GridBrownianPath, grid_noise
from ._dpm_solver import DPMSolverPP, DPMSolverPPSDE, dpm_solver_2m, dpm_solver_2m_sde, dpm_solver_3m
from ._edm import EDMHeun, edm_heun
from ._flow import integrate_flow
from ._from_config import DEFAULTS, SAMPLERS, method_fields, parse_grid, sampler_from_config
from ._langevin import AnnealedLangevin, Langevin, annealed_langevin, langevin
from ._noise import sample_keys
from ._ode import ODE_SOLVERS, ode_solve
from ._pc import PredictorCorrector, pc
from ._pf_ode import ProbabilityFlow, probability_flow
from ._predictors import (
    AbstractCorrector,
    AbstractPredictor,
    AnnealedLangevinCorrector,
    EulerMaruyama,
    LangevinCorrector,
    ReverseDiffusion,
)
from ._reverse_sde import ReverseSDE, reverse_sde
from ._schedules import edm_sigmas, logsnr_sigmas, sigma_schedule, uniform_times
from ._sde_solve import fixed_step_solve
from ._sigma_space import denoiser_from_score, score_fn_from_denoiser
from ._solution import Solution
from ._steps import (
    annealed_langevin_corrector_step,
    euler_maruyama_step,
    langevin_corrector_step,
    reverse_diffusion_step,
)
from ._unipc import UniPC, unipc

__all__ = [
    "AbstractSampler",
    "Solution",
    "ReverseSDE",
    "PredictorCorrector",
    "AbstractPredictor",
    "AbstractCorrector",
    "EulerMaruyama",
    "ReverseDiffusion",
    "LangevinCorrector",
    "AnnealedLangevinCorrector",
    "AnnealedLangevin",
    "Langevin",
    "ProbabilityFlow",
    "EDMHeun",
    "DPMSolverPP",
    "DPMSolverPPSDE",
    "UniPC",
    "sampler_from_config",
    "method_fields",
    "parse_grid",
    "SAMPLERS",
    "DEFAULTS",
    "ODE_SOLVERS",
    "reverse_sde",
    "pc",
    "annealed_langevin",
    "langevin",
    "probability_flow",
    "edm_heun",
    "dpm_solver_2m",
    "dpm_solver_3m",
    "dpm_solver_2m_sde",
    "unipc",
    "integrate_flow",
    "ode_solve",
    "fixed_step_solve",
    "sample_keys",
    "GridBrownianPath",
    "grid_noise",
    "edm_sigmas",
    "logsnr_sigmas",
    "uniform_times",
    "sigma_schedule",
    "denoiser_from_score",
    "score_fn_from_denoiser",
    "euler_maruyama_step",
    "reverse_diffusion_step",
    "langevin_corrector_step",
    "annealed_langevin_corrector_step",
]
