"""Up-front validation: every bad input fails here with one line, before anything is written."""

import os

import jax

from scoresde import checkpoint, parallel, project, refine

from . import components, evaluation, training


def _choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}")


def check_refine(cfg) -> None:
    """The refinement settings: f names, positive step sizes, non-negative noise, sizes."""
    r = cfg.refine
    fs = (r.fs,) if isinstance(r.fs, str) else tuple(r.fs)
    if not fs:
        raise ValueError("refine.fs is empty: give one or more of 'kl', 'js', 'logd'")
    for f in fs:
        if f not in refine.F_DIVERGENCES:
            raise ValueError(f"refine.fs has f={f!r}, which is not one of {', '.join(map(repr, refine.F_DIVERGENCES))}")
    _choice("refine.ratio", r.ratio, components.RATIOS)
    _choice("refine.space", r.space, components.SPACES)
    for name in ("eta", "ddls_eta"):
        if not r[name] > 0:
            raise ValueError(f"refine.{name}={r[name]} must be a positive step size")
    if not r.gamma >= 0:
        raise ValueError(f"refine.gamma={r.gamma} must be >= 0 (0 gives the deterministic flow)")
    for name in ("n_steps", "n_samples", "batch_size"):
        if int(r[name]) < 1:
            raise ValueError(f"refine.{name}={r[name]} must be a positive integer")
    if cfg.model.kind == "vae" and r.ratio != "corrector":
        raise ValueError("refine.ratio='discriminator' but a VAE has no discriminator: use refine.ratio='corrector'")


def check_training(cfg) -> None:
    """Steps, batch sizes, rates and the three optimizers (every config names them, whichever are used)."""
    project.require_positive_int(cfg, "training.n_steps", "training.batch_size", "training.log_every",
                                 "training.checkpoint_every", "training.max_to_keep", "corrector.n_steps",
                                 "corrector.batch_size")  # fmt: skip
    project.require_rate(cfg, "vae.ema_rate", "corrector.ema_rate")
    project.require_positive(cfg, "vae.obs_std")
    project.require_nonnegative(cfg, "gan.gp_weight")
    for group in ("optim_g", "optim_d", "corrector.optim"):
        project.require_optimizer(cfg, group)


def _check_data_size(cfg, n: int) -> None:
    """One batch of the training data per step (a GAN step draws n_critic batches)."""
    per_step = cfg.training.batch_size * (cfg.gan.n_critic if cfg.model.kind == "gan" else 1)
    if per_step > n:
        what = " x gan.n_critic" if cfg.model.kind == "gan" else ""
        raise ValueError(
            f"training.batch_size={cfg.training.batch_size}{what} is larger than the {n} training examples"
        )
    if training.needs_corrector(cfg) and cfg.corrector.batch_size > n:
        raise ValueError(f"corrector.batch_size={cfg.corrector.batch_size} is larger than the {n} training examples")


def check_config(cfg) -> None:
    _choice("model.kind", cfg.model.kind, components.KINDS)
    check_training(cfg)
    _choice("gan.loss", cfg.gan.loss, components.GAN_LOSSES)
    if cfg.gan.n_critic < 1:
        raise ValueError(f"gan.n_critic={cfg.gan.n_critic} must be a positive integer")
    if cfg.model.latent_dim < 1:
        raise ValueError(f"model.latent_dim={cfg.model.latent_dim} must be a positive integer")
    check_refine(cfg)
    components.check_networks(cfg)


def validate(cfg, workdir: str, mode: str):
    """Check the workdir, the config, the data and (refine/eval) the checkpoints; return the device mesh."""
    checkpoint.check_workdir(workdir)
    check_config(cfg)
    mesh = parallel.make_mesh(fsdp=cfg.parallel.fsdp)
    n_dev = jax.device_count()
    sizes = [("training.batch_size", cfg.training.batch_size), ("refine.batch_size", cfg.refine.batch_size)]
    if training.needs_corrector(cfg):
        sizes.append(("corrector.batch_size", cfg.corrector.batch_size))
    for name, b in sizes:
        if b < 1 or b % n_dev:
            raise ValueError(f"{name}={b} must be a positive multiple of the {n_dev} devices")
    if mode == "train":
        _check_data_size(cfg, len(components.load_examples(cfg, "train")))
    else:
        dirs = [(training.model_dir(workdir), "generator/discriminator" if cfg.model.kind == "gan" else "VAE")]
        if cfg.refine.ratio == "corrector":
            dirs.append((training.corrector_dir(workdir), "corrector"))
        for d, what in dirs:
            if not os.path.isdir(d) or not [s for s in os.listdir(d) if s.isdigit()]:
                raise ValueError(f"--workdir={workdir!r} has no trained {what} checkpoint: run --mode=train first")
        components.load_examples(cfg, "test")
    if mode == "eval":
        if evaluation.samples_path(cfg, workdir) is None:
            raise ValueError(evaluation.missing_samples(cfg, workdir))
        if cfg.data.name != "toy2d" and cfg.eval.classifier_path:
            from scoresde import metrics

            metrics.load_classifier(cfg.eval.classifier_path)
    return mesh
