"""--mode=flow: move the source particles to the target (or draw from the trained generator), save and plot."""

import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from scoresde import parallel

from . import components, flow, generator, plots, proxies


def _to_host(x):
    """The full (global) value on every host (tiled: a global array is gathered whole, not stacked per process)."""
    return np.asarray(multihost_utils.process_allgather(x, tiled=True)) if jax.process_count() > 1 else np.asarray(x)


def particles(cfg, mesh, workdir, target_train):
    """(path (L+1, N, ...) of level ends with the source first, sigmas, nfe, seconds) of the particle flow."""
    sig = components.sigmas(cfg)
    steps = components.step_sizes(cfg, sig)
    velocity, aux, refit = proxies.from_config(cfg, target_train, workdir)
    sharding = parallel.batch_sharding(mesh)
    x0 = parallel.shard_tree(components.source_samples(cfg), sharding)
    f = cfg.flow

    @jax.jit
    def run(x0, key, aux):
        x0 = jax.lax.with_sharding_constraint(x0, sharding)
        v = lambda x, s, a: velocity(jax.lax.with_sharding_constraint(x, sharding), s, a)  # noqa: E731
        _, path, _, aux = flow.anneal(x0, sig, steps, steps_per_level=f.steps_per_level, velocity=v,
                                      noise=f.noise, key=key, refit=refit,
                                      refit_every=cfg.learned.refit_every, aux=aux)  # fmt: skip
        # (levels + 1, particles, ...): particles stay split over the devices, levels are not
        path = jax.lax.with_sharding_constraint(path, NamedSharding(mesh, P(None, *sharding.spec)))
        return path, (aux.bad if aux is not None else jnp.zeros((), bool))

    # the key and the learned source net's state live on every device of the mesh (restored arrays and keys
    # may otherwise be committed to one device, which jit refuses beside the sharded particles)
    rep = parallel.replicated(mesh)
    key = parallel.shard_tree(jax.random.key(cfg.seed + 1), rep)
    if aux is not None:
        aux = parallel.shard_tree(aux, jax.tree.map(lambda _: rep, aux))
    t = time.perf_counter()
    compiled = run.lower(x0, key, aux).compile()
    logging.info("flow compiled in %.2f s", time.perf_counter() - t)
    t = time.perf_counter()
    path, bad = jax.block_until_ready(compiled(x0, key, aux))
    seconds = time.perf_counter() - t  # the flow itself, compilation excluded
    if bool(bad):  # a refit step of the learned source net met a non-finite loss: the net froze from there on
        raise ValueError(
            "learned source net: a refit step had a non-finite loss, so the net stopped following the particles; "
            "lower refit_optim.lr or flow.eta"
        )
    nfe = len(sig) * f.steps_per_level
    return _to_host(path), sig, nfe, seconds


def run(cfg, workdir, mesh):
    target_train = components.target_samples(cfg, "train")
    out_dir = os.path.join(workdir, "flow")
    if cfg.flow.method == "generator":
        model = generator.restore(cfg, target_train.shape[1:], workdir)
        z = components.source_samples(cfg)
        t = time.perf_counter()
        x = np.asarray(jax.jit(generator.apply)(model, z))
        path, sig, nfe, seconds = np.stack([z, x]), np.array([np.nan]), 1, time.perf_counter() - t
        labels, score_evals = ["latent z", "G(z), one step"], 0  # one forward pass of G, no score
    else:
        path, sig, nfe, seconds = particles(cfg, mesh, workdir, target_train)
        labels, score_evals = ["source"] + [f"sigma={s:.3g}" for s in sig], 2 * nfe
    record = {"nfe": nfe, "score_evals": score_evals, "seconds": seconds, "n_particles": int(path.shape[1])}
    if jax.process_index() == 0:
        os.makedirs(out_dir, exist_ok=True)
        np.savez(os.path.join(out_dir, "path.npz"), path=path, sigmas=sig, labels=np.array(labels))
        record["plots"] = plots.write(cfg, out_dir, path, labels, target_train)
        with open(os.path.join(out_dir, "record.json"), "w") as fh:
            json.dump(record, fh, indent=1)
    logging.info(
        "flow: %d particles, %d steps (%d score evaluations) in %.2f s", path.shape[1], nfe, score_evals, seconds
    )
    return path, record
