"""Sampling with the sampler named in config.sampling.method, batch by batch."""

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from scoresde import solvers

from . import components

METHODS = ("pc", "reverse_sde", "ode", "annealed_langevin", "langevin", "edm_heun", "dpm_solver_2m")


def check_method(cfg) -> None:
    m = cfg.sampling.method
    if m not in METHODS:
        raise ValueError(f"sampling.method={m!r} is not one of {', '.join(map(repr, METHODS))}")
    if components.is_discrete(cfg) and m != "annealed_langevin":
        raise ValueError(
            f"sampling.method={m!r} needs a continuous SDE; training.loss='ncsn' samples with 'annealed_langevin'"
        )
    if cfg.training.loss in ("ssm", "ssm_vr") and m != "langevin":
        raise ValueError(
            f"sampling.method={m!r}: a model trained with {cfg.training.loss} has no noise levels; use 'langevin'"
        )
    if m == "annealed_langevin" and not components.is_discrete(cfg):
        raise ValueError("sampling.method='annealed_langevin' needs training.loss='ncsn' (a sigma ladder)")


def sampler(cfg, model, sde):
    """key, batch_size -> (samples, nfe) for the configured method."""
    s = cfg.sampling
    check_method(cfg)
    shape_of = lambda b: (b, *components.data_shape(cfg))  # noqa: E731
    fn = components.score_fn(cfg, model, sde)
    m = s.method
    if m == "pc":
        return lambda k, b: solvers.pc(
            sde, fn, k, shape_of(b), n_steps=s.n_steps, snr=s.snr, n_corrector=s.n_corrector,
            predictor=s.predictor, corrector=s.corrector, eps=s.eps,
        )  # fmt: skip
    if m == "reverse_sde":
        return lambda k, b: solvers.reverse_sde(
            sde, fn, k, shape_of(b), n_steps=s.n_steps, predictor=s.predictor, eps=s.eps
        )
    if m == "ode":
        n = s.n_steps if s.ode_solver in ("heun", "euler") else None
        return lambda k, b: solvers.probability_flow(
            sde, fn, k, shape_of(b), solver=s.ode_solver, rtol=s.rtol, atol=s.atol, n_steps=n, eps=s.eps
        )
    if m == "edm_heun":
        return lambda k, b: solvers.edm_heun(sde, fn, k, shape_of(b), n_steps=s.n_steps, churn=s.churn, eps=s.eps)
    if m == "dpm_solver_2m":
        return lambda k, b: solvers.dpm_solver_2m(sde, fn, k, shape_of(b), n_steps=s.n_steps, eps=s.eps)
    if m == "langevin":

        def run(k, b):
            k0, k1 = jax.random.split(k)
            x0 = s.init_scale * jax.random.normal(k0, shape_of(b))
            return solvers.langevin(lambda x: fn(x, None), k1, x0, step_size=s.step_size, n_steps=s.n_steps)

        return run
    ladder = components.sigmas(cfg)
    return lambda k, b: solvers.annealed_langevin(
        fn, ladder, k, shape_of(b), n_steps_each=s.n_steps_each, step_lr=s.step_lr, denoise=s.denoise
    )


def generate(cfg, model, sde, key, n: int, *, progress: bool = True):
    """n samples in batches of sampling.batch_size; returns (numpy samples, nfe per sample)."""
    run = jax.jit(sampler(cfg, model, sde), static_argnums=1)
    b = cfg.sampling.batch_size
    out, nfe = [], 0
    for i in tqdm(range(0, n, b), desc="sampling", disable=not progress or jax.process_index() != 0):
        x, nfe = run(jax.random.fold_in(key, i), b)
        out.append(np.asarray(jax.device_get(x)))
    return np.concatenate(out)[:n], int(jnp.asarray(nfe))
