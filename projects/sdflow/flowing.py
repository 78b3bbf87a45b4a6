"""--mode=flow: move the source particles to the target (or draw from the trained generator), save and plot.

Writes workdir/flow/<method>-<target proxy>-<source proxy>_eta<eta>_seed<seed>_<digest>/ (`output_dir`: a flow
with other settings writes another folder): path.npz, record.json (with the settings), the plots.
"""

import collections
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

from scoresde import parallel, project

from . import components, flow, generator, plots, proxies


def _to_host(x):
    """The full (global) value on every host (tiled: a global array is gathered whole, not stacked per process)."""
    return np.asarray(multihost_utils.process_allgather(x, tiled=True)) if jax.process_count() > 1 else np.asarray(x)


_NOT_OUTPUT = ("path", "chunk_size", "query_chunk", "n_trajectories", "log_every", "checkpoint_every")


def output_settings(cfg) -> tuple[tuple[str, ...], dict]:
    """(the readable parts of the flow's folder name, every setting its particles depend on: seed, source, target,
    proxies, the flow; the score nets' and the generator's training when used). Not the data paths, chunk sizes,
    plots or bookkeeping."""
    groups = ["seed", "source", "target", "proxy", "flow"]
    learned = "learned" in (cfg.proxy.target, cfg.proxy.source)
    groups += ["learned", "optim"] if learned else []
    groups += ["refit_optim"] if cfg.proxy.source == "learned" else []
    groups += ["generator", "optim"] if cfg.flow.method == "generator" else []
    strip = lambda v: {k: x for k, x in v.items() if k not in _NOT_OUTPUT} if hasattr(v, "items") else v  # noqa: E731
    settings = {g: strip(cfg[g]) for g in dict.fromkeys(groups)}
    f, p = cfg.flow, cfg.proxy
    method = "generator" if f.method == "generator" else f"particles-{p.target}-{p.source}"
    return (method, f"eta{f.eta:g}", f"seed{cfg.seed}"), settings


def output_dir(cfg, workdir: str) -> str:
    return os.path.join(workdir, "flow", project.output_name(*output_settings(cfg)))


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
    out_dir = output_dir(cfg, workdir)
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
        tmp = os.path.join(out_dir, "path.tmp.npz")
        np.savez(tmp, path=path, sigmas=sig, labels=np.array(labels))
        os.replace(tmp, os.path.join(out_dir, "path.npz"))
        record["plots"] = plots.write(cfg, out_dir, path, labels, target_train)
        record["settings"] = project.plain_settings(output_settings(cfg)[1])
        project.write_json_atomic(os.path.join(out_dir, "record.json"), record)
    logging.info("flow: %d particles, %d steps (%d score evaluations) in %.2f s; wrote %s", path.shape[1], nfe,
                 score_evals, seconds, out_dir)  # fmt: skip
    return path, record
