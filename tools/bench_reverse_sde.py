"""P1: scoresde.solvers.reverse_sde (Euler-Maruyama, 1000 steps) against a bare lax.scan loop.

Same VP SDE, same score network, same steps, same noise (one fold_in draw per step), in two
settings: 10k 2-D points through an MLP, and a batch of 16x16x3 images through a small conv
net. Also: the same diffrax solve driven by diffrax's VirtualBrownianTree (tol = dt/2) and by
diffrax's UnsafeBrownianPath, to show what the library's GridBrownianPath saves, and the
library's own scan path (pc with no corrector). Target: reverse_sde / scan <= 1.10.

    .venv/bin/python tools/bench_reverse_sde.py [--quick] [--repeats N] [--settings mlp,conv]
"""

from __future__ import annotations

import sys
from pathlib import Path

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_utils as bu  # noqa: E402

from scoresde.sde import VPSDE  # noqa: E402
from scoresde.solvers import pc, reverse_sde, sample_keys  # noqa: E402
from scoresde.solvers._terms import ScalarDiffusionTerm  # noqa: E402

EPS = 1e-3


def make_candidates(static, shape, n_steps: int, sde: VPSDE):
    """Functions (params, key) -> samples, one per implementation."""
    batch = shape[0]
    h = (sde.T - EPS) / n_steps

    def score_of(params):
        return bu.batched(eqx.combine(params, static))

    def library(params, key):
        return reverse_sde(sde, score_of(params), key, shape, n_steps=n_steps, predictor="euler_maruyama")[0]

    def scan(params, key):
        # The bare loop: x <- x - h (f - g^2 s) - g sqrt(h) z, no noise on the last step. (The sign
        # of z only matches the library's draws: its reverse-time diffrax solve negates dW.)
        score = score_of(params)
        k_init, k_path = jr.split(key)
        x = jr.normal(jr.fold_in(k_init, 0), shape)  # the library's prior draw
        bmin, bmax = sde.beta_min, sde.beta_max

        def step(x, i):
            t = sde.T - i * h
            beta = bmin + t * (bmax - bmin)
            s = score(x, jnp.full((batch,), t))
            z = jr.normal(jr.fold_in(k_path, i), shape)
            noise = jnp.where(i == n_steps - 1, 0.0, jnp.sqrt(beta * h))
            return x + h * (0.5 * beta * x + beta * s) - noise * z, None

        x, _ = jax.lax.scan(step, x, jnp.arange(n_steps))
        return x

    def library_scan(params, key):
        # The library's own lax.scan path: pc with the Euler-Maruyama predictor and no corrector.
        return pc(sde, score_of(params), key, shape, n_steps=n_steps, predictor="euler_maruyama", corrector="none")[0]

    def library_per_sample(params, key):
        # One key per sample (sharded sampling's noise): sample j's noise from fold_in(key_j, step).
        keys = sample_keys(key, jnp.arange(batch))
        return reverse_sde(sde, score_of(params), keys, shape, n_steps=n_steps, predictor="euler_maruyama")[0]

    def diffrax_with(path_fn, adjoint=None):
        def run(params, key):
            score = score_of(params)
            k_init, k_path = jr.split(key)
            x = jr.normal(jr.fold_in(k_init, 0), shape)  # the library's prior draw

            def drift(t, y, args):
                tb = jnp.full((batch,), t)
                return sde.reverse_drift(y, tb, score(y, tb))

            terms = diffrax.MultiTerm(diffrax.ODETerm(drift), ScalarDiffusionTerm(sde.diffusion, path_fn(k_path)))
            sol = diffrax.diffeqsolve(
                terms,
                diffrax.Euler(),
                t0=sde.T,
                t1=EPS,
                dt0=-h,
                y0=x,
                saveat=diffrax.SaveAt(t1=True),
                stepsize_controller=diffrax.ConstantStepSize(),
                max_steps=n_steps,
                adjoint=diffrax.RecursiveCheckpointAdjoint() if adjoint is None else adjoint,
            )
            return sol.ys[0]

        return run

    bm_shape = jax.ShapeDtypeStruct(shape, jnp.float32)
    vbt = diffrax_with(
        lambda k: diffrax.VirtualBrownianTree(
            EPS, sde.T, tol=h / 2, shape=bm_shape, key=k, levy_area=diffrax.BrownianIncrement
        )
    )
    unsafe = diffrax_with(
        lambda k: diffrax.UnsafeBrownianPath(shape=bm_shape, key=k, levy_area=diffrax.BrownianIncrement),
        adjoint=diffrax.ForwardMode(),  # the default adjoint refuses UnsafeBrownianPath
    )
    return {
        "scan (hand-written)": scan,
        "reverse_sde (library)": library,
        "reverse_sde, one key per sample": library_per_sample,
        "pc, no corrector (library scan)": library_scan,
        "diffrax + UnsafeBrownianPath": unsafe,
        "diffrax + VirtualBrownianTree": vbt,
    }


