"""grain input pipelines: global batches split across processes, shuffling, flips, resumable iterators.

The order of examples depends only on the seed, never on the number of processes: the
pipeline draws global batches of indices, and process p keeps rows [p*b, (p+1)*b) of each,
reading only those examples. A run on 1 process and on P processes thus trains on the same
global batches. The iterator's state (how many batches it has given) is a small dict that
goes into checkpoints, so a resumed run sees exactly the batches an uninterrupted one would.
Global batch k is positions [kB, (k+1)B) of the stream of per-epoch permutations, computed with
numpy index arithmetic: no per-example Python work on the host (P6 in BENCHMARKS.md).
"""

import functools
import sys

import grain
import numpy as np


def scale(images_uint8: np.ndarray, centered: bool) -> np.ndarray:
    """uint8 images to float32 in [0, 1], or [-1, 1] if `centered`."""
    x = images_uint8.astype(np.float32) / 255.0
    return 2.0 * x - 1.0 if centered else x


def make_dataset(
    examples: dict[str, np.ndarray],
    *,
    batch_size: int,
    seed: int,
    shuffle: bool = True,
    repeat: bool = True,
    random_flip: bool = False,
    process_index: int = 0,
    process_count: int = 1,
    drop_remainder: bool = True,
    transform=None,
    prefetch: int = 2,
) -> grain.IterDataset:
    """A grain IterDataset of this process's share (batch_size / process_count rows) of each global batch.

    `examples` maps names (e.g. 'image', 'label') to arrays with the same first dimension.
    `random_flip` flips 'image' (n, H, W, C) left-right with probability 1/2, drawn per global
    batch from (seed, batch index). `transform(batch) -> batch` runs on each (local) batch after it;
    gathering, flipping and transforming are vectorised over the batch. One background thread keeps
    `prefetch` batches ready (0: none); grain's default (16 threads, 500 elements ahead) only
    competes with XLA for the host's cores, since a batch is a few numpy calls.
    """
    n = {k: v.shape[0] for k, v in examples.items()}
    if len(set(n.values())) != 1:
        raise ValueError(f"all example arrays need the same length, got {n}")
    total = next(iter(n.values()))
    if batch_size < 1 or batch_size % process_count:
        raise ValueError(f"batch_size={batch_size} must be a positive multiple of the {process_count} processes")
    if total < batch_size and drop_remainder:
        raise ValueError(f"{total} examples are fewer than one batch of {batch_size}")
    local = batch_size // process_count
    lo, hi = process_index * local, (process_index + 1) * local
    order = _epoch_order(total, seed, shuffle)
    if repeat:
        n_batches = sys.maxsize
    else:
        n_batches = total // batch_size if drop_remainder else -(-total // batch_size)

    def gather(step, _):
        # Global batch `step` is positions [step*B, (step+1)*B) of the stream of epoch orders.
        pos = np.arange(step * batch_size, min((step + 1) * batch_size, total if not repeat else sys.maxsize))
        epoch, within = np.divmod(pos, total)
        idx = np.empty(len(pos), np.int64)
        for e in np.unique(epoch):
            sel = epoch == e
            idx[sel] = order(int(e))[within[sel]]
        rows = idx[lo:hi]
        batch = {k: v[rows] for k, v in examples.items()}
        if random_flip and "image" in batch:
            flips = np.random.default_rng([seed, step]).uniform(size=len(idx))[lo:hi] < 0.5
            batch["image"] = np.where(flips[:, None, None, None], batch["image"][:, :, ::-1], batch["image"])
        return transform(batch) if transform is not None else batch

    options = grain.ReadOptions(num_threads=1 if prefetch else 0, prefetch_buffer_size=prefetch)
    return grain.MapDataset.range(n_batches).map_with_index(gather).to_iter_dataset(options)


def _epoch_order(total: int, seed: int, shuffle: bool):
    """epoch -> the order of the example indices in that epoch (a fresh permutation per epoch, from the seed)."""

    @functools.lru_cache(maxsize=2)
    def order(epoch: int) -> np.ndarray:
        if not shuffle:
            return np.arange(total)
        return np.random.default_rng([seed, epoch]).permutation(total)

    return order
