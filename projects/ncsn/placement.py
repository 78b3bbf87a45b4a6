"""Arrays onto the mesh and back: batch rows split over every device (each process fills its own), models
placed once, sharded results gathered to every host."""

import jax
import numpy as np
from absl import logging
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding

from scoresde import parallel


def check_batch_size(b: int, mesh, name: str = "sampling.batch_size") -> None:
    n_dev = mesh.devices.size
    if isinstance(b, bool) or not isinstance(b, int) or b < 1 or b % n_dev:
        raise ValueError(f"{name}={b} must be a positive multiple of the {n_dev} devices")


def to_host(x) -> np.ndarray:
    """A (possibly multi-process) sharded array as one numpy array on every process."""
    if jax.process_count() == 1:
        return np.asarray(jax.device_get(x))
    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def local_rows(x) -> list[int]:
    """The rows of a batch-sharded array that this process's devices hold (and so computed)."""
    rows = set()
    for shard in x.addressable_shards:
        rows.update(range(*shard.index[0].indices(x.shape[0])))
    return sorted(rows)


def log_rows(x, b: int) -> None:
    rows = local_rows(x)
    logging.info(
        "sampling: process %d of %d draws rows %d-%d of every %d-sample batch",
        jax.process_index(), jax.process_count(), rows[0], rows[-1], b,
    )  # fmt: skip


def on_mesh(tree, mesh):
    """Array leaves not yet on `mesh` placed there (replicated, or FSDP-split as in training); the rest untouched."""

    def here(x):
        return isinstance(getattr(x, "sharding", None), NamedSharding) and x.sharding.mesh == mesh

    shardings = jax.tree_util.tree_map(
        lambda x, s: None if s is None or here(x) else s, tree, parallel.param_shardings(mesh, tree),
        is_leaf=lambda x: x is None,
    )  # fmt: skip
    return parallel.shard_tree(tree, shardings)


def place_rows(mesh, idx: np.ndarray, *per_row):
    """Indices and per-row arrays (None passes through) on the batch sharding; each process fills its own rows."""
    s = parallel.batch_sharding(mesh)
    return parallel.shard_tree((idx, *per_row), (s, *(None if v is None else s for v in per_row)))
