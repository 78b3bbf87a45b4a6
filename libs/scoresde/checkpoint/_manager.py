"""Checkpoints with orbax: every array of a train state plus a JSON record (step, data-iterator state, ...).

The state is saved as its flat list of leaves, so any pytree (equinox modules included)
round-trips; restoring needs a template state of the same structure, whose leaves may be
`jax.ShapeDtypeStruct`s carrying the shardings to restore onto (a different mesh works).
orbax writes to a temporary folder and renames it when complete, so a kill mid-save never
leaves a half-written checkpoint that a resume would pick up.
"""

import os

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp


def _is_key(x) -> bool:
    return hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _to_saveable(leaf):
    return jax.random.key_data(leaf) if _is_key(leaf) else leaf


def _abstract(leaf):
    sharding = getattr(leaf, "sharding", None)
    if _is_key(leaf):
        data = jax.eval_shape(jax.random.key_data, leaf)
        return jax.ShapeDtypeStruct(data.shape, data.dtype, sharding=sharding)
    return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding)


class Checkpointer:
    """Save and restore (state, record) pairs by step under `directory`, keeping the last `max_to_keep`."""

    def __init__(self, directory: str, *, max_to_keep: int = 3):
        self.directory = os.path.abspath(directory)
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, enable_async_checkpointing=False, create=True)
        self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=("state", "record"))

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self._manager.all_steps())

    def save(self, step: int, state, record: dict) -> None:
        """Write checkpoint `step` (blocking). `record` must be JSON-serialisable."""
        leaves = jax.tree_util.tree_leaves(state)
        items = {f"{i:05d}": _to_saveable(x) for i, x in enumerate(leaves)}
        self._manager.save(
            int(step),
            args=ocp.args.Composite(state=ocp.args.StandardSave(items), record=ocp.args.JsonSave(dict(record))),
            force=True,
        )
        self._manager.wait_until_finished()

    def restore(self, template, step: int | None = None):
        """(state, record) of `step` (default: the latest), laid out like `template` and its shardings."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        leaves, treedef = jax.tree_util.tree_flatten(template)
        target = {f"{i:05d}": _abstract(x) for i, x in enumerate(leaves)}
        out = self._manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target), record=ocp.args.JsonRestore())
        )
        restored = []
        for i, like in enumerate(leaves):
            x = out["state"][f"{i:05d}"]
            if _is_key(like):
                x = jax.random.wrap_key_data(x, impl=jax.random.key_impl(like))
            restored.append(x)
        return jax.tree_util.tree_unflatten(treedef, restored), dict(out["record"])

    def close(self) -> None:
        self._manager.close()
