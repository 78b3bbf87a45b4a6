"""--mode=refine: generator samples, then DGflow for each f and the DDLS baseline from the same latents.

Writes workdir/refine/step_<step>/<space>-<ratio>-n<steps>_eta<eta>-g<gamma>_seed<seed>_<digest>/ (`output_dir`:
other refine settings or another checkpoint, another folder): samples.npz (data, before, dgflow_<f>, ddls, and
for 2-D the particle paths), info.json (the settings) and pictures: scatter panels and particle paths (2-D)
or image grids.
"""

import collections
import os
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from jax.experimental import multihost_utils

from scoresde import parallel, project, refine

from . import components, plots, training


def method_names(cfg) -> list[str]:
    return ["before"] + [f"dgflow_{f}" for f in cfg.refine.fs] + ["ddls"]


def output_name(cfg) -> str:
    """The refinement's folder name: its main settings readable, every refine.* field (but batch_size, which the
    samples do not depend on) in the digest."""
    r = cfg.refine
    settings = {k: v for k, v in r.items() if k != "batch_size"}
    parts = (f"{r.space}-{r.ratio}-n{r.n_steps}", f"eta{r.eta:g}-g{r.gamma:g}", f"seed{r.seed}")
    return project.output_name(parts, settings)


def output_dir(cfg, workdir: str, step: int) -> str:
    return os.path.join(workdir, "refine", project.step_folder(step), output_name(cfg))


TRACES = collections.Counter()  # times the jitted refinement was traced (tests: once per batch shape, any model)


class Settings(NamedTuple):
    """What the compiled refinement depends on besides array shapes (hashable: static under jit)."""

    fs: tuple[str, ...]
    eta: float
    gamma: float
    n_steps: int
    ddls_eta: float
    latent_space: bool
    n_saves: int
    n_paths: int
    latent_dim: int
    batch_size: int


def settings(cfg) -> Settings:
    r = cfg.refine
    n_paths = min(r.n_paths, r.batch_size)
    n_saves = r.n_saves if cfg.data.name == "toy2d" and n_paths > 0 else 0  # refine.n_paths = 0: no paths at all
    return Settings(tuple(r.fs), float(r.eta), float(r.gamma), int(r.n_steps), float(r.ddls_eta), r.space == "latent",
                    int(n_saves), int(n_paths), int(cfg.model.latent_dim), int(r.batch_size))  # fmt: skip


def particle_keys(key, index):
    """One key per particle, fold_in(key, i) for each global index i: particle i's randomness depends on (key, i)."""
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(index)


def method_key(k_flow, method: str):
    """The flow key of one method (DGflow-f or DDLS), the same whichever other methods run."""
    return jax.random.fold_in(k_flow, (*refine.F_DIVERGENCES, "ddls").index(method))


