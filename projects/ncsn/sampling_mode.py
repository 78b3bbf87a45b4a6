"""--mode=sample: samples from the EMA weights of the latest checkpoint, as .npz and a PNG.

sampling.task: 'unconditional'; 'conditional' (sampling.labels, classifier-free guidance weight
sampling.guidance); 'inpaint' (test-split examples with the sampling.mask region filled in).
Sharded over the mesh: every process draws its own rows of each batch, process 0 writes the files.
"""

import os

import jax
import numpy as np
from absl import logging

from scoresde import viz

from . import components, sampling, training


def _save_npz(stem: str, **arrays) -> None:
    tmp = stem + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, stem + ".npz")


def _value_range(cfg) -> tuple[float, float]:
    return (-1.0 if cfg.data.centered else 0.0, 1.0)


def _stem(cfg, workdir: str, step: int) -> str:
    s = cfg.sampling
    task = sampling.task(cfg)
    if task == "unconditional":
        name = f"{s.method}_step{step}"
    elif task == "inpaint":
        name = f"{s.method}_inpaint_{s.mask}_step{step}"
    else:  # conditional: the picked labels (unless 'all') and the guidance weight
        picked = "" if str(s.labels).strip() == "all" else "_y" + "-".join(map(str, sampling.requested_labels(cfg)))
        name = f"{s.method}_cond{picked}_w{sampling.guidance_weight(cfg):g}_step{step}"
    return os.path.join(workdir, "samples", name)


def _sample(cfg, model, key, stem: str, mesh):
    n = cfg.sampling.n_samples
    conditional = sampling.task(cfg) == "conditional"
    labels = sampling.task_labels(cfg, n) if conditional else None
    w = sampling.guidance_weight(cfg)
    x, nfe = sampling.generate(cfg, model, key, n, mesh, labels=labels, guidance_w=w)
    if jax.process_index() != 0:
        return x, nfe
    os.makedirs(os.path.dirname(stem), exist_ok=True)
    extra = {"labels": labels, "guidance": w} if conditional else {}
    _save_npz(stem, samples=x, nfe=nfe, **extra)
    if cfg.data.name == "toy2d":
        ref = components.load_examples(cfg, "test")["image"]
        title = f"samples, labels {cfg.sampling.labels}, guidance {w:g}" if conditional else "samples"
        viz.scatter_panels({"data": ref[: len(x)], title: x}, stem + ".png", lim=cfg.data.get("plot_lim", 6.0))
    else:
        # conditional: one column per requested label, so each column is one class
        ncols = len(sampling.requested_labels(cfg)) if conditional else None
        viz.image_grid(x[:100], stem + ".png", ncols=ncols, value_range=_value_range(cfg))
    return x, nfe


def _inpaint(cfg, model, key, stem: str, mesh):
    test = components.load_examples(cfg, "test")
    n = min(cfg.sampling.n_samples, len(test["image"]))
    original = components.to_model_layout(test["image"][:n], cfg)
    x, keep, nfe = sampling.inpaint(cfg, model, key, original, mesh)
    if jax.process_index() != 0:
        return x, nfe
    os.makedirs(os.path.dirname(stem), exist_ok=True)
    lo, hi = _value_range(cfg)
    known = np.where(keep, original, np.float32((lo + hi) / 2))  # unknown entries shown mid-grey
    _save_npz(stem, samples=x, known=known, mask=keep, original=original, labels=test["label"][:n], nfe=nfe)
    if cfg.data.name == "toy2d":
        panels = {"test data": original, f"completions ({cfg.sampling.mask} filled in)": x}
        viz.scatter_panels(panels, stem + ".png", lim=cfg.data.get("plot_lim", 6.0))
    else:
        # each triplet: masked input | completion | original; four triplets per row
        k = min(n, 32)
        triplets = np.stack([known[:k], x[:k], original[:k]], axis=1).reshape(3 * k, *x.shape[1:])
        viz.image_grid(triplets, stem + ".png", ncols=3 * min(k, 4), value_range=(lo, hi))
    return x, nfe


def run(cfg, workdir, mesh):
    model, step = training.restore_ema_model(cfg, workdir, mesh)
    key = jax.random.key(cfg.sampling.seed)
    stem = _stem(cfg, workdir, step)
    inpainting = sampling.task(cfg) == "inpaint"
    x, nfe = (_inpaint if inpainting else _sample)(cfg, model, key, stem, mesh)
    if jax.process_index() == 0:
        logging.info("wrote %d samples (NFE %d) to %s.npz and .png", len(x), nfe, stem)
        print(f"samples: {stem}.npz  picture: {stem}.png  NFE per sample: {nfe}")
    return x
