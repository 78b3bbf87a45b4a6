"""Samplers from a config: `sampling.method` plus one sub-dict of keyword arguments per method.

    sampling.method = "dpm_solver"
    sampling.dpm_solver = dict(n_steps=20, order=2, schedule="logsnr", sigmas="")

Strings name the pieces that are objects in the library (predictors, correctors, diffrax
solvers); grids are comma-separated numbers ('' = the sampler's default grid). Unknown
methods and fields are one line naming them and the valid ones.
"""

import diffrax
import jax.numpy as jnp

from ..sde import AbstractProcess
from ._abstract import AbstractSampler, require_sde
from ._dpm_solver import DPMSolverPP, DPMSolverPPSDE
from ._edm import EDMHeun
from ._langevin import AnnealedLangevin, Langevin
from ._ode import ODE_SOLVERS
from ._pc import PredictorCorrector
from ._pf_ode import ProbabilityFlow
from ._predictors import AnnealedLangevinCorrector, EulerMaruyama, LangevinCorrector, ReverseDiffusion
from ._reverse_sde import ReverseSDE
from ._unipc import UniPC

PREDICTORS = {"reverse_diffusion": ReverseDiffusion, "euler_maruyama": EulerMaruyama, "none": None}
CORRECTORS = {"langevin": LangevinCorrector, "ald": AnnealedLangevinCorrector, "none": None}

# Each method's fields and defaults (score_sde's / EDM's / DPM-Solver's); configs start from these.
DEFAULTS = {
    "pc": dict(
        n_steps=1000, predictor="reverse_diffusion", corrector="langevin", snr=0.16, n_corrector=1,
        corrector_norm="batch", denoise=True, eps=1e-3, ts="",
    ),
    "reverse_sde": dict(n_steps=1000, predictor="euler_maruyama", denoise=True, eps=1e-3, ts=""),
    "ode": dict(solver="tsit5", rtol=1e-5, atol=1e-5, n_steps=0, max_steps=16384, eps=1e-3, denoise=False, ts=""),
    "edm_heun": dict(n_steps=18, rho=7.0, schedule="edm", churn=0.0, s_tmin=0.0, s_tmax=1e30, s_noise=1.0, eps=1e-3,
                     sigmas=""),
    "dpm_solver": dict(n_steps=20, order=2, schedule="logsnr", rho=7.0, eps=1e-3, final_to_zero=True, sigmas=""),
    "dpm_solver_sde": dict(n_steps=50, eta=1.0, s_noise=1.0, schedule="logsnr", rho=7.0, eps=1e-3, sigmas=""),
    "unipc": dict(n_steps=10, order=3, variant="bh2", schedule="logsnr", rho=7.0, eps=1e-3, final_to_zero=True,
                  lower_order_final=True, sigmas=""),
    "annealed_langevin": dict(n_steps_each=100, step_lr=2e-5, denoise=True),
    "langevin": dict(n_steps=1000, step_size=0.01, init_scale=1.0),
}  # fmt: skip
SAMPLERS = tuple(DEFAULTS)


