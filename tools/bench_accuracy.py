"""P3: sample accuracy against NFE with exact (oracle) mixture scores, every sampler, default and user grids.

For d = 2 (the 25-Gaussians grid, std 0.05) and d = 64 (a fixed random 10-component mixture),
under VP and VE: the sliced Wasserstein distance (scoresde.metrics.sliced_wasserstein) between
each sampler's samples and fresh data, at NFE budgets 5, 8, 10, 15, 20, 50 and a converged
1000 (n_steps chosen per sampler to use at most the budget, except annealed Langevin's final
denoising call), beside the data-vs-data SWD of fresh draws (the noise floor). All samplers
start from the same prior draw (common random numbers), so solvers differ by their
discretisation only. Rows marked "user grid" run the sigma-space solvers on a user-given grid,
sigmas = geomspace(min(sigma(T), 80), sigma_min, n) + [0] (k-diffusion style), where sigma_min
is sigma(eps) unless --user-sigma-min sets it: the grid's last nonzero level decides most of
the error at few steps (the final step to 0 is one denoiser call from there). Verdict: is
the best sampler within 10% of its own 1000-NFE SWD at <= 10 NFE? Only samplers that converge
(1000-NFE SWD within 1.5x the data-vs-data floor) are candidates; the ratio to the floor is
printed beside it, since a grid ending at a larger sigma_min also moves the 1000-NFE answer.

    .venv/bin/python tools/bench_accuracy.py [--quick] [--dims 2,64] [--sdes vp,ve] [--n 10000]
        [--budgets 5,8,10,15,20,50,1000] [--samplers unipc,dpm_solver++] [--user-sigma-min 0.1]

Run time is mostly tracing + XLA compilation, one program per sampler and budget.
--quick runs budgets 10 and 1000, VP only, 2000 samples.
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

import diffrax  # noqa: E402
import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jax.random as jr  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_utils as bu  # noqa: E402

from scoresde import solvers as sv  # noqa: E402
from scoresde.metrics import sliced_wasserstein  # noqa: E402
from scoresde.oracle import GaussianMixture, grid_mixture  # noqa: E402
from scoresde.sde import VESDE, VPSDE, SigmaLadder  # noqa: E402

BUDGETS = (5, 8, 10, 15, 20, 50, 1000)
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


def user_sigmas(sde, n: int, lo: float | None = None, eps: float = 1e-3) -> np.ndarray:
    """geomspace(min(sigma(T), 80), lo or sigma(eps), n) + [0]: a k-diffusion-style grid given by the user.

    80 is k-diffusion's sigma_max. The grid starts where the prior draw is a sample of x_t: VP's
    sigma(T) = 152 is capped at 80 (x / a is then N(0, 1 + 80^2), as the prior); VE starts at its
    own sigma_max = 50 (a grid starting lower would start too much noise for its first level)."""
    hi, lo = min(float(sde.sigma(sde.T)), 80.0), lo or float(sde.sigma(eps))
    return np.append(np.geomspace(hi, lo, n), 0.0).astype(np.float32)


def sampler_table(sde, budget: int, lo: float | None = None) -> dict[str, sv.AbstractSampler]:
    """name -> the sampler that uses at most `budget` score calls (`lo`: the user grid's last level)."""
    b, half = budget, max(1, budget // 2)
    table = {
        "reverse_sde euler_maruyama": sv.ReverseSDE(b),
        "reverse_sde reverse_diffusion": sv.ReverseSDE(b, sv.ReverseDiffusion()),
        "pc (reverse_diffusion + 1 langevin)": sv.PredictorCorrector(half),
        "PF heun": sv.ProbabilityFlow(diffrax.Heun(), n_steps=half),
        "edm_heun": sv.EDMHeun((b + 1) // 2),
        "dpm_solver++ 1S": sv.DPMSolverPP(b, order=1),
        "dpm_solver++ 2M": sv.DPMSolverPP(b),
        "dpm_solver++ 3M": sv.DPMSolverPP(b, order=3),
        "dpm_solver++ 2M-SDE": sv.DPMSolverPPSDE(b),
        "unipc 2": sv.UniPC(b, order=2),
        "unipc 3": sv.UniPC(b, order=3),
        "user grid: edm_heun": sv.EDMHeun(sigmas=user_sigmas(sde, (b + 1) // 2, lo)),
        "user grid: dpm_solver++ 2M": sv.DPMSolverPP(sigmas=user_sigmas(sde, b, lo)),
        "user grid: dpm_solver++ 3M": sv.DPMSolverPP(order=3, sigmas=user_sigmas(sde, b, lo)),
        "user grid: dpm_solver++ 2M-SDE": sv.DPMSolverPPSDE(sigmas=user_sigmas(sde, b, lo)),
        "user grid: unipc 2": sv.UniPC(order=2, sigmas=user_sigmas(sde, b, lo)),
        "user grid: unipc 3": sv.UniPC(order=3, sigmas=user_sigmas(sde, b, lo)),
    }
    if isinstance(sde, VESDE):
        # NCSN's sampler on 10 geometric VE noise levels, (budget - 1) / 10 steps each.
        table["annealed_langevin (10 levels)"] = sv.AnnealedLangevin(max(1, (b - 1) // 10))
    return table


@eqx.filter_jit
def draw(sampler, process, mixture, shape, key, x_init):
    score = mixture.sigma_score_fn() if isinstance(process, SigmaLadder) else mixture.score_fn(process)
    sol = sampler.sample(process, score, shape, key=key, x_init=x_init)
    return sol.x, sol.nfe


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
    ladder = SigmaLadder(np.geomspace(sde.sigma_max, sde.sigma_min, 10)) if isinstance(sde, VESDE) else None
    results: dict[str, dict[int, tuple[float, int]]] = {}
    t0 = time.perf_counter()
    for b in budgets:
        for name, sampler in sampler_table(sde, b, args.user_sigma_min).items():
            if args.samplers and not any(p in name for p in args.samplers.split(",")):
                continue
            process = ladder if name.startswith("annealed") else sde
            x, nfe = draw(sampler, process, mixture, shape, k_samp, x_init)
            ok = bool(jnp.all(jnp.isfinite(x)))
            results.setdefault(name, {})[b] = (float(swd(x, data)) if ok else float("nan"), int(nfe))
    adaptive = []
    for tol in tols if not args.samplers else ():
        pf = sv.ProbabilityFlow(stepsize_controller=diffrax.PIDController(rtol=tol, atol=tol))
        x, nfe = draw(pf, sde, mixture, shape, k_samp, x_init)
        adaptive.append([f"PF tsit5 adaptive, rtol=atol={tol:g}", int(nfe), float(swd(x, data))])
    elapsed = time.perf_counter() - t0

    title = f"d={dim}, {sde_name.upper()}: {mlabel}; {n} samples against {5 * n} fresh data points"
    print(f"\n### {title}\n")
    rows = [[name] + [f"{res[b][0]:.4f} ({res[b][1]})" for b in budgets] for name, res in results.items()]
    rows.append(["data vs data (floor)"] + [f"{floor:.4f} +- {floor_sd:.4f}"] * len(budgets))
    print(bu.markdown_table(["sampler: SWD (NFE used)"] + [f"NFE <= {b}" for b in budgets], rows))
    if adaptive:
        print()
        print(bu.markdown_table(["adaptive", "NFE", "SWD"], adaptive))

    verdict = None
    small = [b for b in budgets if b <= 10]
    if small and 1000 in budgets:
        converged = [name for name in results if results[name][1000][0] <= 1.5 * floor]
        name, b, ratio = min(
            ((name, b, results[name][b][0] / results[name][1000][0]) for name in converged for b in small),
            key=lambda r: r[2] if np.isfinite(r[2]) else np.inf,
        )
        s_small, s_full = results[name][b][0], results[name][1000][0]
        verdict = (f"d={dim}, {sde_name.upper()}", name, results[name][b][1], s_small, s_full, ratio, floor)
        print(
            f"\nbest sampler at <= 10 NFE: {name} at NFE {results[name][b][1]}: SWD {s_small:.4f} vs "
            f"{s_full:.4f} at 1000 NFE (ratio {ratio:.3f}: {'within' if ratio <= 1.10 else 'NOT within'} 10%); "
            f"floor {floor:.4f} +- {floor_sd:.4f}"
        )
    print(f"\n(solves and metrics took {elapsed:.0f} s, compiles included)", flush=True)
    return verdict


def main():
    p = bu.arg_parser(__doc__.splitlines()[0])
    p.add_argument("--dims", default="2,64")
    p.add_argument("--sdes", default=None, help="comma-separated vp, ve (default both; quick: vp)")
    p.add_argument("--n", type=int, default=None, help="samples per set (default 10000, quick 2000)")
    p.add_argument("--budgets", default=None, help="comma-separated NFE budgets (default 5,8,10,15,20,50,1000)")
    p.add_argument("--samplers", default=None, help="comma-separated parts of sampler names to run (default all)")
    p.add_argument("--user-sigma-min", type=float, default=None, help="the user grid's last nonzero sigma")
    args = p.parse_args()
    budgets = tuple(int(b) for b in args.budgets.split(",")) if args.budgets else BUDGETS
    if args.quick and not args.budgets:
        budgets = (10, 1000)
    sdes = args.sdes or ("vp" if args.quick else "vp,ve")
    tols = ADAPTIVE_TOLS[:1] if args.quick else ADAPTIVE_TOLS
    jax.config.update("jax_compilation_cache_dir", "/tmp/scoresde_bench_jax_cache")
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    print("# P3: accuracy vs NFE with oracle scores (sliced Wasserstein to fresh data)\n")
    print(bu.machine_line())
    verdicts = []
    for dim in (int(d) for d in args.dims.split(",")):
        for sde_name in sdes.split(","):
            verdicts.append(run_setting(dim, sde_name.strip(), args, budgets, tols))
    verdicts = [v for v in verdicts if v]
    if verdicts:
        print("\n### Summary: best sampler at <= 10 NFE vs its own 1000-NFE SWD (target: within 10%)\n")
        rows = [[t, n, nfe, s, f, r, "yes" if r <= 1.10 else "NO", fl, s / fl] for t, n, nfe, s, f, r, fl in verdicts]
        head = ["setting", "solver", "NFE", "SWD", "SWD @1000", "ratio", "within 10%", "floor", "SWD / floor"]
        print(bu.markdown_table(head, rows))


if __name__ == "__main__":
    main()
