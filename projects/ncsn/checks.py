"""Up-front validation: every bad input fails here with one line, before anything is written."""

import os

import jax

from scoresde import checkpoint, metrics, parallel

from . import components, evaluation, sampling


def _check_workdir(workdir: str, mode: str) -> None:
    path = checkpoint.check_workdir(workdir)
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


def validate(cfg, workdir: str, mode: str):
    """Check the workdir, the config, the data and the model; return the device mesh."""
    _check_workdir(workdir, mode)
    if cfg.training.loss not in components.LOSSES:
        raise ValueError(f"training.loss={cfg.training.loss!r} is not one of {', '.join(map(repr, components.LOSSES))}")
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
    components.check_training_labels(cfg)
    if mode == "sample":
        n = cfg.sampling.n_samples
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"sampling.n_samples={n!r} must be a positive integer")
        sampling.check_task(cfg)
        if sampling.task(cfg) == "inpaint":
            components.load_examples(cfg, "test")
    if mode == "train":
        components.load_examples(cfg, "train")
    if mode == "eval":
        n = cfg.eval.n_samples
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ValueError(f"eval.n_samples={n!r} must be an integer >= 2")
        evaluation.eval_steps(cfg, evaluation.available_steps(workdir))
        if cfg.data.name == "digits" and cfg.eval.get("classifier_path", ""):
            metrics.load_classifier(cfg.eval.classifier_path)  # a missing file is one line, before any sampling
        _check_inception(cfg)
    return mesh
