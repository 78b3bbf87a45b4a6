"""--mode=train: shard, step, log, snapshot and checkpoint until config.training.n_steps."""

import os

import equinox as eqx
import jax
from absl import logging

from scoresde import checkpoint, nets, parallel, train, viz

from . import components, sampling


def build_state(cfg, mesh):
    """(sharded train state, static model part, optimizer) from the config's seed."""
    key = jax.random.key(cfg.seed)
    k_model, k_train = jax.random.split(key)
    model = components.build_model(cfg, k_model)
    optimizer = train.make_optimizer(cfg.optim)
    state, static = train.init_state(model, optimizer, k_train)
    shardings = parallel.param_shardings(mesh, state)
    return parallel.shard_tree(state, shardings), shardings, static, optimizer


def ema_model(state, static):
    return eqx.combine(state.ema, static)


def snapshot_batch_size(cfg, mesh) -> int:
    """One batch for training.snapshot_samples (rounded up to the devices), at most sampling.batch_size."""
    n_dev = mesh.devices.size
    return min(cfg.sampling.batch_size, -(-cfg.training.snapshot_samples // n_dev) * n_dev)


def write_snapshot(cfg, workdir, step, model, key, mesh, train_points=None):
    """A sample grid (images) or a scatter plot beside the data (2-D) under workdir/snapshots.

    Every process draws its rows (sharded, the config untouched, one compilation for all snapshots);
    process 0 writes the picture. Returns its path.
    """
    n = cfg.training.snapshot_samples
    x, _ = sampling.generate(cfg, model, key, n, mesh, batch_size=snapshot_batch_size(cfg, mesh), progress=False)
    path = os.path.join(workdir, "snapshots", f"step_{step:07d}.png")
    if jax.process_index() != 0:
        return path
    if cfg.data.name == "toy2d":
        panels = {"data": train_points[:n], f"samples, step {step}": x}
        viz.scatter_panels(panels, path, lim=cfg.data.get("plot_lim", 6.0))
    else:
        lo = -1.0 if cfg.data.centered else 0.0
        viz.image_grid(x, path, value_range=(lo, 1.0))
    return path


def run(cfg, workdir, mesh):
    sde = components.build_sde(cfg)
    examples = components.load_examples(cfg, "train")
    n_dev, n_proc = jax.device_count(), jax.process_count()
    batches = iter(
        components.make_batches(
            cfg,
            examples,
            batch_size=cfg.training.batch_size,
            process_index=jax.process_index(),
            process_count=n_proc,
            seed=cfg.seed,
        )
    )
    state, shardings, static, optimizer = build_state(cfg, mesh)
    logging.info("model %s: %d parameters on %d devices", cfg.model.name, nets.count_params(state.params), n_dev)
    step_fn = train.make_train_step(components.make_loss(cfg, sde), optimizer, static, ema_rate=cfg.model.ema_rate)
    k = cfg.training.steps_per_call
    batch_sharding = parallel.batch_sharding(mesh)
    if k > 1:
        batch_sharding = jax.sharding.NamedSharding(
            mesh, jax.sharding.PartitionSpec(None, (parallel.DATA, parallel.FSDP))
        )
    jitted = train.jit_train_step(step_fn, shardings, batch_sharding, n_inner=k)

    def to_device(host):
        if k > 1:
            return {
                name: jax.make_array_from_process_local_data(
                    batch_sharding, v, (v.shape[0], v.shape[1] * n_proc, *v.shape[2:])
                )
                for name, v in host.items()
            }
        return parallel.global_batch(host, mesh)

    writer = _summary_writer(workdir)

    def on_log(step, metrics, sec_per_step):
        lr = train.learning_rate(cfg.optim, step)
        ex_s = cfg.training.batch_size / max(sec_per_step, 1e-9)
        logging.info(
            "step %d  loss %.7g  lr %.2e  grad_norm %.3f  examples/s %.1f",
            step, float(metrics["loss"]), lr, float(metrics["grad_norm"]), ex_s,
        )  # fmt: skip
        if writer is not None:
            for name, value in (("loss", metrics["loss"]), ("grad_norm", metrics["grad_norm"]), ("lr", lr)):
                writer.add_scalar(f"train/{name}", float(value), step)
            writer.add_scalar("train/examples_per_sec", ex_s, step)
            writer.flush()

    def on_snapshot(step, state):
        key = jax.random.fold_in(jax.random.key(cfg.seed + 1), step)
        path = write_snapshot(cfg, workdir, step, ema_model(state, static), key, mesh, examples["image"])
        if jax.process_index() == 0:
            logging.info("snapshot %s", path)

    ckpt = checkpoint.Checkpointer(os.path.join(workdir, "checkpoints"), max_to_keep=cfg.training.max_to_keep)
    state, stopped = train.train_loop(
        state, jitted, batches, to_device, ckpt,
        total_steps=cfg.training.n_steps, steps_per_call=k, log_every=cfg.training.log_every,
        checkpoint_every=cfg.training.checkpoint_every, snapshot_every=cfg.training.snapshot_every,
        on_log=on_log, on_snapshot=on_snapshot,
    )  # fmt: skip
    ckpt.close()
    if writer is not None:
        writer.close()
    return state, stopped


def _summary_writer(workdir):
    if jax.process_index() != 0:
        return None
    from tensorboardX import SummaryWriter

    return SummaryWriter(os.path.join(workdir, "tensorboard"))


def restore_ema_model(cfg, workdir, mesh, *, step=None):
    """(EMA model, step) of checkpoint `step` (None: the newest intact one), for the sample and eval modes."""
    ckpt_dir = os.path.join(workdir, "checkpoints")
    if not os.path.isdir(ckpt_dir) or not os.listdir(ckpt_dir):
        raise ValueError(f"--workdir={workdir!r} has no checkpoint: run --mode=train first")
    ckpt = checkpoint.Checkpointer(ckpt_dir)
    if ckpt.latest_step() is None:
        raise ValueError(f"--workdir={workdir!r} has no checkpoint: run --mode=train first")
    state, _, static, _ = build_state(cfg, mesh)
    try:
        ema, step = _restore_ema(ckpt, state, step)
    except ValueError as e:
        raise ValueError(
            f"--workdir={workdir!r} holds a checkpoint of another model than this config's (other model.* "
            f"settings, e.g. model.num_classes={components.num_classes(cfg)}?): {str(e).splitlines()[0]}"
        ) from None
    ckpt.close()
    return eqx.combine(ema, static), step


def _restore_ema(ckpt, state, step):
    """(EMA arrays, step) from the model export of `step` (None: the newest intact one), no optimizer state
    read; a checkpoint without an export (imported, or saved before exports): from the full state."""
    try:
        return ckpt.restore_model(state.ema, step)
    except checkpoint.CheckpointError:
        state, _, step = ckpt.restore_intact(state, step)
        return state.ema, step
