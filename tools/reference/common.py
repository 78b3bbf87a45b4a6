"""Shared parts of the reference fixture writers (run in a throwaway environment with torch or flax).

A fixture is one .npz per case under tests/data/reference/<reference>/:
  meta          JSON: reference repository + commit, model, our model config, options, SDE, params theirs
  keys          the reference state_dict / Flax parameter names, in the reference's order
  shapes        JSON inside meta; offsets, scales: per key; a weight is
                float32(offset + scale * RandomState(seed * 100003 + i).standard_normal(shape))
                (numpy's legacy RandomState: its stream is frozen, so the tests regenerate the weights)
  buffer__<k>   non-trainable arrays stored as they are (e.g. score_sde's `sigmas`)
  checksum      float64 sum of all generated weights (the tests check their regeneration against it)
  in_*, out_*   fixed inputs and the reference's outputs on them
The weights are random and non-zero everywhere (zero-initialised layers of the reference included), so
every layer is exercised.
"""

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "tests" / "data" / "reference"
SRC = Path(os.environ.get("REFERENCE_SRC", "/tmp/src"))


def commit_of(name: str) -> str:
    """The commit of a reference checkout: $REFERENCE_SRC/<name>/COMMIT (written when exporting it)."""
    path = SRC / name / "COMMIT"
    if path.is_file():
        return path.read_text().strip()
    try:
        return subprocess.check_output(["git", "-C", str(SRC / name), "rev-parse", "HEAD"], text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def use_reference(name: str) -> Path:
    """Put a reference checkout on sys.path (first) and return its path."""
    path = SRC / name
    if not path.is_dir():
        raise SystemExit(f"error: {path} does not exist: export the {name} repository there (see README)")
    sys.path.insert(0, str(path))
    return path


def torchvision_models_only() -> None:
    """Make torchvision's pure-PyTorch model code importable without its compiled ops.

    The only torchvision wheel that pairs with the CPU torch here fails to register its C++ ops
    (`operator torchvision::nms does not exist`); the Inception definitions pytorch-fid builds on
    need none of them, so the package is entered without running its __init__.
    """
    import importlib.util

    spec = importlib.util.find_spec("torchvision")
    if spec is None:
        raise SystemExit("error: torchvision is not installed in this environment")
    pkg = types.ModuleType("torchvision")
    pkg.__path__ = list(spec.submodule_search_locations)
    sys.modules["torchvision"] = pkg
    import torchvision.version  # a plain file: the version string pytorch-fid checks

    pkg.__version__ = torchvision.version.__version__


def init_spec(name: str, shape: tuple[int, ...], *, he: bool = False) -> tuple[float, float]:
    """(offset, scale) of a random weight: fan-in scaled for matrices and kernels, ~1 for norm scales."""
    base = name.rsplit(".", 1)[-1].rsplit("/", 1)[-1]
    if len(shape) >= 2:
        if base == "W":  # score_sde's NIN: (in, out)
            fan_in = shape[0]
        elif base == "kernel":  # Flax: (..., in, out)
            fan_in = int(np.prod(shape[:-1]))
        elif "embed" in name.lower() and "embedding_table" not in name:  # conditional InstanceNorm++ table
            return 1.0, 0.2
        elif "embedding_table" in name:
            return 0.0, 0.5
        else:
            fan_in = int(np.prod(shape[1:]))
        return 0.0, float(np.sqrt((2.0 if he else 1.0) / max(fan_in, 1)))
    if base == "W":  # Gaussian Fourier features
        return 0.0, 4.0
    lowered = name.lower()
    if base in ("running_var",):
        return 1.0, 0.1
    if base in ("gamma", "alpha", "scale") or (base == "weight" and ("norm" in lowered or "bn" in lowered)):
        return 1.0, 0.2
    return 0.0, 0.2


def generate(seed: int, index: int, shape, offset: float, scale: float) -> np.ndarray:
    rs = np.random.RandomState(seed * 100003 + index)
    return (offset + scale * rs.standard_normal(tuple(shape))).astype(np.float32)


def random_weights(named_shapes, seed: int, *, he: bool = False):
    """{name: array} for (name, shape) pairs, and the per-key record the fixture stores."""
    weights, offsets, scales = {}, [], []
    for i, (name, shape) in enumerate(named_shapes):
        off, sc = init_spec(name, tuple(shape), he=he)
        weights[name] = generate(seed, i, shape, off, sc)
        offsets.append(off)
        scales.append(sc)
    return weights, np.asarray(offsets), np.asarray(scales)


def save_case(
    reference: str,
    case: str,
    *,
    repo: str,
    model: str,
    config: dict,
    seed: int,
    keys: list[str],
    shapes: list,
    offsets,
    scales,
    weights: dict,
    buffers: dict | None = None,
    inputs: dict,
    outputs: dict,
    params_theirs: int,
    extra: dict | None = None,
) -> Path:
    """Write tests/data/reference/<reference>/<case>.npz (see the module docstring)."""
    meta = dict(
        reference=reference,
        repository=f"https://github.com/{repo}",
        commit=commit_of(repo.split("/")[1]),
        model=model,
        case=case,
        config=config,
        seed=seed,
        shapes=[list(map(int, s)) for s in shapes],
        params_theirs=int(params_theirs),
        **(extra or {}),
    )
    arrays = {
        "meta": np.asarray(json.dumps(meta)),
        "keys": np.asarray(keys),
        "offsets": np.asarray(offsets, np.float64),
        "scales": np.asarray(scales, np.float64),
        "checksum": np.asarray(sum(float(np.sum(weights[k], dtype=np.float64)) for k in keys)),
    }
    for k, v in (buffers or {}).items():
        arrays[f"buffer__{k}"] = np.asarray(v)
    for k, v in inputs.items():
        arrays[f"in_{k}"] = np.asarray(v)
    for k, v in outputs.items():
        arrays[f"out_{k}"] = np.asarray(v, np.float32)
    path = OUT / reference / f"{case}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    print(f"wrote {path.relative_to(REPO)} ({path.stat().st_size / 1024:.1f} KiB)")
    return path
