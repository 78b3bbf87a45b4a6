"""--mode=eval: per sigma level, SWD/MMD of the particles to held-out target data beside the data-vs-data value,
and a KL(q_sigma || p_sigma) estimate between the proxies.

q_sigma is the particles' smoothed empirical measure and p_sigma the target mixture convolved with
N(0, sigma^2 I) (exact targets) or the target samples' smoothed empirical measure: both are Gaussian
mixtures with exact log densities, so KL = E_{u ~ q_sigma}[log q_sigma(u) - log p_sigma(u)] is estimated
by Monte Carlo over u = x_i + sigma xi only (eval.kl_samples draws per particle).
"""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from scoresde import metrics, oracle

from . import components


def kl_proxies(particles, sigma, log_p, key, *, n_mc: int, chunk_size: int = 1024, query_chunk: int = 1024):
    """Monte Carlo KL(q_sigma || p_sigma), q the particles' empirical measure; log_p(u, sigma) exact. Jittable."""
    x = jnp.asarray(particles)
    u = (x[None] + sigma * jax.random.normal(key, (n_mc, *x.shape), x.dtype)).reshape(-1, *x.shape[1:])
    log_q = oracle.empirical_log_prob(u, x, sigma, chunk_size=chunk_size, query_chunk=query_chunk)
    return jnp.mean(log_q - log_p(u, sigma))


def target_log_prob(cfg, target_train):
    """log p_sigma(u, sigma): exact for mixture targets with proxy.target=exact, else the kernel estimate."""
    f = cfg.flow
    if cfg.proxy.target == "exact":
        mix = components.target_mixture(cfg)
        return lambda u, s: mix.perturbed(1.0, s).log_prob(u.reshape(u.shape[0], -1)), "exact mixture"
    y = jnp.asarray(target_train)

    def lp(u, s):
        return oracle.empirical_log_prob(u, y, s, chunk_size=f.chunk_size, query_chunk=f.query_chunk)

    return lp, "kernel estimate"


def level_metrics(cfg, path, sigmas, target_train, target_test):
    """A list of dicts, one per saved level (0 = the source), plus the data-vs-data reference."""
    e, key = cfg.eval, jax.random.key(cfg.seed + 5)
    n = path.shape[1]
    test = jnp.asarray(target_test)
    ref = jnp.asarray(target_train[: min(n, len(target_train))])
    swd = jax.jit(lambda a, b, k: metrics.sliced_wasserstein(a, b, k, n_projections=e.n_projections))
    mmd = jax.jit(lambda a, b: metrics.mmd(a, b, bandwidth=e.mmd_bandwidth))
    k_swd = jax.random.fold_in(key, 0)
    reference = {"swd_data_vs_data": float(swd(ref, test, k_swd)), "mmd_data_vs_data": float(mmd(ref, test))}
    log_p, kl_kind = target_log_prob(cfg, target_train)
    chunks = dict(chunk_size=cfg.flow.chunk_size, query_chunk=cfg.flow.query_chunk)
    kl = jax.jit(lambda x, s, k: kl_proxies(x, s, log_p, k, n_mc=e.kl_samples, **chunks))
    rows = []
    for i in range(path.shape[0]):
        x = jnp.asarray(path[i])
        row = {"level": i, "swd": float(swd(x, test, k_swd)), "mmd": float(mmd(x, test))}
        if np.isfinite(sigmas).all():
            s = float(sigmas[max(i - 1, 0)])
            row["sigma"] = s
            row["kl_proxies"] = float(kl(x, jnp.float32(s), jax.random.fold_in(key, i + 1)))
        rows.append(row)
    return rows, reference, kl_kind


def run(cfg, workdir, mesh):
    f = os.path.join(workdir, "flow", "path.npz")
    if not os.path.isfile(f):
        raise ValueError(f"--workdir={workdir!r} has no flow output ({f}): run --mode=flow first")
    saved = np.load(f)
    path, sigmas = saved["path"], saved["sigmas"]
    rows, reference, kl_kind = level_metrics(
        cfg, path, sigmas, components.target_samples(cfg, "train"), components.target_samples(cfg, "test")
    )
    with open(os.path.join(workdir, "flow", "record.json")) as fh:
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
