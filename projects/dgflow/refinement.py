"""--mode=refine: generator samples, then DGflow for each f and the DDLS baseline from the same latents.

Writes workdir/refine/samples.npz (data, before, dgflow_<f>, ddls, and for 2-D the particle paths) and
pictures: scatter panels and particle paths (2-D) or image grids.
"""

import json
import os

import jax
import numpy as np
from absl import logging
from jax.experimental import multihost_utils

from scoresde import parallel, refine

from . import components, plots, training


def method_names(cfg) -> list[str]:
    return ["before"] + [f"dgflow_{f}" for f in cfg.refine.fs] + ["ddls"]


def make_refiner(cfg, generator, logit):
    """(z0, key) -> ({method: samples}, {method: data-space paths of the first n_paths particles (2-D)})."""
    r = cfg.refine
    toy = cfg.data.name == "toy2d"
    n_paths = min(r.n_paths, r.batch_size)
    n_saves = r.n_saves if toy and n_paths > 0 else 0  # refine.n_paths = 0: no particle paths at all

    def to_data(path, latent_space):
        path = path[:, :n_paths]
        if not latent_space:
            return path
        return generator(path.reshape(-1, path.shape[-1])).reshape(path.shape[0], n_paths, -1)

    def run(z0, key):
        keys = jax.random.split(key, len(r.fs) + 1)
        x0 = generator(z0)
        out, paths = {"before": x0}, {}
        for f, k in zip(r.fs, keys, strict=False):
            kw = dict(f=f, step_size=r.eta, noise=r.gamma, n_steps=r.n_steps, key=k, n_saves=n_saves)
            if r.space == "latent":
                res = refine.dgflow(logit, z0, generator=generator, **kw)
                out[f"dgflow_{f}"] = generator(res[0])
            else:
                res = refine.dgflow(logit, x0, **kw)
                out[f"dgflow_{f}"] = res[0]
            if n_saves:
                paths[f"dgflow_{f}"] = to_data(res[2], r.space == "latent")
        res = refine.ddls(
            logit, z0, generator=generator, step_size=r.ddls_eta, n_steps=r.n_steps, key=keys[-1], n_saves=n_saves
        )
        out["ddls"] = generator(res[0])
        if n_saves:
            paths["ddls"] = to_data(res[2], True)
        return out, paths

    return run


def _gather(tree):
    if jax.process_count() > 1:
        return jax.tree_util.tree_map(lambda v: np.asarray(multihost_utils.process_allgather(v, tiled=True)), tree)
    return jax.tree_util.tree_map(lambda v: np.asarray(jax.device_get(v)), tree)


def batch_keys(cfg, i: int):
    """(latent key, flow key) of batch i: the flows of method j use split(flow key, len(fs) + 1)[j] (DDLS last)."""
    k = jax.random.fold_in(jax.random.key(cfg.refine.seed), i)
    return jax.random.fold_in(k, 0), jax.random.fold_in(k, 1)


def refine_samples(cfg, generator, logit, mesh):
    """All methods' samples (numpy, n_samples each) and 2-D paths; deterministic given refine.seed."""
    r = cfg.refine
    batch = parallel.batch_sharding(mesh)
    draw = jax.jit(lambda k: jax.random.normal(k, (r.batch_size, cfg.model.latent_dim)), out_shardings=batch)
    run = jax.jit(make_refiner(cfg, generator, logit))
    outs, paths = [], None
    for i in range(-(-r.n_samples // r.batch_size)):
        k_z, k_flow = batch_keys(cfg, i)
        out, p = _gather(run(draw(k_z), k_flow))
        outs.append(out)
        paths = p if paths is None else paths
    names = method_names(cfg)
    samples = {m: np.concatenate([o[m] for o in outs])[: r.n_samples] for m in names}
    return samples, {m: paths[m] for m in names if m in paths}


def run(cfg, workdir, mesh):
    generator, logit, step = training.restore(cfg, workdir, mesh)
    samples, paths = refine_samples(cfg, generator, logit, mesh)
    if jax.process_index() != 0:
        return samples
    out = os.path.join(workdir, "refine")
    os.makedirs(out, exist_ok=True)
    test = components.load_examples(cfg, "test")[: cfg.refine.n_samples]
    arrays = {"data": test, **samples, **{f"path_{k}": v for k, v in paths.items()}}
    tmp = os.path.join(out, "samples.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, os.path.join(out, "samples.npz"))
    info = {"step": step, "methods": list(samples), "n_samples": int(len(samples["before"])),
            "grad_evals_per_sample": int(cfg.refine.n_steps), **cfg.refine.to_dict()}  # fmt: skip
    with open(os.path.join(out, "info.json"), "w") as f:
        json.dump(info, f, indent=2, default=list)
    pictures = plots.write(cfg, out, test, samples, paths)
    logging.info("refined %d samples with %s; wrote %s", len(samples["before"]), ", ".join(samples), out)
    print(f"samples: {os.path.join(out, 'samples.npz')}  pictures: {', '.join(pictures)}")
    return samples
