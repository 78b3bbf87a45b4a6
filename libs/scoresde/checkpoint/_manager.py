"""Checkpoints with orbax: a train state, an optional model export and a JSON record per step.

Each step folder holds items `state` (every array of the state), `model` (e.g. the EMA
parameters: what sampling needs, restorable without the optimizer) and `record` (step,
data-iterator state, ...). Arrays are stored under their pytree path names
(`params/down/0/conv/weight`), so `orbax.checkpoint.StandardCheckpointer().restore(<step>/model)`
reads a checkpoint as a nested dict without any template. Restoring into a template checks
every leaf's shape first (one line naming the first that differs), then falls back from a
damaged step to the newest intact one. orbax writes to a temporary folder and renames it when
complete, so a kill or a failed save never leaves a half-written step that a resume would pick.
Old checkpoints (leaves as `00000`, `00001`, ...) still restore into a full-state template.
Parameters held flat (`FlatParams`, one vector per dtype) are saved as their tree and packed back
on restore, so the stored names do not depend on the in-memory layout.
"""

import glob
import os
import shutil
from typing import NamedTuple

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp
from etils import epath
from jax.experimental import multihost_utils

from .._flat import expand, expand_abstract, pack_like
from ._errors import CheckpointError
from ._fallback import Damaged, newest_intact, reason, unreadable
from ._fit import check_fits
from ._names import flatten, is_legacy, leaf_names, nest
from ._quiet import read_noise_dropped


def _is_key(x) -> bool:
    return hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _to_saveable(leaf):
    return jax.random.key_data(leaf) if _is_key(leaf) else leaf


def _abstract(leaf):
    sharding = getattr(leaf, "sharding", None) or jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    if _is_key(leaf):
        data = jax.eval_shape(jax.random.key_data, leaf)
        return jax.ShapeDtypeStruct(data.shape, data.dtype, sharding=sharding)
    return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding)


def _from_saved(x, like):
    return jax.random.wrap_key_data(x, impl=jax.random.key_impl(like)) if _is_key(like) else x


def _named(tree) -> dict:
    tree = expand(tree)
    return nest(leaf_names(tree), [_to_saveable(x) for x in jax.tree_util.tree_leaves(tree)])


def _handlers() -> dict:
    json_handler = ocp.JsonCheckpointHandler()
    return {"state": ocp.StandardCheckpointHandler(), "model": ocp.StandardCheckpointHandler(), "record": json_handler}


class _Manager(ocp.CheckpointManager):
    """orbax's manager, minus its own polls of JAX's preemption sync point (it passes the training step): the
    training loop alone polls it, with one counter that grows by 1 per call, as the sync protocol requires."""

    def reached_preemption(self, step: int) -> bool:
        return False


class Restored(NamedTuple):
    state: object
    record: dict
    step: int


