"""Up-front validation: every bad input fails here with one line, before anything is written."""

import os

import equinox as eqx
import jax
import jax.numpy as jnp

from scoresde import checkpoint, metrics, parallel, project

from . import components, evaluation, sampling

SDES = ("ve", "vp", "subvp")


def _check_workdir(workdir: str, mode: str) -> None:
    path = os.path.abspath(workdir)
    if mode != "train" and not os.path.isdir(os.path.join(path, "checkpoints")):
        raise ValueError(f"--workdir={workdir!r} has no checkpoints: run --mode=train first")


def _check_inception(cfg) -> None:
    """FID / IS / KID inputs: the Inception weights (names and shapes), the statistics file or the train split."""
    path, stats = cfg.eval.get("inception_path", ""), cfg.eval.get("dataset_stats", "")
    if not path:
        if stats:
            raise ValueError(
                f"eval.dataset_stats={stats!r} needs eval.inception_path: {metrics.WEIGHTS_HELP} "
                "and pass its path with --config.eval.inception_path=PATH"
            )
        return
    if cfg.data.name == "toy2d":
        raise ValueError("eval.inception_path is set but data.name='toy2d' has no images; FID/IS/KID need image data")
    if cfg.eval.get("inception_batch_size", 50) < 1:
        raise ValueError(f"eval.inception_batch_size={cfg.eval.inception_batch_size} must be a positive integer")
    if not os.path.isfile(path):
        raise ValueError(
            f"eval.inception_path={path!r} does not exist: {metrics.WEIGHTS_HELP} "
            "and pass its path with --config.eval.inception_path=PATH"
        )
    try:
        metrics.check_inception_weights(path)
    except ValueError as e:
        raise ValueError(f"eval.inception_path: {e}") from None
    if stats:
        metrics.load_statistics(stats, what="eval.dataset_stats")
    else:
        components.load_examples(cfg, "train")


def _check_fields(cfg) -> None:
    """Plain config values: counts, rates, the optimizer, names (before any model is built)."""
    project.require_choice(cfg, "training.loss", components.LOSSES)
    project.require_positive_int(cfg, "training.n_steps", "training.batch_size", "training.steps_per_call",
                                 "training.log_every", "training.checkpoint_every", "training.max_to_keep",
                                 "sampling.n_samples", "sampling.batch_size")  # fmt: skip
    project.require_nonnegative_int(cfg, "training.snapshot_every", "training.eval_every")
    if cfg.training.snapshot_every:
        project.require_positive_int(cfg, "training.snapshot_samples")
    project.require_rate(cfg, "model.ema_rate")
    project.require_optimizer(cfg, "optim")
    if not components.is_discrete(cfg) and str(cfg.sde.name).lower().replace("-", "").replace("_", "") not in SDES:
        raise ValueError(f"sde.name={cfg.sde.name!r} is not one of {', '.join(map(repr, SDES))}")


def _check_score_settings(cfg) -> None:
    """model.parameterization / model.conditioning through the real score wrapper, abstractly."""
    if cfg.training.loss in ("ssm", "ssm_vr"):
        return
    process = components.build_process(cfg)
    x = jax.ShapeDtypeStruct((1, *components.data_shape(cfg)), jnp.float32)
    t = jax.ShapeDtypeStruct((1,), jnp.float32)
    model = eqx.filter_eval_shape(components.build_model, cfg, jax.random.key(0))
    try:
        eqx.filter_eval_shape(lambda m, x, t: components.score_fn(cfg, m, process)(x, t), model, x, t)
    except ValueError as e:
        msg = str(e).splitlines()[0]
        raise ValueError(f"model.{msg}" if msg.startswith(("parameterization", "conditioning")) else msg) from None


def validate(cfg, workdir: str, mode: str):
    """Check the workdir, the config, the data and the model; return the device mesh.

    The config's own values first, then what they imply (devices, model, sampler), then the
    workdir's state and the data files, so a bad value is named even in an empty workdir.
    """
    checkpoint.check_workdir(workdir)
    _check_fields(cfg)
    mesh = parallel.make_mesh(fsdp=cfg.parallel.fsdp)
    n_dev, n_proc = jax.device_count(), jax.process_count()
    for name, b in (("training.batch_size", cfg.training.batch_size), ("sampling.batch_size", cfg.sampling.batch_size)):
        if b < 1 or b % n_dev:
            raise ValueError(f"{name}={b} must be a positive multiple of the {n_dev} devices")
    if cfg.training.batch_size % n_proc:
        raise ValueError(f"training.batch_size={cfg.training.batch_size} must split over {n_proc} processes")
    components.build_sde(cfg) if not components.is_discrete(cfg) else components.sigmas(cfg)
    sampling.check_method(cfg)
    components.check_model(cfg)
    _check_score_settings(cfg)
    components.check_training_labels(cfg)
    if mode == "sample":
        sampling.check_task(cfg)
    if mode == "eval":
        n = cfg.eval.n_samples
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ValueError(f"eval.n_samples={n!r} must be an integer >= 2")
    _check_workdir(workdir, mode)
    if mode == "sample" and sampling.task(cfg) == "inpaint":
        components.load_examples(cfg, "test")
    if mode == "train":
        n = len(components.load_examples(cfg, "train")["image"])
        if cfg.training.batch_size > n:
            raise ValueError(f"training.batch_size={cfg.training.batch_size} is larger than the {n} training examples")
        if 0 < cfg.training.eval_every <= cfg.training.n_steps:  # an eval will happen
            n = len(components.load_examples(cfg, "test")["image"])
            if n < n_dev:
                raise ValueError(
                    f"training.eval_every={cfg.training.eval_every} needs a held-out batch of at least the {n_dev} "
                    f"devices, but the test split has {n} examples (0 turns it off)"
                )
    if mode == "eval":
        evaluation.eval_steps(cfg, evaluation.available_steps(workdir))
        if cfg.data.name == "digits" and cfg.eval.get("classifier_path", ""):
            metrics.load_classifier(cfg.eval.classifier_path)  # a missing file is one line, before any sampling
        _check_inception(cfg)
    return mesh
