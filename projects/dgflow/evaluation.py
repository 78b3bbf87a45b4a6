"""--mode=eval: sample quality before refinement, after DGflow (per f) and after DDLS, from the samples.npz of
the refinement with these refine settings (its newest checkpoint step: refine/step_<step>/<name>/).

2-D: % high-quality samples and modes covered (25 Gaussians: within eval.hq_std stds of the nearest mode;
Swiss roll: within eval.curve_tol of the noiseless curve, "modes" = eval.curve_segments equal-parameter
segments), SWD and MMD to held-out data beside the data-vs-data value. Images: the Frechet distance in a
FeatureClassifier's features and the classes covered (with eval.classifier_path), SWD in pixel space.
"""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from scoresde import data, metrics, oracle

from . import components, refinement

COLUMNS = {
    "hq_percent": "% HQ",
    "modes_covered": "modes",
    "swd": "SWD",
    "mmd": "MMD",
    "frechet_classifier": "Frechet (clf)",
    "classes_covered": "classes",
    "swd_pixels": "SWD (pixels)",
}


def samples_path(cfg, workdir: str) -> str | None:
    """samples.npz of the refinement with cfg's refine settings, of the newest step refined; None if none."""
    root, name = os.path.join(workdir, "refine"), refinement.output_name(cfg)
    steps = sorted(d for d in os.listdir(root) if d.startswith("step_")) if os.path.isdir(root) else []
    found = [p for p in (os.path.join(root, d, name, "samples.npz") for d in reversed(steps)) if os.path.isfile(p)]
    return found[0] if found else None


def missing_samples(cfg, workdir: str) -> str:
    """The one-line error of an eval with no refinement of its settings."""
    where = os.path.join("refine", "step_*", refinement.output_name(cfg), "samples.npz")
    return f"--workdir={workdir!r} has no refinement with these refine settings ({where}): run --mode=refine first"


def curve_quality(x: np.ndarray, *, tol: float, segments: int, n_curve: int = 4000):
    """(% within tol of the Swiss-roll curve, segments of the curve holding at least one such sample)."""
    u = (np.arange(n_curve) + 0.5) / n_curve
    curve = data.swiss_roll_curve(u).astype(np.float32)
    dist, idx = [], []
    for i in range(0, len(x), 512):
        d2 = np.sum((x[i : i + 512, None] - curve[None]) ** 2, -1)
        idx.append(np.argmin(d2, 1))
        dist.append(np.sqrt(np.min(d2, 1)))
    dist, idx = np.concatenate(dist), np.concatenate(idx)
    good = dist <= tol
    seg = np.minimum((u[idx] * segments).astype(int), segments - 1)
    return 100.0 * float(np.mean(good)), int(len(np.unique(seg[good])))


def toy_metrics(cfg, x: np.ndarray, test: np.ndarray) -> dict:
    out = {}
    if cfg.data.toy == "25gaussians":
        hq, modes = metrics.mode_quality(jnp.asarray(x), oracle.grid_mixture(), n_std=cfg.eval.hq_std)
        out["hq_percent"], out["modes_covered"] = float(hq), int(modes)
    elif cfg.data.toy == "swissroll":
        out["hq_percent"], out["modes_covered"] = curve_quality(
            x, tol=cfg.eval.curve_tol, segments=cfg.eval.curve_segments
        )
    out["swd"] = float(metrics.sliced_wasserstein(jnp.asarray(x), jnp.asarray(test), jax.random.key(0)))
    out["mmd"] = float(metrics.mmd(jnp.asarray(x), jnp.asarray(test), bandwidth=0.5))
    return out


def image_metrics(cfg, x: np.ndarray, test: np.ndarray, clf) -> dict:
    out = {"swd_pixels": float(metrics.sliced_wasserstein(jnp.asarray(x), jnp.asarray(test), jax.random.key(0)))}
    if clf is not None:
        f_x, f_t = metrics.batched_features(clf, jnp.asarray(x)), metrics.batched_features(clf, jnp.asarray(test))
        out["frechet_classifier"] = float(metrics.frechet_distance(np.asarray(f_x), np.asarray(f_t)))
        counts = np.bincount(np.asarray(metrics.batched_predict(clf, jnp.asarray(x))), minlength=10)
        out["classes_covered"] = int(np.sum(counts >= max(1, len(x) // 100)))
    return out


def table(results: dict) -> str:
    """A markdown table: one row per method (and the data-vs-data floor), one column per metric."""
    cols = [c for c in COLUMNS if any(c in r for r in results.values())]
    lines = ["| samples | " + " | ".join(COLUMNS[c] for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, r in results.items():
        cells = [("-" if c not in r else f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c])) for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def evaluate(cfg, samples: dict[str, np.ndarray], test: np.ndarray, reference: np.ndarray) -> dict:
    """Metrics of every method's samples, plus 'data (floor)': held-out `reference` data against `test`."""
    toy = cfg.data.name == "toy2d"
    clf = None if toy or not cfg.eval.classifier_path else metrics.load_classifier(cfg.eval.classifier_path)
    score = (lambda x: toy_metrics(cfg, x, test)) if toy else (lambda x: image_metrics(cfg, x, test, clf))
    results = {name: score(np.asarray(x)) for name, x in samples.items()}
    results["data (floor)"] = score(reference)
    return results


def run(cfg, workdir, mesh):
    del mesh
    path = samples_path(cfg, workdir)
    if path is None:
        raise ValueError(missing_samples(cfg, workdir))
    logging.info("eval of %s", path)
    with np.load(path) as f:
        samples = {k: f[k] for k in f.files if k != "data" and not k.startswith("path_")}
        test = f["data"]
    reference = components.load_examples(cfg, "train")[: len(test)]
    results = evaluate(cfg, samples, test, reference)
    if jax.process_index() == 0:
        os.makedirs(os.path.join(workdir, "eval"), exist_ok=True)
        out = os.path.join(workdir, "eval", "metrics.json")
        with open(out + ".tmp", "w") as f:
            json.dump(results, f, indent=2)
        os.replace(out + ".tmp", out)
        logging.info("eval: %s", results)
        print(table(results))
    return results