@eqx.filter_jit
def refine_batch(generator, logit, start, key, *, s: Settings, sharding):
    """Particles start .. start + batch_size - 1: ({method: samples}, {method: data-space paths of the first n_paths}).

    The generator and logit (batched Modules) are arguments, so one compilation serves every batch and every
    model of the same shapes. Particle i's latent is normal(fold_in(k_z, i)) and each flow runs on it alone
    (vmapped) with the key fold_in(method key, i): the samples depend on (refine.seed, i) only, not on the
    batch split or the devices.
    """
    TRACES["refine"] += 1
    index = jax.lax.with_sharding_constraint(start + jnp.arange(s.batch_size), sharding)
    k_z, k_flow = jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)
    z0 = jax.vmap(lambda k: jax.random.normal(k, (s.latent_dim,)))(particle_keys(k_z, index))
    z0 = jax.lax.with_sharding_constraint(z0, sharding)
    x0 = generator(z0)

    def to_data(path, latent_space):
        path = path[:, : s.n_paths]
        if not latent_space:
            return path
        return generator(path.reshape(-1, path.shape[-1])).reshape(path.shape[0], s.n_paths, -1)

    def per_particle(flow, y0, method, **kw):
        """`flow` run on every particle alone with its own key fold_in(method key, i): (final states, path or None)."""

        def one(y, k):
            res = flow(logit, y[None], key=k, n_saves=s.n_saves, **kw)
            return res[0][0], (res[2][:, 0] if s.n_saves else None)

        y, path = jax.vmap(one)(y0, particle_keys(method_key(k_flow, method), index))
        return y, (None if path is None else jnp.swapaxes(path, 0, 1))

    out, paths = {"before": x0}, {}
    for f in s.fs:
        kw = dict(f=f, step_size=s.eta, noise=s.gamma, n_steps=s.n_steps)
        if s.latent_space:
            z, path = per_particle(refine.dgflow, z0, f, generator=generator, **kw)
            out[f"dgflow_{f}"] = generator(z)
        else:
            out[f"dgflow_{f}"], path = per_particle(refine.dgflow, x0, f, **kw)
        if s.n_saves:
            paths[f"dgflow_{f}"] = to_data(path, s.latent_space)
    z, path = per_particle(refine.ddls, z0, "ddls", generator=generator, step_size=s.ddls_eta, n_steps=s.n_steps)
    out["ddls"] = generator(z)
    if s.n_saves:
        paths["ddls"] = to_data(path, True)
    return out, paths


def _gather(tree):
    if jax.process_count() > 1:
        return jax.tree_util.tree_map(lambda v: np.asarray(multihost_utils.process_allgather(v, tiled=True)), tree)
    return jax.tree_util.tree_map(lambda v: np.asarray(jax.device_get(v)), tree)


def refine_samples(cfg, generator, logit, mesh):
    """All methods' samples (numpy, n_samples each) and 2-D paths; particle i depends only on (refine.seed, i)."""
    r, s = cfg.refine, settings(cfg)
    rep = parallel.replicated(mesh)
    place = lambda tree: parallel.shard_tree(tree, jax.tree.map(lambda v: rep if eqx.is_array(v) else None, tree))  # noqa: E731
    generator, logit, key = place((generator, logit, jax.random.key(r.seed)))
    outs, paths = [], None
    for i in range(-(-r.n_samples // r.batch_size)):
        start = place(np.int32(i * r.batch_size))
        out, p = _gather(refine_batch(generator, logit, start, key, s=s, sharding=parallel.batch_sharding(mesh)))
        outs.append(out)
        paths = p if paths is None else paths
    names = [m for m in method_names(cfg) if m in outs[0]]
    samples = {m: np.concatenate([o[m] for o in outs])[: r.n_samples] for m in names}
    return samples, {m: paths[m] for m in names if m in paths}


def run(cfg, workdir, mesh):
    generator, logit, step = training.restore(cfg, workdir, mesh)
    samples, paths = refine_samples(cfg, generator, logit, mesh)
    if jax.process_index() != 0:
        return samples
    out = output_dir(cfg, workdir, step)
    os.makedirs(out, exist_ok=True)
    test = components.load_examples(cfg, "test")[: cfg.refine.n_samples]
    arrays = {"data": test, **samples, **{f"path_{k}": v for k, v in paths.items()}}
    tmp = os.path.join(out, "samples.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, os.path.join(out, "samples.npz"))
    info = {"step": step, "methods": list(samples), "n_samples": int(len(samples["before"])),
            "grad_evals_per_sample": int(cfg.refine.n_steps), **cfg.refine.to_dict()}  # fmt: skip
    project.write_json_atomic(os.path.join(out, "info.json"), project.plain_settings(info))
    pictures = plots.write(cfg, out, test, samples, paths)
    logging.info("refined %d samples with %s; wrote %s", len(samples["before"]), ", ".join(samples), out)
    print(f"samples: {os.path.join(out, 'samples.npz')}  pictures: {', '.join(pictures)}")
    return samples
