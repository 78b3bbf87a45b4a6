"""P7: likelihood through the PF-ODE, adaptive (Tsit5) against a fixed 1000-step solve.

Oracle (exact) mixture scores in 2-D, VP and VE; the prior term is the exact p_T of the mixture
(`prior_logp=mixture.marginal(sde, 1.0).log_prob`), so the only error left is the ODE solve.
Reported: NFE of each solve, max |adaptive - fixed| in nats (goal: < 0.01 with far fewer NFE
for the adaptive solve), and both against the analytic log-density: log p_eps (what the ODE
integrates to, eps = 1e-5) and log p_0.

    .venv/bin/python tools/bench_likelihood.py [--quick] [--n 256] [--fixed heun]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import jax.random as jr

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_utils as bu  # noqa: E402

from scoresde.likelihood import log_prob  # noqa: E402
from scoresde.oracle import grid_mixture, two_mode_mixture  # noqa: E402
from scoresde.sde import VESDE, VPSDE  # noqa: E402

EPS = 1e-5


def mixtures():
    return {
        "two-mode (0.8/0.2, std 1)": two_mode_mixture(2),
        "25-Gaussians grid (std 0.05)": grid_mixture(),
    }


def main():
    p = bu.arg_parser(__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=None, help="points per setting (default 256, quick 64)")
    p.add_argument("--fixed", default="heun", choices=("heun", "euler"), help="fixed-step reference solver")
    p.add_argument("--fixed-steps", type=int, default=1000)
    args = p.parse_args()
    n = args.n or (64 if args.quick else 256)
    jax.config.update("jax_compilation_cache_dir", "/tmp/scoresde_bench_jax_cache")
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    print(f"# P7: log_prob, adaptive tsit5 vs fixed {args.fixed} x {args.fixed_steps}, oracle scores\n")
    print(bu.machine_line())
    rows = []
    for mname, mixture in mixtures().items():
        for sde in (VPSDE(), VESDE()):
            sname = type(sde).__name__
            x = mixture.sample(jr.key(args.seed), n)
            score = mixture.score_fn(sde)
            prior = mixture.marginal(sde, 1.0).log_prob
            key = jr.key(args.seed + 1)

            def adaptive(x, key, sde=sde, score=score, prior=prior):
                return log_prob(sde, score, x, key, eps=EPS, prior_logp=prior)

            def fixed(x, key, sde=sde, score=score, prior=prior):
                return log_prob(
                    sde, score, x, key, eps=EPS, prior_logp=prior, solver=args.fixed, n_steps=args.fixed_steps
                )

            out, wall = {}, {}
            for name, fn in (("adaptive", adaptive), ("fixed", fixed)):
                compiled, _ = bu.compile_timed(fn, x, key)
                t0 = time.perf_counter()
                out[name] = jax.block_until_ready(compiled(x, key))
                wall[name] = time.perf_counter() - t0
            (lp_a, nfe_a), (lp_f, nfe_f) = out["adaptive"], out["fixed"]
            exact_eps = mixture.marginal(sde, EPS).log_prob(x)
            exact_0 = mixture.log_prob(x)
            diff = float(jnp.max(jnp.abs(lp_a - lp_f)))
            rows.append(
                [
                    mname,
                    sname,
                    int(nfe_a),
                    int(nfe_f),
                    diff,
                    "yes" if diff < 0.01 else "NO",
                    float(jnp.max(jnp.abs(lp_a - exact_eps))),
                    float(jnp.max(jnp.abs(lp_f - exact_eps))),
                    float(jnp.max(jnp.abs(exact_eps - exact_0))),
                    float(jnp.mean(lp_a)),
                    wall["adaptive"],
                    wall["fixed"],
                ]
            )
    print(f"\n### {n} points per row (drawn from the mixture), exact divergence, eps = {EPS:g}\n")
    headers = ["mixture", "SDE", "NFE adaptive", f"NFE {args.fixed} x{args.fixed_steps}", "max |adaptive - fixed|"]
    headers += ["< 0.01 nats", "max |adaptive - log p_eps|", "max |fixed - log p_eps|", "max |log p_eps - log p_0|"]
    headers += ["mean log p (adaptive)", "run adaptive (s, wall)", "run fixed (s, wall)"]
    print(bu.markdown_table(headers, rows))
    print(
        "\nNFE counts vector-field evaluations of the joint (x, divergence) ODE; each costs one score call "
        "and its D = 2 Jacobian-vector products. log p_eps is the analytic density of the mixture "
        "perturbed to t = eps, which the ODE integrates to exactly; log p_0 that of the data."
    )


if __name__ == "__main__":
    main()
