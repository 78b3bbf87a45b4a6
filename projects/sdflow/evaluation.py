"""--mode=eval: per sigma level, SWD/MMD of the particles to held-out target data beside the data-vs-data value,
and a KL(q_sigma || p_sigma) estimate between the proxies.

q_sigma is the particles' smoothed empirical measure and p_sigma the target mixture convolved with
N(0, sigma^2 I) (exact targets) or the target samples' smoothed empirical measure: both are Gaussian
mixtures with exact log densities, so KL = E_{u ~ q_sigma}[log q_sigma(u) - log p_sigma(u)] is estimated
by Monte Carlo over u = x_i + sigma xi only (eval.kl_samples draws per particle).
"""

import collections
import functools
import json
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from jaxtyping import Array

from scoresde import metrics, oracle

from . import components, flowing


def kl_proxies(particles, sigma, log_p, key, *, n_mc: int, chunk_size: int = 1024, query_chunk: int = 1024):
    """Monte Carlo KL(q_sigma || p_sigma), q the particles' empirical measure; log_p(u, sigma) exact. Jittable."""
    x = jnp.asarray(particles)
    u = (x[None] + sigma * jax.random.normal(key, (n_mc, *x.shape), x.dtype)).reshape(-1, *x.shape[1:])
    log_q = oracle.empirical_log_prob(u, x, sigma, chunk_size=chunk_size, query_chunk=query_chunk)
    return jnp.mean(log_q - log_p(u, sigma))


class MixtureLogProb(eqx.Module):
    """log p_sigma(u) of a Gaussian mixture convolved with N(0, sigma^2 I)."""

    mixture: oracle.GaussianMixture

    def __call__(self, u, sigma):
        return self.mixture.perturbed(1.0, sigma).log_prob(u.reshape(u.shape[0], -1))


class KernelLogProb(eqx.Module):
    """log p_sigma(u) of the sigma-smoothed empirical measure of `samples`."""

    samples: Array
    chunk_size: int = eqx.field(static=True)
    query_chunk: int = eqx.field(static=True)

    def __call__(self, u, sigma):
        return oracle.empirical_log_prob(u, self.samples, sigma, chunk_size=self.chunk_size,
                                         query_chunk=self.query_chunk)  # fmt: skip


def target_log_prob(cfg, target_train):
    """(log p_sigma(u, sigma) Module, kind): exact for mixture targets with proxy.target=exact, else the kernel one."""
    if cfg.proxy.target == "exact":
        return MixtureLogProb(components.target_mixture(cfg)), "exact mixture"
    f = cfg.flow
    return KernelLogProb(jnp.asarray(target_train), f.chunk_size, f.query_chunk), "kernel estimate"


TRACES = collections.Counter()  # times each jitted metric was traced (tests: once per shape, any target)


@eqx.filter_jit
def _swd(a, b, key, *, n_projections):
    TRACES["swd"] += 1
    return metrics.sliced_wasserstein(a, b, key, n_projections=n_projections)


@eqx.filter_jit
def _mmd(a, b, *, bandwidth):
    TRACES["mmd"] += 1
    return metrics.mmd(a, b, bandwidth=bandwidth)


@eqx.filter_jit
def _kl(x, sigma, log_p, key, *, n_mc, chunk_size, query_chunk):
    TRACES["kl"] += 1
    return kl_proxies(x, sigma, log_p, key, n_mc=n_mc, chunk_size=chunk_size, query_chunk=query_chunk)


def level_metrics(cfg, path, sigmas, target_train, target_test):
    """A list of dicts, one per saved level (0 = the source), plus the data-vs-data reference."""
    e, key = cfg.eval, jax.random.key(cfg.seed + 5)
    n = path.shape[1]
    test = jnp.asarray(target_test)
    ref = jnp.asarray(target_train[: min(n, len(target_train))])
    swd = functools.partial(_swd, n_projections=e.n_projections)
    mmd = functools.partial(_mmd, bandwidth=float(e.mmd_bandwidth))
    k_swd = jax.random.fold_in(key, 0)
    reference = {"swd_data_vs_data": float(swd(ref, test, k_swd)), "mmd_data_vs_data": float(mmd(ref, test))}
    log_p, kl_kind = target_log_prob(cfg, target_train)
    kl = functools.partial(_kl, log_p=log_p, n_mc=e.kl_samples, chunk_size=cfg.flow.chunk_size,
                           query_chunk=cfg.flow.query_chunk)  # fmt: skip
    rows = []
    for i in range(path.shape[0]):
        x = jnp.asarray(path[i])
        row = {"level": i, "swd": float(swd(x, test, k_swd)), "mmd": float(mmd(x, test))}
        if np.isfinite(sigmas).all():
            s = float(sigmas[max(i - 1, 0)])
            row["sigma"] = s
            row["kl_proxies"] = float(kl(x, jnp.float32(s), key=jax.random.fold_in(key, i + 1)))
        rows.append(row)
    return rows, reference, kl_kind


def run(cfg, workdir, mesh):
    out_dir = flowing.output_dir(cfg, workdir)
    f = os.path.join(out_dir, "path.npz")
    if not os.path.isfile(f):
        raise ValueError(f"--workdir={workdir!r} has no flow output with these settings ({f}): run --mode=flow first")
    saved = np.load(f)
    path, sigmas = saved["path"], saved["sigmas"]
    rows, reference, kl_kind = level_metrics(
        cfg, path, sigmas, components.target_samples(cfg, "train"), components.target_samples(cfg, "test")
    )
    with open(os.path.join(out_dir, "record.json")) as fh:
        record = json.load(fh)
    result = {"levels": rows, **reference, "kl_kind": kl_kind, "nfe": record["nfe"],
              "score_evals": record["score_evals"], "final_swd": rows[-1]["swd"], "final_mmd": rows[-1]["mmd"],
              "swd_ratio": rows[-1]["swd"] / reference["swd_data_vs_data"]}  # fmt: skip
    for r in rows:
        logging.info("level %3d  sigma %-8s swd %.4f  mmd %.5f  KL(q_s||p_s) %s", r["level"],
                     f"{r.get('sigma', float('nan')):.3g}", r["swd"], r["mmd"], r.get("kl_proxies", "-"))  # fmt: skip
    logging.info("data vs data: swd %.4f  mmd %.5f; final swd / data-vs-data = %.2f", reference["swd_data_vs_data"],
                 reference["mmd_data_vs_data"], result["swd_ratio"])  # fmt: skip
    if jax.process_index() == 0:
        os.makedirs(os.path.join(workdir, "eval"), exist_ok=True)
        with open(os.path.join(workdir, "eval", "metrics.json"), "w") as fh:
            json.dump(result, fh, indent=1)
    return result
