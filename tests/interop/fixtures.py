"""Reading the reference fixtures of tests/data/reference/ (written by tools/reference/, format in its common.py).

Weights are regenerated from each fixture's seed with numpy's frozen legacy RandomState and checked
against the stored checksum; relative error is max|ours - ref| / max|ref| per output.
"""

import json
from pathlib import Path

import numpy as np
from ml_collections import ConfigDict

ROOT = Path(__file__).resolve().parents[1] / "data" / "reference"


def cases(reference: str, prefix: str = "") -> list[str]:
    return sorted(p.stem for p in (ROOT / reference).glob(f"{prefix}*.npz"))


class Fixture:
    def __init__(self, reference: str, case: str):
        self.path = ROOT / reference / f"{case}.npz"
        with np.load(self.path) as z:
            self.arrays = {k: z[k] for k in z.files}
        self.meta = json.loads(str(self.arrays["meta"]))
        self.keys = [str(k) for k in self.arrays["keys"]]

    def weights(self) -> dict[str, np.ndarray]:
        """The reference's parameters: regenerated from the seed, checked against the stored checksum."""
        seed, out = self.meta["seed"], {}
        offsets, scales = self.arrays["offsets"], self.arrays["scales"]
        for i, (key, shape) in enumerate(zip(self.keys, self.meta["shapes"], strict=True)):
            rs = np.random.RandomState(seed * 100003 + i)
            out[key] = (offsets[i] + scales[i] * rs.standard_normal(tuple(shape))).astype(np.float32)
        total = sum(float(np.sum(v, dtype=np.float64)) for v in out.values())
        want = float(self.arrays["checksum"])
        assert abs(total - want) <= 1e-6 * max(1.0, abs(want)), (self.path.name, total, want)
        for k, v in self.arrays.items():
            if k.startswith("buffer__"):
                out[k[len("buffer__") :]] = v
        return out

    def config(self, **overrides) -> ConfigDict:
        cfg = {k: (tuple(v) if isinstance(v, list) else v) for k, v in self.meta["config"].items() if k != "sde"}
        cfg.update(overrides)
        return ConfigDict(cfg)

    def input(self, name: str) -> np.ndarray:
        return self.arrays[f"in_{name}"]

    def output(self, name: str) -> np.ndarray:
        return self.arrays[f"out_{name}"]

    def has(self, name: str) -> bool:
        return f"out_{name}" in self.arrays


def rel_err(ours, ref) -> float:
    """max|ours - ref| / max|ref|."""
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    return float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))
