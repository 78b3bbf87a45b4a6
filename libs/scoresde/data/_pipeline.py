"""grain input pipelines: per-process shards, shuffling, flips, scaling, checkpointable iterators.

Every process reads only its slice of the examples (example i goes to process i mod P), and
the iterator's state (how far it has read) is a small dict that goes into checkpoints, so
that a resumed run sees exactly the batches an uninterrupted one would.
"""

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
) -> grain.IterDataset:
    """A grain IterDataset of dicts of numpy batches of `batch_size` (this process's share).

    `examples` maps names (e.g. 'image', 'label') to arrays with the same first dimension.
    `random_flip` flips 'image' (n, H, W, C) left-right with probability 1/2 (seeded per example).
    `transform(example) -> example` runs per example after the flip (e.g. scaling).
    """
    n = {k: v.shape[0] for k, v in examples.items()}
    if len(set(n.values())) != 1:
        raise ValueError(f"all example arrays need the same length, got {n}")
    total = next(iter(n.values()))
    if total < process_count:
        raise ValueError(f"{total} examples cannot be shared among {process_count} processes")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    ds = grain.MapDataset.range(total)[process_index::process_count]
    if shuffle:
        ds = ds.seed(seed).shuffle()
    if repeat:
        ds = ds.repeat(None)
    ds = ds.map(lambda i: {k: v[i] for k, v in examples.items()})
    if random_flip:
        ds = ds.seed(seed + 1).random_map(_flip)
    if transform is not None:
        ds = ds.map(transform)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.to_iter_dataset()


def _flip(example, rng: np.random.Generator):
    if "image" in example and rng.uniform() < 0.5:
        example = dict(example, image=example["image"][:, ::-1])
    return example
