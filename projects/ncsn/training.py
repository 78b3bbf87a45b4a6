"""--mode=train: shard, step, log, snapshot, held-out loss and checkpoint until config.training.n_steps.

TensorBoard (process 0, <workdir>/tensorboard): the resolved config as text, train/* scalars at
every log line (rates over step time only), the snapshot picture as an image, eval/loss on a
fixed held-out batch every training.eval_every steps.
"""

import json
import math
import os

import equinox as eqx
import jax
import numpy as np
from absl import logging
from ml_collections import ConfigDict

from scoresde import checkpoint, nets, parallel, project, train, viz

from . import components, sampling
from .state import build_state, ema_model, restore_ema_model  # noqa: F401 (re-exported)


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


def held_out_batch(cfg, mesh) -> dict:
    """A fixed batch of the test split on the mesh: its first training.batch_size examples (fewer if the
    split is smaller, rounded down to the devices), each process its rows, in the training batch's layout."""
    test = components.load_examples(cfg, "test")
    n_dev, n_proc, p = mesh.devices.size, jax.process_count(), jax.process_index()
    n = min(cfg.training.batch_size, len(test["image"])) // n_dev * n_dev
    rows = slice(p * n // n_proc, (p + 1) * n // n_proc)
    x, labels = test["image"][rows], test["label"][rows]
    x = x.astype(np.float32) if cfg.data.name == "toy2d" else components.to_model_layout(x, cfg)
    return parallel.global_batch({"x": x, "label": labels}, mesh)


def make_eval_loss(cfg, sde):
    """The training loss without dropout or label dropout (as score_sde's eval step), jitted once:
    eval_loss(model, batch, key) with the model an argument."""
    c = ConfigDict(cfg.to_dict())
    c.model.dropout = 0.0
    c.training.label_dropout = 0.0
    return eqx.filter_jit(components.make_loss(c, sde))


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
    if writer is not None:
        text = json.dumps(project.to_plain(cfg), indent=2)
        writer.add_text("config", "    " + text.replace("\n", "\n    "), 0)  # indented: shown as code

    def on_log(step, metrics, sec_per_step):
        lr = train.learning_rate(cfg.optim, step)
        ex_s = cfg.training.batch_size / sec_per_step  # NaN when no step of the interval was timed
        if writer is not None:
            for name, value in (("loss", metrics["loss"]), ("grad_norm", metrics["grad_norm"]), ("lr", lr)):
                writer.add_scalar(f"train/{name}", float(value), step)
            if math.isfinite(ex_s):
                writer.add_scalar("train/examples_per_sec", ex_s, step)
                writer.add_scalar("train/steps_per_sec", 1.0 / sec_per_step, step)
            writer.flush()
        shown = f"{ex_s:.1f}" if math.isfinite(ex_s) else "-"
        return f"lr {lr:.2e}  grad_norm {float(metrics['grad_norm']):.3f}  examples/s {shown}"

    def on_snapshot(step, state):
        key = jax.random.fold_in(jax.random.key(cfg.seed + 1), step)
        path = write_snapshot(cfg, workdir, step, ema_model(state, static), key, mesh, examples["image"])
        if writer is None:
            return None
        writer.add_image("samples", _png_pixels(path), step, dataformats="HWC")
        writer.flush()
        return path

    on_eval = None
    if 0 < cfg.training.eval_every <= cfg.training.n_steps:
        eval_batch, eval_key = held_out_batch(cfg, mesh), jax.random.key(cfg.seed + 2)
        eval_loss = make_eval_loss(cfg, sde)

        def on_eval(step, state):
            """The EMA model's loss on the fixed held-out batch with a fixed key: comparable across steps."""
            loss = float(eval_loss(ema_model(state, static), eval_batch, eval_key))
            if writer is not None:
                writer.add_scalar("eval/loss", loss, step)
                writer.flush()
            return {"loss": loss}

    ckpt = checkpoint.Checkpointer(os.path.join(workdir, "checkpoints"), max_to_keep=cfg.training.max_to_keep)
    state, stopped = train.train_loop(
        state, jitted, batches, to_device, ckpt,
        total_steps=cfg.training.n_steps, steps_per_call=k, log_every=cfg.training.log_every,
        checkpoint_every=cfg.training.checkpoint_every, snapshot_every=cfg.training.snapshot_every,
        eval_every=cfg.training.eval_every, on_log=on_log, on_snapshot=on_snapshot, on_eval=on_eval,
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


def _png_pixels(path) -> np.ndarray:
    """The picture just written (grid or scatter plot) as (H, W, 3) uint8, for TensorBoard."""
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))