def parse_grid(name: str, value):
    """'' or None -> None; '1.0, 0.5, 0.1' or a sequence -> a float32 array."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        parts = value.split(",") if isinstance(value, str) else list(value)
        return jnp.asarray([float(v) for v in parts], jnp.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be comma-separated numbers, e.g. '80,10,1,0.1,0'") from None


def _pick(name: str, table: dict, value):
    if value not in table:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, table))}")
    return table[value]


def _build(method: str, f: dict, where: str) -> AbstractSampler:
    if method == "pc":
        pred = _pick(f"{where}.predictor", PREDICTORS, f["predictor"])
        corr_cls = _pick(f"{where}.corrector", CORRECTORS, f["corrector"])
        n_corr = f["n_corrector"]
        if isinstance(n_corr, bool) or not isinstance(n_corr, int) or n_corr < 0:
            raise ValueError(f"{where}.n_corrector must be a non-negative integer, got {n_corr!r}")
        if corr_cls is None or n_corr == 0:
            corr = None
        elif corr_cls is LangevinCorrector:
            corr = LangevinCorrector(f["snr"], n_corr, f["corrector_norm"])
        else:
            corr = corr_cls(f["snr"], n_corr)
        return PredictorCorrector(
            f["n_steps"],
            None if pred is None else pred(),
            corr,
            f["denoise"],
            f["eps"],
            parse_grid(f"{where}.ts", f["ts"]),
        )
    if method == "reverse_sde":
        pred = _pick(f"{where}.predictor", {k: v for k, v in PREDICTORS.items() if v}, f["predictor"])
        return ReverseSDE(f["n_steps"], pred(), f["denoise"], f["eps"], parse_grid(f"{where}.ts", f["ts"]))
    if method == "ode":
        solver = _pick(f"{where}.solver", ODE_SOLVERS, f["solver"])()
        n_steps = f["n_steps"] or None
        return ProbabilityFlow(
            solver, diffrax.PIDController(rtol=f["rtol"], atol=f["atol"]), n_steps, parse_grid(f"{where}.ts", f["ts"]),
            f["max_steps"], f["eps"], f["denoise"],
        )  # fmt: skip
    if method == "edm_heun":
        return EDMHeun(
            f["n_steps"], f["rho"], f["schedule"], f["churn"], f["s_tmin"], f["s_tmax"], f["s_noise"], f["eps"],
            parse_grid(f"{where}.sigmas", f["sigmas"]),
        )  # fmt: skip
    if method == "dpm_solver":
        return DPMSolverPP(
            f["n_steps"], f["order"], f["schedule"], f["rho"], f["eps"], f["final_to_zero"],
            parse_grid(f"{where}.sigmas", f["sigmas"]),
        )  # fmt: skip
    if method == "dpm_solver_sde":
        return DPMSolverPPSDE(
            f["n_steps"], f["eta"], f["s_noise"], f["schedule"], f["rho"], f["eps"],
            parse_grid(f"{where}.sigmas", f["sigmas"]),
        )  # fmt: skip
    if method == "unipc":
        return UniPC(
            f["n_steps"], f["order"], f["variant"], f["schedule"], f["rho"], f["eps"], f["final_to_zero"],
            f["lower_order_final"], parse_grid(f"{where}.sigmas", f["sigmas"]),
        )  # fmt: skip
    if method == "annealed_langevin":
        return AnnealedLangevin(f["n_steps_each"], f["step_lr"], f["denoise"])
    return Langevin(f["n_steps"], f["step_size"], f["init_scale"])


def method_fields(sampling_config, method: str, where: str = "sampling") -> dict:
    """The method's sub-dict over its defaults; an unknown field is one line naming it and the valid ones."""
    given = sampling_config.get(method, None) or {}
    given = dict(given.items()) if hasattr(given, "items") else dict(given)
    unknown = sorted(set(given) - set(DEFAULTS[method]))
    if unknown:
        raise ValueError(
            f"{where}.{method}.{unknown[0]} is not a field of {method}; valid: {', '.join(DEFAULTS[method])}"
        )
    return {**DEFAULTS[method], **given}


def sampler_from_config(sampling_config, process: AbstractProcess | None = None, where: str = "sampling"):
    """The sampler named by `sampling_config.method`, with `sampling_config[method]` as its arguments.

    With `process`, also checks that the sampler can run on it (reverse SDE, PC and the PF-ODE
    need an SDE; annealed Langevin needs a sigma ladder). Every error is one line naming the field.
    """
    method = sampling_config.get("method", None)
    if method not in DEFAULTS:
        raise ValueError(f"{where}.method={method!r} is not one of {', '.join(map(repr, SAMPLERS))}")
    try:
        sampler = _build(method, method_fields(sampling_config, method, where), f"{where}.{method}")
    except ValueError as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith(where) else f"{where}.{method}: {msg}") from None
    if process is not None:
        check_process(sampler, process, f"{where}.method={method!r}")
    return sampler


def check_process(sampler: AbstractSampler, process: AbstractProcess, where: str) -> None:
    from ..sde import SigmaLadder

    if isinstance(sampler, ReverseSDE | PredictorCorrector | ProbabilityFlow):
        try:
            require_sde(type(sampler).__name__, process)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
    if isinstance(sampler, AnnealedLangevin) and not isinstance(process, SigmaLadder):
        raise ValueError(f"{where} needs a sigma ladder (training.loss='ncsn'), got {type(process).__name__}")
