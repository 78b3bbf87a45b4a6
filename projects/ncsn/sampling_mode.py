"""--mode=sample: samples from the EMA weights of the latest checkpoint, as .npz and a PNG."""

import os

import jax
import numpy as np
from absl import logging

from scoresde import viz

from . import components, sampling, training


def run(cfg, workdir, mesh):
    model, step = training.restore_ema_model(cfg, workdir, mesh)
    sde = None if components.is_discrete(cfg) else components.build_sde(cfg)
    key = jax.random.key(cfg.sampling.seed)
    x, nfe = sampling.generate(cfg, model, sde, key, cfg.sampling.n_samples)
    if jax.process_index() != 0:
        return x
    out = os.path.join(workdir, "samples")
    os.makedirs(out, exist_ok=True)
    stem = os.path.join(out, f"{cfg.sampling.method}_step{step}")
    tmp = stem + ".tmp.npz"
    np.savez(tmp, samples=x, nfe=nfe, step=step)
    os.replace(tmp, stem + ".npz")
    if cfg.data.name == "toy2d":
        ref = components.load_examples(cfg, "test")["image"]
        viz.scatter_panels({"data": ref[: len(x)], "samples": x}, stem + ".png", lim=cfg.data.get("plot_lim", 6.0))
    else:
        viz.image_grid(x[:100], stem + ".png", value_range=(-1.0 if cfg.data.centered else 0.0, 1.0))
    logging.info("wrote %d samples (NFE %d) to %s.npz and .png", len(x), nfe, stem)
    print(f"samples: {stem}.npz  picture: {stem}.png  NFE per sample: {nfe}")
    return x