class Checkpointer:
    """Save and restore checkpoints by step under `directory`, keeping the last `max_to_keep`."""

    def __init__(self, directory: str, *, max_to_keep: int = 3):
        self.directory = os.path.abspath(directory)
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, enable_async_checkpointing=False, create=True)
        self._manager = _Manager(self.directory, options=options, item_handlers=_handlers())

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    # ---- saving ---------------------------------------------------------------------------------
    def save(self, step: int, state, record: dict, model=None) -> None:
        """Write checkpoint `step` (blocking); `model`: the export restore_model reads. `record` is JSON.

        A failure (disk full, no permission, ...) is one CheckpointError line; earlier steps stay.
        """
        items = {"state": ocp.args.StandardSave(_named(state)), "record": ocp.args.JsonSave(dict(record))}
        if model is not None:
            items["model"] = ocp.args.StandardSave(_named(model))
        try:
            self._manager.save(int(step), args=ocp.args.Composite(**items), force=True)
            self._manager.wait_until_finished()
        except Exception as e:
            self._discard_partial(int(step))
            kept = ", ".join(map(str, self.all_steps())) or "none"
            raise CheckpointError(
                f"checkpoint {step} could not be saved in {self.directory} ({reason(e)}); "
                f"the earlier checkpoints are intact: {kept}"
            ) from e

    def _discard_partial(self, step: int) -> None:
        if jax.process_index() == 0:
            for tmp in glob.glob(os.path.join(self.directory, f"{step}.orbax-checkpoint-tmp*")):
                shutil.rmtree(tmp, ignore_errors=True)
        self._manager.reload()

    def set_aside(self, steps) -> list[str]:
        """Rename damaged steps to `damaged_<step>` (kept, no longer steps), so training can write them again."""
        moved = []
        for s in steps:
            dst = os.path.join(self.directory, f"damaged_{s}")
            n = 1
            while os.path.exists(dst):
                dst, n = os.path.join(self.directory, f"damaged_{s}_{n}"), n + 1
            if jax.process_index() == 0:
                os.rename(os.path.join(self.directory, str(s)), dst)
            moved.append(dst)
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices("scoresde.checkpoint.set_aside")
        self._manager.reload()
        return moved

    # ---- restoring ------------------------------------------------------------------------------
    def _stored(self, step: int, item: str) -> dict:
        """{leaf name: array metadata} of `item` in step `step`; Damaged if it cannot be read."""
        folder = os.path.join(self.directory, str(step), item)
        if not os.path.isdir(folder):
            raise Damaged(f"no {item} item")
        try:
            meta = ocp.StandardCheckpointHandler().metadata(epath.Path(folder))
        except Exception as e:
            if not unreadable(e):
                raise
            raise Damaged(reason(e)) from e
        if meta is None or not meta.tree:
            raise Damaged(f"the {item} metadata is missing")
        return flatten(meta.tree)

    def _read(self, step: int, target: dict, item: str, with_record: bool):
        args = {item: ocp.args.StandardRestore(target)}
        if with_record:
            args["record"] = ocp.args.JsonRestore()
        try:
            return self._manager.restore(step, args=ocp.args.Composite(**args))
        except Exception as e:
            if not unreadable(e):
                raise
            raise Damaged(reason(e)) from e

    def _restore_state(self, template, step: int) -> Restored:
        tree_template = expand_abstract(template)
        leaves, treedef = jax.tree_util.tree_flatten(tree_template)
        stored = self._stored(step, "state")
        keys = [f"{i:05d}" for i in range(len(leaves))] if is_legacy(stored) else leaf_names(tree_template)
        out = self._fill(step, "state", stored, keys, leaves, with_record=True)
        restored = [_from_saved(x, like) for x, like in zip(out["state"], leaves, strict=True)]
        state = pack_like(jax.tree_util.tree_unflatten(treedef, restored), template)
        return Restored(state, dict(out["record"]), step)

    def _fill(self, step: int, item: str, stored: dict, keys: list[str], leaves: list, *, with_record: bool) -> dict:
        """Check `leaves` against the stored shapes, then read them: {item: arrays in `keys` order[, record]}."""
        targets = [_abstract(x) for x in leaves]
        where = f"checkpoint {step} in {self.directory}"
        expected = {k: t.shape for k, t in zip(keys, targets, strict=True)}
        check_fits(expected, {k: m.shape for k, m in stored.items()}, where)
        out = self._read(step, nest(keys, targets), item, with_record)
        flat = flatten(out[item])
        return {**out, item: [flat[k] for k in keys]}

    def restore_intact(self, template, step: int | None = None, *, set_aside: bool = False) -> Restored:
        """(state, record, step) of `step`, or (None) of the newest intact step, laid out like `template`.

        Leaves of `template` may be `jax.ShapeDtypeStruct`s carrying the shardings to restore onto.
        A damaged newer step is one warning line (and with `set_aside`, renamed out of the way).
        """
        steps = self._steps_to_try(step)
        with read_noise_dropped() as quiet:
            restored, damaged = newest_intact(steps, lambda s: self._restore_state(template, s), self.directory)
            quiet["damaged"] = bool(damaged)
        if set_aside and damaged:
            self.set_aside([s for s, _ in damaged])
        return restored

    def restore(self, template, step: int | None = None):
        """(state, record) of `step` (default: the newest intact one), laid out like `template` and its shardings."""
        restored = self.restore_intact(template, step)
        return restored.state, restored.record

    def _restore_model(self, like, step: int):
        stored = self._stored(step, "model")
        if like is None:
            device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
            target = [jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device) for m in stored.values()]
            return self._read(step, nest(list(stored), target), "model", False)["model"]
        tree_like = expand_abstract(like)
        leaves, treedef = jax.tree_util.tree_flatten(tree_like)
        arrays = self._fill(step, "model", stored, leaf_names(tree_like), leaves, with_record=False)["model"]
        tree = jax.tree_util.tree_unflatten(treedef, [_from_saved(x, y) for x, y in zip(arrays, leaves, strict=True)])
        return pack_like(tree, like)

    def restore_model(self, like=None, step: int | None = None):
        """(model export, step) of `step` or the newest intact one; no optimizer template needed.

        `like`: a pytree of the model's arrays (or ShapeDtypeStructs with shardings) to fill, e.g. the
        partitioned parameters of a freshly built model; None: the stored nested dict of arrays.
        """
        steps = self._steps_to_try(step)
        with read_noise_dropped() as quiet:
            model_and_step, damaged = newest_intact(steps, lambda s: (self._restore_model(like, s), s), self.directory)
            quiet["damaged"] = bool(damaged)
        return model_and_step

    def _steps_to_try(self, step: int | None) -> list[int]:
        if step is not None:
            if int(step) not in self.all_steps():
                have = ", ".join(map(str, self.all_steps())) or "none"
                raise FileNotFoundError(f"checkpoint {step} is not in {self.directory} (it has: {have})")
            return [int(step)]
        steps = self.all_steps()
        if not steps:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        return steps

    def close(self) -> None:
        self._manager.close()
