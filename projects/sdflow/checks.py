"""Up-front validation: every bad input fails here with one line, before anything is written."""

import os

import jax

from scoresde import checkpoint, parallel, project

from . import components, flowing

TARGET_PROXIES = ("kernel", "learned", "exact")
SOURCE_PROXIES = ("kernel", "learned")
METHODS = ("particles", "generator")


def _choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}")


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer")


def validate(cfg, workdir: str, mode: str):
    """Check the workdir, the config and the data (shapes, non-empty sets, schedule, step); return the mesh."""
    checkpoint.check_workdir(workdir)
    f = cfg.flow
    _choice("flow.method", f.method, METHODS)
    _choice("proxy.target", cfg.proxy.target, TARGET_PROXIES)
    _choice("proxy.source", cfg.proxy.source, SOURCE_PROXIES)
    if f.method == "generator" and (cfg.source.name != "gaussian" or cfg.proxy.source != "kernel"):
        raise ValueError("flow.method='generator' needs source.name='gaussian' (the latent) and proxy.source='kernel'")
    for name in ("steps_per_level", "chunk_size", "query_chunk"):
        _positive_int(f"flow.{name}", f[name])
    if not f.noise >= 0:
        raise ValueError(f"flow.noise={f.noise} must be >= 0")
    components.step_sizes(cfg, components.sigmas(cfg))
    if cfg.proxy.target == "exact":
        components.target_mixture(cfg)
    mesh = parallel.make_mesh(fsdp=cfg.parallel.fsdp)
    n_dev = jax.device_count()
    if f.n_particles % n_dev:
        raise ValueError(f"flow.n_particles={f.n_particles} must be a multiple of the {n_dev} devices")
    if f.method == "generator" and cfg.generator.batch_size % n_dev:
        raise ValueError(f"generator.batch_size={cfg.generator.batch_size} must be a multiple of the {n_dev} devices")
    target = components.target_samples(cfg, "train")
    components.target_samples(cfg, "test")
    components.check_shapes(components.source_samples(cfg), target)
    learned = "learned" in (cfg.proxy.target, cfg.proxy.source)
    if learned and cfg.learned.batch_size % n_dev:
        raise ValueError(f"learned.batch_size={cfg.learned.batch_size} must be a multiple of the {n_dev} devices")
    if learned:
        for name in ("n_steps", "batch_size", "log_every", "checkpoint_every", "n_sigmas", "width", "depth"):
            _positive_int(f"learned.{name}", cfg.learned[name])
        project.require_rate(cfg, "learned.ema_rate")
    if learned or f.method == "generator":
        project.require_optimizer(cfg, "optim")
    if cfg.proxy.source == "learned":
        project.require_optimizer(cfg, "refit_optim")
    if cfg.proxy.source == "learned":
        r = cfg.learned
        if isinstance(r.refit_steps, bool) or not isinstance(r.refit_steps, int) or r.refit_steps < 0:
            raise ValueError(f"learned.refit_steps={r.refit_steps!r} must be an integer >= 0")
        if not 0 <= r.refit_batch <= f.n_particles:
            raise ValueError(f"learned.refit_batch={r.refit_batch} must be in [0, flow.n_particles={f.n_particles}]")
    if f.method == "generator":
        if f.noise > 0:
            raise ValueError(f"flow.noise={f.noise}: the generator regresses onto noise-free SD-flow updates; use 0")
        for name in ("width", "depth", "batch_size", "steps_per_level", "log_every", "checkpoint_every"):
            _positive_int(f"generator.{name}", cfg.generator[name])
    every = cfg.learned.refit_every
    if cfg.proxy.source == "learned" and (every < 0 or (every and f.steps_per_level % every)):
        raise ValueError(f"learned.refit_every={every} must be 0 (once per level) or divide flow.steps_per_level="
                         f"{f.steps_per_level}")  # fmt: skip
    if mode == "flow" and f.method == "generator" and not os.path.isdir(os.path.join(workdir, "checkpoints")):
        raise ValueError(f"--workdir={workdir!r} has no trained generator: run --mode=train first")
    if mode == "flow" and learned and not os.path.isdir(os.path.join(workdir, "checkpoints")):
        raise ValueError(f"--workdir={workdir!r} has no trained score nets: run --mode=train first")
    if mode == "eval" and not os.path.isfile(os.path.join(flowing.output_dir(cfg, workdir), "path.npz")):
        raise ValueError(f"--workdir={workdir!r} has no flow output with these settings: run --mode=flow first")
    return mesh
