"""Sharding: a (data, fsdp) mesh, batch and parameter shardings, global batches, multi-host start-up."""

from ._distributed import maybe_initialize_distributed
from ._mesh import (
    DATA,
    FSDP,
    batch_sharding,
    global_batch,
    make_mesh,
    param_shardings,
    replicated,
    shard_tree,
)

__all__ = [
    "DATA",
    "FSDP",
    "make_mesh",
    "batch_sharding",
    "replicated",
    "param_shardings",
    "shard_tree",
    "global_batch",
    "maybe_initialize_distributed",
]
