"""P3: sample accuracy against NFE with exact (oracle) mixture scores.

For d = 2 (DESIGN.md's 25-Gaussians grid, std 0.05) and d = 64 (a fixed random 10-component
mixture), under VP and VE: the sliced Wasserstein distance (scoresde.metrics.sliced_wasserstein)
between each sampler's samples and fresh data, at NFE budgets 10, 20, 50, 100, 1000 (n_steps
chosen per sampler to use at most the budget, except annealed Langevin's final denoising call),
beside the data-vs-data SWD of fresh draws (the noise floor). All samplers start from the same prior
draw (common random numbers), so that solvers differ by their discretisation only. Is the best ODE solver
within 10% of its own 1000-NFE SWD at <= 20 NFE?

    .venv/bin/python tools/bench_accuracy.py [--quick] [--dims 2,64] [--sdes vp,ve] [--n 10000]
        [--budgets 10,20,50,100,1000] [--patch-vp-discretize]

Run time is mostly tracing + XLA compilation, one program per sampler and budget (~37 per
setting; each setting prints its time: 11 min of wall time per setting under a load average of
10 on 2 cores). --quick runs budgets 20 and 1000, VP only, 2000 samples.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

# No run time is measured here and XLA compiles dominate (one program per sampler and budget):
# compile with LLVM's cheaper settings. Set before jax is imported.
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
).strip()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jax.random as jr  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_utils as bu  # noqa: E402

from scoresde.metrics import sliced_wasserstein  # noqa: E402
from scoresde.oracle import GaussianMixture, grid_mixture  # noqa: E402
from scoresde.sde import VESDE, VPSDE  # noqa: E402
from scoresde.solvers import (  # noqa: E402
    annealed_langevin,
    dpm_solver_2m,
    edm_heun,
    pc,
    probability_flow,
    reverse_sde,
)

BUDGETS = (10, 20, 50, 100, 1000)


def patch_vp_discretize():
    """--patch-vp-discretize: the proposed library change, tried here by monkeypatching.

    VPSDE.discretize uses b = beta(t) h, and sqrt(1 - b) is nan once beta(t) h > 1 (fewer than
    ~20 steps); the Langevin correctors' alpha = 1 - beta(t) h then turns negative, and their
    step sqrt(2 * step) nan. The exact DDPM coefficient of the interval [t - h, t] is
    b = 1 - exp(-int beta) = -expm1(-h beta(t - h/2)): always in (0, 1), and beta(t) h + O(h^2);
    alpha = 1 - b = exp(-h beta(t - h/2)).
    """
    from scoresde.sde import _vp
    from scoresde.sde._abstract import _bcast
    from scoresde.solvers import _steps

    def discretize(self, x, t, dt):
        b = -jnp.expm1(-dt * self.beta(t - 0.5 * dt))
        return (_bcast(jnp.sqrt(1.0 - b), x) - 1.0) * x, jnp.sqrt(b)

    def corrector_alpha(sde, t, h):
        beta = getattr(sde, "beta", None)
        if beta is None:
            return jnp.ones_like(t)
        return jnp.exp(-h * beta(t - 0.5 * h))

    _vp.VPSDE.discretize = discretize
    _steps._corrector_alpha = corrector_alpha


ODE_SOLVERS = ("PF heun", "edm_heun", "dpm_solver_2m")
ADAPTIVE_TOLS = (1e-2, 1e-5)


def mixture_for(dim: int) -> tuple[GaussianMixture, str]:
    if dim == 2:
        return grid_mixture(), "25-Gaussians grid (5x5, spacing 2, std 0.05)"
    rng = np.random.default_rng(dim)
    k = 10
    w = rng.dirichlet(np.full(k, 5.0))
    means = rng.normal(size=(k, dim))
    stds = rng.uniform(0.3, 0.8, size=k)
    label = f"{k}-component random mixture in {dim}-D (means N(0, I), stds 0.3-0.8)"
    return GaussianMixture(w / w.sum(), means, stds), label


def sampler_table(sde, mixture: GaussianMixture, shape, x_init):
    """name -> (nfe budget -> (run(key) -> (x, nfe))).

    Every sampler starts from the same x_init (common random numbers): the ODE solvers then
    differ only by their discretisation error, which the 10% comparison is about.
    """
    score = mixture.score_fn(sde)
    kw = dict(x_init=x_init)
    table = {
        "reverse_sde euler_maruyama": lambda b: lambda k: reverse_sde(sde, score, k, shape, n_steps=b, **kw),
        "reverse_sde reverse_diffusion": lambda b: (
            lambda k: reverse_sde(sde, score, k, shape, n_steps=b, predictor="reverse_diffusion", **kw)
        ),
        "pc (reverse_diffusion + 1 langevin)": lambda b: lambda k: pc(sde, score, k, shape, n_steps=b // 2, **kw),
        "PF heun": lambda b: lambda k: probability_flow(sde, score, k, shape, solver="heun", n_steps=b // 2, **kw),
        "edm_heun": lambda b: lambda k: edm_heun(sde, score, k, shape, n_steps=(b + 1) // 2, **kw),
        "dpm_solver_2m": lambda b: lambda k: dpm_solver_2m(sde, score, k, shape, n_steps=b, **kw),
    }
    if isinstance(sde, VESDE):
        # NCSN's sampler on the VE noise levels: 10 geometric sigmas, (budget - 1) / 10 steps each;
        # x_init ~ N(0, sigma_max^2 I) is also its own starting law.
        sigmas = jnp.asarray(np.geomspace(sde.sigma_max, sde.sigma_min, 10), jnp.float32)
        sscore = mixture.sigma_score_fn()
        table["annealed_langevin (10 levels)"] = lambda b: (
            lambda k: annealed_langevin(sscore, sigmas, k, shape, n_steps_each=max(1, (b - 1) // 10), **kw)
        )
    return table


def run_setting(dim: int, sde_name: str, args, budgets, tols):
    mixture, mlabel = mixture_for(dim)
    sde = VPSDE() if sde_name == "vp" else VESDE()
    n = args.n or (2_000 if args.quick else 10_000)
    shape = (n, dim)
    k_data, k_ref, k_proj, k_samp, k_init = jr.split(jr.key(args.seed), 5)
    # A large fresh data set as the target, so that the SWD's sampling noise is mostly that of
    # the n samples; the floor is the SWD of fresh n-point data sets to it (mean, sd of 4 draws).
    data = mixture.sample(k_data, 5 * n)
    swd = jax.jit(lambda a, b: sliced_wasserstein(a, b, k_proj))
    floors = [float(swd(mixture.sample(k, n), data)) for k in jr.split(k_ref, 4)]
    floor, floor_sd = float(np.mean(floors)), float(np.std(floors, ddof=1))

    x_init = sde.prior_sample(k_init, shape)
    table = sampler_table(sde, mixture, shape, x_init)
    results: dict[str, dict[int, tuple[float, int]]] = {}
    t0 = time.perf_counter()
    for name, make in table.items():
        results[name] = {}
        for b in budgets:
            x, nfe = jax.jit(make(b))(k_samp)
            ok = bool(jnp.all(jnp.isfinite(x)))
            results[name][b] = (float(swd(x, data)) if ok else float("nan"), int(nfe))
    adaptive = []
    score = mixture.score_fn(sde)
    for tol in tols:
        x, nfe = jax.jit(lambda k, tol=tol: probability_flow(sde, score, k, shape, rtol=tol, atol=tol, x_init=x_init))(
            k_samp
        )
        adaptive.append([f"PF tsit5 adaptive, rtol=atol={tol:g}", int(nfe), float(swd(x, data))])
    elapsed = time.perf_counter() - t0

    title = f"d={dim}, {sde_name.upper()}: {mlabel}; {n} samples against {5 * n} fresh data points"
    print(f"\n### {title}\n")
    rows = []
    for name, res in results.items():
        rows.append([name] + [f"{res[b][0]:.4f} ({res[b][1]})" for b in budgets])
    rows.append(["data vs data (floor)"] + [f"{floor:.4f} +- {floor_sd:.4f}"] * len(budgets))
    print(bu.markdown_table(["sampler: SWD (NFE used)"] + [f"NFE <= {b}" for b in budgets], rows))
    print()
    print(bu.markdown_table(["adaptive", "NFE", "SWD"], adaptive))

    # best ODE solver at <= 20 NFE against its own 1000-NFE SWD
    verdict = None
    small = [b for b in budgets if b <= 20]
    if small and 1000 in budgets:
        best = min(
            ((name, b, results[name][b][0]) for name in ODE_SOLVERS for b in small),
            key=lambda r: r[2] if np.isfinite(r[2]) else np.inf,
        )
        name, b, s_small = best
        s_full = results[name][1000][0]
        ratio = s_small / s_full
        verdict = (f"d={dim}, {sde_name.upper()}", name, b, results[name][b][1], s_small, s_full, ratio, floor)
        print(
            f"\nbest ODE solver at <= 20 NFE: {name} at NFE {results[name][b][1]}: SWD {s_small:.4f} vs "
            f"{s_full:.4f} at 1000 NFE (ratio {ratio:.3f}: {'within' if ratio <= 1.10 else 'NOT within'} 10%); "
            f"floor {floor:.4f} +- {floor_sd:.4f}"
        )
    if sde_name == "vp" and any(np.isnan(results[k][b][0]) for k in results for b in budgets):
        print(
            "\nnan: VP's reverse_diffusion step (DDPM chain, b = beta(t) h) takes sqrt(1 - b), and the Langevin"
            " corrector's step uses alpha = 1 - beta(t) h: nan once beta(t) h > 1, i.e. below about 20 steps"
            " (pc at NFE 20 has 10 steps). --patch-vp-discretize tries the proposed fix."
        )
    print(f"\n(solves and metrics took {elapsed:.0f} s, compiles included)")
    return verdict


def main():
    p = bu.arg_parser(__doc__.splitlines()[0])
    p.add_argument("--dims", default="2,64")
    p.add_argument("--sdes", default=None, help="comma-separated vp, ve (default both; quick: vp)")
    p.add_argument("--n", type=int, default=None, help="samples per set (default 10000, quick 2000)")
    p.add_argument("--budgets", default=None, help="comma-separated NFE budgets (default 10,20,50,100,1000)")
    p.add_argument("--patch-vp-discretize", action="store_true", help="try the proposed VPSDE.discretize fix")
    args = p.parse_args()
    if args.patch_vp_discretize:
        patch_vp_discretize()
    budgets = tuple(int(b) for b in args.budgets.split(",")) if args.budgets else BUDGETS
    if args.quick and not args.budgets:
        budgets = (20, 1000)
    sdes = args.sdes or ("vp" if args.quick else "vp,ve")
    tols = ADAPTIVE_TOLS[:1] if args.quick else ADAPTIVE_TOLS
    # Keep compiled programs across runs too (a second run skips XLA compilation).
    jax.config.update("jax_compilation_cache_dir", "/tmp/scoresde_bench_jax_cache")
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    patched = " (patched: VP b = -expm1(-h beta(t - h/2)), alpha = 1 - b)" if args.patch_vp_discretize else ""
    print(f"# P3: accuracy vs NFE with oracle scores (sliced Wasserstein to fresh data){patched}\n")
    print(bu.machine_line())
    verdicts = []
    for dim in (int(d) for d in args.dims.split(",")):
        for sde_name in sdes.split(","):
            verdicts.append(run_setting(dim, sde_name.strip(), args, budgets, tols))
    verdicts = [v for v in verdicts if v]
    if verdicts:
        print("\n### Summary: best ODE solver at <= 20 NFE vs its own 1000-NFE SWD (target: within 10%)\n")
        rows = [[t, n, nfe, s, f, r, "yes" if r <= 1.10 else "NO", fl] for t, n, _, nfe, s, f, r, fl in verdicts]
        print(bu.markdown_table(["setting", "solver", "NFE", "SWD", "SWD @1000", "ratio", "within 10%", "floor"], rows))


if __name__ == "__main__":
    main()
