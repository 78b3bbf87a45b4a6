"""The train state a config builds, and the EMA model restored from a run folder (what sample and eval need).

Sample and eval modes come here, not through training.py: the model export of a checkpoint is
read without the optimizer state; a checkpoint without an export (older saves) falls back to the
full state, for which the train-state template is built from the config.
"""

import os

import jax

from scoresde import checkpoint, parallel, train

from . import components


def build_state(cfg, mesh):
    """(sharded train state, static model part, optimizer) from the config's seed."""
    key = jax.random.key(cfg.seed)
    k_model, k_train = jax.random.split(key)
    model = components.build_model(cfg, k_model)
    optimizer = train.make_optimizer(cfg.optim)
    state, static = train.init_state(model, optimizer, k_train, flat=cfg.parallel.fsdp == 1)
    shardings = parallel.param_shardings(mesh, state)
    return parallel.shard_tree(state, shardings), shardings, static, optimizer


def ema_model(state, static):
    return train.model_from(state.ema, static)


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
    return train.model_from(ema, static), step


def _restore_ema(ckpt, state, step):
    """(EMA arrays, step) from the model export of `step` (None: the newest intact one), no optimizer state
    read; a checkpoint without an export (imported, or saved before exports): from the full state."""
    try:
        return ckpt.restore_model(state.ema, step)
    except checkpoint.CheckpointError:
        state, _, step = ckpt.restore_intact(state, step)
        return state.ema, step
