"""Images -> Inception outputs -> dataset statistics (.npz) -> FID / IS / KID of samples against them.

The statistics file uses pytorch-fid's keys `mu` (2048,) and `sigma` (2048, 2048), so its published
statistics files work for FID; ours also keep `features`, a random subset of the pool3 vectors, for KID.
"""

import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from ._inception import FID_SIZE, POOL3_DIM, InceptionV3, preprocess
from ._inception_scores import frechet_to_moments, inception_score, kernel_inception_distance


@eqx.filter_jit
def _forward(model: InceptionV3, images, size: int):
    pool3, logits = jax.vmap(model)(preprocess(images, size=size))
    return pool3, logits, logits - model.fc.bias


def to_unit_images(images: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 in [0, 1]; float images are taken to be in [0, 1] already and clipped."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    return np.clip(images.astype(np.float32), 0.0, 1.0)


def inception_outputs(
    model: InceptionV3, images: np.ndarray, *, batch_size: int = 50, size: int = FID_SIZE, progress: bool = False
) -> dict[str, np.ndarray]:
    """'pool3' (n, 2048), 'logits' (n, 1008) and 'logits_unbiased' (fc without its bias, what IS uses).

    `images` are NHWC, uint8 or float in [0, 1], 1 or 3 channels, any size (resized to `size`, 299 for
    FID). One compiled batch shape: the last batch is padded.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
        raise ValueError(f"images must be a non-empty (n, H, W, 1 or 3) array, got shape {images.shape}")
    b = min(batch_size, len(images))
    outs = []
    for i in tqdm(range(0, len(images), b), desc="inception", disable=not progress):
        chunk = to_unit_images(images[i : i + b])
        n = len(chunk)
        if n < b:
            chunk = np.concatenate([chunk, np.zeros((b - n, *chunk.shape[1:]), chunk.dtype)])
        res = _forward(model, jnp.asarray(chunk), size)
        outs.append([np.asarray(r)[:n] for r in res])
    pool3, logits, unbiased = (np.concatenate(o).astype(np.float32) for o in zip(*outs, strict=True))
    return {"pool3": pool3, "logits": logits, "logits_unbiased": unbiased}


def feature_statistics(pool3: np.ndarray, *, keep: int = 5000, seed: int = 0) -> dict[str, np.ndarray]:
    """mu, sigma (float64) of the pool3 features, and a random subset of at most `keep` rows for KID."""
    f = np.asarray(pool3, np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"statistics need at least 2 feature vectors (n, d), got shape {f.shape}")
    idx = np.sort(np.random.default_rng(seed).permutation(len(f))[: max(0, keep)])
    return {
        "mu": f.mean(0),
        "sigma": np.cov(f, rowvar=False),
        "features": np.asarray(pool3, np.float32)[idx],
        "n": np.int64(len(f)),
    }


def save_statistics(path: str, stats: dict) -> str:
    """Write the statistics .npz atomically (a partial file never has the final name)."""
    tmp = path + ".tmp.npz"
    with open(tmp, "wb") as fh:
        np.savez(fh, **stats)
    os.replace(tmp, path)
    return path


def load_statistics(path: str, *, what: str = "statistics file") -> dict[str, np.ndarray]:
    """mu, sigma (and features when present) from a statistics .npz, every key and shape checked."""
    if not os.path.isfile(path):
        raise ValueError(f"{what} {path!r} does not exist: make it with tools/dataset_stats.py")
    try:
        with np.load(path, allow_pickle=False) as z:
            stats = {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"{what} {path!r} is not a readable .npz ({e})") from None
    for key, shape in (("mu", (POOL3_DIM,)), ("sigma", (POOL3_DIM, POOL3_DIM))):
        if key not in stats:
            raise ValueError(f"{what} {path!r} has no {key!r} array; make it with tools/dataset_stats.py")
        if stats[key].shape != shape:
            raise ValueError(f"{what} {path!r}: {key!r} has shape {stats[key].shape}, expected {shape}")
    f = stats.get("features")
    if f is not None and (f.ndim != 2 or f.shape[1] != POOL3_DIM):
        raise ValueError(f"{what} {path!r}: 'features' has shape {f.shape}, expected (n, {POOL3_DIM})")
    return stats


def inception_metrics(
    outputs: dict[str, np.ndarray],
    reference: dict[str, np.ndarray],
    *,
    is_splits: int = 10,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, float | int]:
    """FID, IS (mean, std) and KID (mean, std) of samples' Inception outputs against reference statistics.

    IS uses the unbiased 1008 logits with min(is_splits, n // 2) splits (at least 1); KID needs `features` in the
    reference (absent from pytorch-fid's own statistics files, then KID is left out).
    """
    splits = max(1, min(is_splits, len(outputs["pool3"]) // 2))  # a one-sample split always scores exactly 1
    is_mean, is_std = inception_score(outputs["logits_unbiased"], n_splits=splits)
    res = {
        "fid": frechet_to_moments(outputs["pool3"], reference["mu"], reference["sigma"]),
        "inception_score": is_mean,
        "inception_score_std": is_std,
        "inception_score_splits": splits,
    }
    ref_f = reference.get("features")
    if ref_f is not None and len(ref_f) >= 2:
        size = min(kid_subset_size, len(ref_f), len(outputs["pool3"]))
        kid, kid_std = kernel_inception_distance(
            outputs["pool3"], ref_f, n_subsets=kid_subsets, subset_size=size, seed=seed
        )
        res.update(kid=kid, kid_std=kid_std, kid_subset_size=size)
    return res
