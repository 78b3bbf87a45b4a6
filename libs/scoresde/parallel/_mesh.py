"""One device mesh with a `data` axis and an optional `fsdp` axis, and the shardings on it.

The batch is split over both axes (every device sees different examples); parameters are
replicated, or with fsdp > 1 split along their largest divisible dimension over `fsdp`.
"""

import math

import equinox as eqx
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

DATA, FSDP = "data", "fsdp"


def make_mesh(fsdp: int = 1, devices=None) -> Mesh:
    """Mesh of shape (n_devices / fsdp, fsdp) over all (or the given) devices."""
    devices = jax.devices() if devices is None else list(devices)
    n = len(devices)
    if fsdp < 1 or n % fsdp:
        raise ValueError(f"parallel.fsdp={fsdp} must be a positive divisor of the {n} devices")
    return Mesh(np.asarray(devices).reshape(n // fsdp, fsdp), (DATA, FSDP))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (batch) axis split over every device of the mesh."""
    return NamedSharding(mesh, P((DATA, FSDP)))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def _leaf_sharding(mesh: Mesh, leaf, min_size: int) -> NamedSharding:
    k = mesh.shape[FSDP]
    shape = getattr(leaf, "shape", ())
    if k == 1 or math.prod(shape) < min_size:
        return replicated(mesh)
    for axis in sorted(range(len(shape)), key=lambda a: -shape[a]):
        if shape[axis] % k == 0:
            spec = [None] * len(shape)
            spec[axis] = FSDP
            return NamedSharding(mesh, P(*spec))
    return replicated(mesh)


def param_shardings(mesh: Mesh, tree, *, min_size: int = 2**14):
    """A sharding for every array leaf of `tree` (None elsewhere): FSDP-split when the mesh has fsdp > 1."""
    return jax.tree_util.tree_map(
        lambda x: _leaf_sharding(mesh, x, min_size) if eqx.is_array(x) else None,
        tree,
    )


def _place(x, sharding):
    """Put a host-identical value on a (possibly multi-process) sharding; each process fills its own shards."""
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        data = _place(jax.random.key_data(x), sharding)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
    host = np.asarray(jax.device_get(x))
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])


def shard_tree(tree, shardings):
    """Place every array leaf of `tree` with its sharding (non-arrays pass through).

    Works across processes: every process must hold the same values (e.g. built from one seed).
    """
    return jax.tree_util.tree_map(
        lambda x, s: _place(x, s) if s is not None else x,
        tree,
        shardings,
        is_leaf=lambda x: x is None,
    )


def global_batch(local: dict, mesh: Mesh) -> dict:
    """Assemble per-process numpy batches into global arrays sharded over the batch axis.

    Each process passes its own share (global batch / process count); the result is one
    jax.Array per entry whose shards live on the devices of all processes.
    """
    sharding = batch_sharding(mesh)
    n_dev = mesh.devices.size
    out = {}
    for k, v in local.items():
        global_rows = v.shape[0] * jax.process_count()
        if global_rows % n_dev:
            raise ValueError(f"the global batch of {global_rows} does not split over {n_dev} devices")
        if jax.process_count() == 1:  # same result, a few ms cheaper per batch
            out[k] = jax.device_put(np.asarray(v), sharding)
        else:
            out[k] = jax.make_array_from_process_local_data(sharding, np.asarray(v), (global_rows, *v.shape[1:]))
    return out