class LinearScore(eqx.Module):
    """s(x, t) = -a x: no network, so that a solve times the loop and the noise alone."""

    a: jax.Array

    def __call__(self, x, t):
        return -self.a * x


SCAN, LIB, LIB_KEYS, LIB_SCAN, UNSAFE, VBT = list(make_candidates(None, (1, 1), 1, VPSDE()))


def run_setting(name: str, args, repeats: int, n_steps: int, *, extra: bool):
    """Time the candidates on one setting; print a table; return (reverse_sde / scan, VBT / reverse_sde)."""
    sde = VPSDE()
    if name == "overhead":
        shape = (1_000, 2)
        params, static = eqx.partition(LinearScore(jnp.ones(())), eqx.is_array)
        label = f"loop overhead: linear score s = -x (no network), {shape[0]} 2-D points"
        names = [SCAN, LIB, LIB_KEYS, LIB_SCAN, UNSAFE, VBT]
    else:
        params, static, shape, label = bu.make_setting(name, quick=args.quick, key=jr.key(args.seed))
        names = [SCAN, LIB, LIB_KEYS, LIB_SCAN, UNSAFE, VBT] if extra else [SCAN, LIB, LIB_KEYS, VBT]
    key = jr.key(args.seed + 1)
    cands = make_candidates(static, shape, n_steps, sde)
    compiled, ctimes = {}, {}
    for cname in names:
        compiled[cname], ctimes[cname] = bu.compile_timed(cands[cname], params, key)

    # one score call, jitted alone: the unit of work
    score_call = lambda p, x, t: bu.batched(eqx.combine(p, static))(x, t)  # noqa: E731
    x0 = jr.normal(jr.key(5), shape)
    t0 = jnp.full((shape[0],), 0.5)
    score_c, _ = bu.compile_timed(score_call, params, x0, t0)

    fns = {c: (lambda c=c: compiled[c](params, key)) for c in names}
    fns["one score call"] = lambda: score_c(params, x0, t0)
    once = () if name == "overhead" else (VBT,)
    outs: dict = {}
    tm = bu.interleaved_times(fns, repeats, once=once, outputs=outs)
    err = float(jnp.max(jnp.abs(outs[LIB] - outs[SCAN])))
    scale = float(jnp.max(jnp.abs(outs[SCAN])))
    t_score = tm.median("one score call")
    rows = []
    for c in names:
        run = tm.median(c)
        rows.append(
            [
                c,
                ctimes[c]["lower"],
                ctimes[c]["compile"],
                run,
                tm.median(c, "wall"),
                tm.rounds(c),
                tm.ratio(c, SCAN),
                tm.ratio(c, SCAN, "wall"),
                1e6 * run / n_steps,
                run / (n_steps * t_score),
                float(jnp.std(outs[c])),
            ]
        )
    print(f"\n### {label}; VP SDE, {n_steps} Euler-Maruyama steps\n")
    headers = ["implementation", "trace+lower (s)", "XLA compile (s)", "run cpu (s)", "run wall (s)", "rounds"]
    headers += ["/ scan (cpu)", "/ scan (wall)", "cpu us / step", "/ (NFE x score call)", "std(x)"]
    print(bu.markdown_table(headers, rows))
    print(
        f"\none jitted score call alone: {t_score * 1e3:.3f} ms cpu, "
        f"{tm.median('one score call', 'wall') * 1e3:.3f} ms wall; "
        f"max |reverse_sde - scan| with the same noise: {err:.1e} (max |x| = {scale:.3g}). Times are medians; "
        "'/ scan' is the median of per-round ratios (of medians for a candidate timed once)."
    )
    return label, tm.ratio(LIB, SCAN), tm.ratio(LIB, SCAN, "wall"), tm.median(VBT) / tm.median(LIB)


def main():
    p = bu.arg_parser(__doc__.splitlines()[0], repeats=3)
    p.add_argument("--settings", default="overhead,mlp,conv", help="comma-separated: overhead, mlp, conv, conv-nchw")
    p.add_argument("--n-steps", type=int, default=None, help="default 1000 (quick: 200)")
    p.add_argument("--extra", action="store_true", help="also time pc(corrector='none') and UnsafeBrownianPath")
    args = p.parse_args()
    repeats = bu.repeats_from(args, 3)
    n_steps = args.n_steps or (200 if args.quick else 1000)
    print(f"# P1: reverse_sde vs a bare lax.scan loop\n\n{bu.machine_line()}")
    summary = []
    for name in args.settings.split(","):
        name = name.strip()
        reps = max(repeats, 7) if name == "overhead" else repeats
        summary.append(run_setting(name, args, reps, n_steps, extra=args.extra))
    print("\n### Summary (target: reverse_sde / scan <= 1.10)\n")
    rows = [[n, r, "yes" if r <= 1.10 else "NO", w, v] for n, r, w, v in summary]
    headers = ["setting", "reverse_sde / scan (cpu)", "within 10%", "(wall)", "VirtualBrownianTree / reverse_sde"]
    print(bu.markdown_table(headers, rows))


if __name__ == "__main__":
    main()
