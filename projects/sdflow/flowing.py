"""--mode=flow: move the source particles to the target (or draw from the trained generator), save and plot."""

import collections
import json
import os
import time

import equinox as eqx
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


TRACES = collections.Counter()  # times each jitted function below was traced (tests: one per shape, any model)


@eqx.filter_jit
def _flow(x0, key, sigmas, steps, velocity, aux, refit, *, steps_per_level, noise, refit_every, sharding):
    """The annealed flow on the mesh; the proxies (velocity, aux, refit) are arguments, so their arrays are not
    compile-time constants and another model of the same shapes reuses the compiled program."""
    TRACES["flow"] += 1
    x0 = jax.lax.with_sharding_constraint(x0, sharding)
    index = jax.lax.with_sharding_constraint(jnp.arange(x0.shape[0]), sharding)  # global particle indices
    v = lambda x, s, a: velocity(jax.lax.with_sharding_constraint(x, sharding), s, a)  # noqa: E731
    _, path, _, aux = flow.anneal(x0, sigmas, steps, steps_per_level=steps_per_level, velocity=v, noise=noise,
                                  key=key, refit=refit, refit_every=refit_every, aux=aux, index=index)  # fmt: skip
    # (levels + 1, particles, ...): particles stay split over the devices, levels are not
    path = jax.lax.with_sharding_constraint(path, NamedSharding(sharding.mesh, P(None, *sharding.spec)))
    return path, (aux.bad if aux is not None else jnp.zeros((), bool))


def flow_particles(cfg, mesh, x0, velocity, aux=None, refit=None):
    """(path (L+1, N, ...) on the host, nfe, seconds without compilation) of the flow from x0 (numpy)."""
    sig = components.sigmas(cfg)
    steps = components.step_sizes(cfg, sig)
    sharding, rep = parallel.batch_sharding(mesh), parallel.replicated(mesh)
    f = cfg.flow
    # the key, the schedule and the proxies' arrays live on every device of the mesh (restored arrays and keys
    # may otherwise be committed to one device, which jit refuses beside the sharded particles)
    x0 = parallel.shard_tree(x0, sharding)
    args = (jax.random.key(cfg.seed + 1), np.float32(sig), np.float32(steps), velocity, aux)
    args = parallel.shard_tree(args, jax.tree.map(lambda v: rep if eqx.is_array(v) else None, args))
    kw = dict(steps_per_level=f.steps_per_level, noise=float(f.noise), refit_every=cfg.learned.refit_every,
              sharding=sharding)  # fmt: skip
    t = time.perf_counter()
    compiled = _flow.lower(x0, *args, refit, **kw).compile()
    logging.info("flow compiled in %.2f s", time.perf_counter() - t)
    t = time.perf_counter()
    path, bad = jax.block_until_ready(compiled(x0, *args, refit, **kw))
    seconds = time.perf_counter() - t  # the flow itself, compilation excluded
    if bool(bad):  # a refit step of the learned source net met a non-finite loss: the net froze from there on
        raise ValueError(
            "learned source net: a refit step had a non-finite loss, so the net stopped following the particles; "
            "lower refit_optim.lr or flow.eta"
        )
    return _to_host(path), len(sig) * f.steps_per_level, seconds


def particles(cfg, mesh, workdir, target_train):
    """(path (L+1, N, ...) of level ends with the source first, sigmas, nfe, seconds) of the particle flow."""
    velocity, aux, refit = proxies.from_config(cfg, target_train, workdir)
    path, nfe, seconds = flow_particles(cfg, mesh, components.source_samples(cfg), velocity, aux, refit)
    return path, components.sigmas(cfg), nfe, seconds


def run(cfg, workdir, mesh):
    target_train = components.target_samples(cfg, "train")
    out_dir = os.path.join(workdir, "flow")
    if cfg.flow.method == "generator":
        model = generator.restore(cfg, target_train.shape[1:], workdir)
        z = components.source_samples(cfg)
        rep = parallel.replicated(mesh)
        model = parallel.shard_tree(model, jax.tree.map(lambda v: rep if eqx.is_array(v) else None, model))
        z_dev = parallel.shard_tree(z, parallel.batch_sharding(mesh))  # the latents split over the devices
        t = time.perf_counter()
        x = _to_host(jax.block_until_ready(generator.sample(model, z_dev)))
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
