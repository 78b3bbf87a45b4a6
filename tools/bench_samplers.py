"""P2: every sampler's run time against NFE x the time of one jitted batched score call.

Same score network and batch for all samplers (the MLP setting of P1: 10k 2-D points; optionally
the conv net). For each sampler: its reported NFE, the NFE counted by a callback in the score
function (a separate, untimed run), compile and run times, and

    overhead = run time / (NFE x time of one jitted score call)      (target <= 1.10)

beside the same ratio against the per-call cost of a bare lax.scan of score calls (the cost of
a score call inside a loop, which is what an ideal sampler pays).

    .venv/bin/python tools/bench_samplers.py [--quick] [--repeats N] [--settings mlp,conv] [--nfe 200]
        [--samplers UniPC,DPM]
"""

from __future__ import annotations

import sys
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_utils as bu  # noqa: E402
import diffrax  # noqa: E402

from scoresde import solvers as sv  # noqa: E402
from scoresde.sde import VPSDE, SigmaLadder  # noqa: E402

LOOP = "bare scan of score calls"


def samplers(sde, shape, nfe: int):
    """name -> (process, sampler), each with about `nfe` score calls (fast ODE solvers fewer)."""
    n = nfe
    ladder = SigmaLadder(np.geomspace(1.0, 0.01, 10))
    return {
        f"ReverseSDE euler_maruyama (n={n})": (sde, sv.ReverseSDE(n)),
        f"ReverseSDE reverse_diffusion (n={n})": (sde, sv.ReverseSDE(n, sv.ReverseDiffusion())),
        f"PredictorCorrector rd + langevin (n={n // 2}, 1 corr.)": (sde, sv.PredictorCorrector(n // 2)),
        f"AnnealedLangevin (10 levels x {n // 10}, denoise)": (ladder, sv.AnnealedLangevin(n // 10)),
        "ProbabilityFlow tsit5 adaptive (rtol=atol=1e-5)": (sde, sv.ProbabilityFlow()),
        f"ProbabilityFlow heun (n={n // 2})": (sde, sv.ProbabilityFlow(diffrax.Heun(), n_steps=n // 2)),
        "EDMHeun (n=18)": (sde, sv.EDMHeun(18)),
        "DPMSolverPP 2M (n=20)": (sde, sv.DPMSolverPP(20)),
        "DPMSolverPP 3M (n=20)": (sde, sv.DPMSolverPP(20, order=3)),
        f"DPMSolverPPSDE 2M-SDE (n={n})": (sde, sv.DPMSolverPPSDE(n)),
        "UniPC bh2 order 2 (n=20)": (sde, sv.UniPC(20, order=2)),
        "UniPC bh2 order 3 (n=20)": (sde, sv.UniPC(20, order=3)),
        f"ReverseSDE, one key per sample (n={n})": (sde, sv.ReverseSDE(n)),
    }


def run_sampler(name, process, sampler, score_fn, key, shape):
    if name.startswith("ReverseSDE, one key"):
        key = sv.sample_keys(key, jnp.arange(shape[0]))
    sol = sampler.sample(process, score_fn, shape, key=key)
    return sol.x, sol.nfe


def counting(score_fn, counter: list):
    """score_fn that adds one to counter[0] per call, by a callback (for an untimed NFE check)."""

    def bump():
        counter[0] += 1

    def fn(x, t):
        jax.debug.callback(bump)
        return score_fn(x, t)

    return fn


def run_setting(name: str, args, repeats: int, nfe: int):
    params, static, shape, label = bu.make_setting(name, quick=args.quick, key=jr.key(args.seed))
    sde = VPSDE()
    key = jr.key(args.seed + 1)
    score_of = lambda p: bu.batched(eqx.combine(p, static))  # noqa: E731
    table = {
        k: v
        for k, v in samplers(sde, shape, nfe).items()
        if not args.samplers or any(part in k for part in args.samplers.split(","))
    }

    compiled, ctimes, counted = {}, {}, {}
    for sname, (process, sampler) in table.items():

        def fn(p, k, sname=sname, process=process, sampler=sampler):
            return run_sampler(sname, process, sampler, score_of(p), k, shape)

        compiled[sname], ctimes[sname] = bu.compile_timed(fn, params, key)
        counter = [0]

        def counted_fn(p, k, sname=sname, process=process, sampler=sampler, counter=counter):
            return run_sampler(sname, process, sampler, counting(score_of(p), counter), k, shape)

        jax.block_until_ready(jax.jit(counted_fn)(params, key))
        counted[sname] = counter[0]

    x0 = jr.normal(jr.key(5), shape)
    t0 = jnp.full((shape[0],), 0.5)
    score_c, _ = bu.compile_timed(lambda p, x, t: score_of(p)(x, t), params, x0, t0)

    def loop(p, x):
        s = score_of(p)

        def step(x, t):
            return x - 1e-3 * s(x, jnp.full((shape[0],), t)), None

        return jax.lax.scan(step, x, jnp.linspace(1.0, 1e-3, nfe))[0]

    loop_c, _ = bu.compile_timed(loop, params, x0)
    flops = bu.xla_flops(score_c)
    peak = bu.matmul_gflops()

    fns = {s: (lambda s=s: compiled[s](params, key)) for s in table}
    fns["one score call"] = lambda: score_c(params, x0, t0)
    fns[LOOP] = lambda: loop_c(params, x0)
    outs: dict = {}
    tm = bu.interleaved_times(fns, repeats, outputs=outs)
    t_call, t_loop = tm.median("one score call"), tm.median(LOOP) / nfe

    rows, summary = [], []
    for s in table:
        reported = int(outs[s][1])
        run = tm.median(s)
        over = run / (reported * t_call)
        rows.append(
            [
                s,
                reported,
                counted[s],
                ctimes[s]["lower"],
                ctimes[s]["compile"],
                run,
                tm.median(s, "wall"),
                over,
                tm.median(s, "wall") / (reported * tm.median("one score call", "wall")),
                run / (reported * t_loop),
                "yes" if over <= 1.10 else "NO",
                float(jnp.std(outs[s][0])),
            ]
        )
        summary.append((label, s, over))
    print(f"\n### {label}; VP SDE; {repeats} interleaved rounds\n")
    headers = ["sampler", "NFE", "NFE counted", "trace+lower (s)", "XLA compile (s)", "run cpu (s)", "run wall (s)"]
    headers += ["cpu / (NFE x call)", "wall / (NFE x call)", "cpu / (NFE x in-loop call)", "<= 1.10", "std(x)"]
    print(bu.markdown_table(headers, rows))
    print(
        f"\none jitted score call: {t_call * 1e3:.3f} ms cpu "
        f"({tm.median('one score call', 'wall') * 1e3:.3f} ms wall); "
        f"in a bare scan of {nfe} score calls: {t_loop * 1e3:.3f} ms cpu per call. Medians over rounds. "
        "'NFE counted' counts score calls with a callback in a separate untimed run."
    )
    if flops:
        print(
            f"score call: {flops / 1e6:.0f} MFLOP (XLA cost analysis), {flops / t_loop / 1e9:.1f} GFLOP/s in the loop; "
            f"a 1024x1024 float32 matmul runs at {peak:.1f} GFLOP/s here, now."
        )
    return summary


def main():
    p = bu.arg_parser(__doc__.splitlines()[0], repeats=3)
    p.add_argument("--settings", default="mlp", help="comma-separated: mlp, conv, conv-nchw")
    p.add_argument("--samplers", default=None, help="comma-separated parts of sampler names to run (default all)")
    p.add_argument("--nfe", type=int, default=None, help="score calls of the long samplers (default 200, quick 100)")
    args = p.parse_args()
    repeats = bu.repeats_from(args, 3)
    nfe = args.nfe or (100 if args.quick else 200)
    print(f"# P2: sampler overhead over NFE x one score call\n\n{bu.machine_line()}")
    for name in args.settings.split(","):
        run_setting(name.strip(), args, repeats, nfe)


if __name__ == "__main__":
    main()
