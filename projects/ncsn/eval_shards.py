"""Resumable eval: one .npz per finished sample batch under workdir/eval/step_<s>/, written atomically.

A shard holds the batch's sample indices and what the metrics need (8-bit images or 2-D points,
Inception pool3 features and logits), never the 299x299 Inception inputs. `manifest.json` records
what the shards were drawn with (sampling config, sample count, batch size, seed, Inception
weights); shards of another manifest are deleted, not mixed in. A killed eval restarts from the
finished shards: only the missing batches are drawn again.
"""

import glob
import json
import os

import jax
import numpy as np
from jax.experimental import multihost_utils

from scoresde import solvers


def fingerprint(cfg, n: int, batch_size: int) -> dict:
    """What decides the content of the shards (JSON-normalised, so a re-read manifest compares equal).

    The sampler (sampling.method and its fields over the defaults), not the fields only --mode=sample reads.
    """
    method = cfg.sampling.method
    fp = {
        "sampling": {"method": method, method: solvers.method_fields(cfg.sampling, method)},
        "n_samples": n,
        "batch_size": batch_size,
        "seed": cfg.seed,
        "data": [cfg.data.name, cfg.data.image_size, cfg.data.num_channels, cfg.data.centered],
        "inception_path": cfg.eval.get("inception_path", ""),
    }
    return json.loads(json.dumps(fp, default=str))


def _atomic_json(path: str, obj) -> None:
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(path + ".tmp", path)


class ShardStore:
    """The shard folder of one checkpoint's eval; only process 0 touches the files."""

    def __init__(self, directory: str, fp: dict, n_batches: int):
        self.directory, self.n_batches = directory, n_batches
        self.writer = jax.process_index() == 0
        if self.writer:
            os.makedirs(directory, exist_ok=True)
            manifest = os.path.join(directory, "manifest.json")
            old = None
            if os.path.exists(manifest):
                with open(manifest) as f:
                    old = json.load(f)
            if old != fp:  # other settings (or no manifest): their shards are not ours
                for path in glob.glob(os.path.join(directory, "shard_*.npz")):
                    os.remove(path)
                _atomic_json(manifest, fp)

    def path(self, j: int) -> str:
        return os.path.join(self.directory, f"shard_{j:05d}.npz")

    def done(self) -> list[int]:
        """Finished batch numbers, decided by process 0 and the same on every process."""
        flags = np.zeros(self.n_batches, np.int32)
        if self.writer:
            flags = np.array([os.path.exists(self.path(j)) for j in range(self.n_batches)], np.int32)
        if jax.process_count() > 1:
            flags = np.asarray(multihost_utils.broadcast_one_to_all(flags))
        return [j for j in range(self.n_batches) if flags[j]]

    def write(self, j: int, **arrays) -> None:
        if not self.writer:
            return
        tmp = self.path(j) + ".tmp.npz"
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, self.path(j))

    def load(self, *names: str) -> dict[str, np.ndarray]:
        """The named arrays of every shard, in batch order (process 0 only)."""
        parts = {k: [] for k in names}
        for j in range(self.n_batches):
            with np.load(self.path(j)) as z:
                for k in names:
                    parts[k].append(z[k])
        return {k: np.concatenate(v) for k, v in parts.items()}
