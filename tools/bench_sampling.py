"""Sharded sampling: 10k digits samples on 1 and 8 (simulated) devices, compile counts, snapshot timing.

projects/ncsn's `generate` (one eqx.filter_jit draw that takes the model score and the sampler as
arguments; sample i's noise from fold_in(key, i)) with configs/digits.py's DDPM++ at random weights
and its sampler (DPM-Solver++(2M), 30 steps): seconds, compilations (traces of `draw`), and the largest
difference between the 1-device and the 8-device samples by index. Then training snapshots: the old
path (the model closed over by a fresh jax.jit per snapshot, so every snapshot traces and compiles
again) against `generate` (compiled once; later snapshots only run).

    .venv/bin/python tools/bench_sampling.py [--n 10000] [--batch 1000] [--snapshots 3]

8 CPU devices are simulated on this machine's 2 cores, so 8 devices are not faster here: the
figure that matters is that the samples agree and nothing recompiles.
"""

import os
import sys
import time
from pathlib import Path

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()

import jax  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

import _bench_utils as bu  # noqa: E402

from configs import digits  # noqa: E402
from projects.ncsn import components, sampling  # noqa: E402
from scoresde import parallel  # noqa: E402
from scoresde import solvers as sv  # noqa: E402


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def old_snapshot(cfg, model, key, n):
    """The pre-sharding path: jax.jit of a closure over the model (weights as constants), traced per call."""
    process = components.build_process(cfg)
    sampler = sv.sampler_from_config(cfg.sampling, process)
    score = components.score_fn(cfg, model, process)
    shape = (n, *components.data_shape(cfg))
    run = jax.jit(lambda k: sampler.sample(process, score, shape, key=k).x)
    return np.asarray(run(key))


def main():
    p = bu.arg_parser(__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--snapshots", type=int, default=3)
    args = p.parse_args()
    cfg = digits.get_config()
    cfg.sampling.batch_size = args.batch
    model = components.build_model(cfg, jax.random.key(0))
    key = jax.random.key(1)
    print(f"# Sharded sampling: {args.n} digits samples, {cfg.sampling.method}\n\n{bu.machine_line()}\n")
    rows, outs = [], {}
    for n_dev in (1, 8):
        mesh = parallel.make_mesh(devices=jax.devices()[:n_dev])
        before = sampling.TRACES["draw"]
        (x, nfe), secs = timed(lambda mesh=mesh: sampling.generate(cfg, model, key, args.n, mesh, progress=False))
        outs[n_dev] = x
        rows.append([n_dev, args.n, args.batch, nfe, sampling.TRACES["draw"] - before, f"{secs:.1f}"])
    diff = float(np.max(np.abs(outs[1] - outs[8])))
    scale = float(np.max(np.abs(outs[1])))
    print(bu.markdown_table(["devices", "samples", "batch", "NFE", "compilations", "seconds (compile included)"], rows))
    print(f"\nmax |x_1dev - x_8dev| by index: {diff:.2e} (samples' max |x| {scale:.2f}); float32 reduction order")

    n_snap = cfg.training.snapshot_samples
    mesh = parallel.make_mesh(devices=jax.devices()[:8])
    srows = []
    for i in range(args.snapshots):
        k = jax.random.fold_in(key, i)
        _, t_old = timed(lambda k=k: old_snapshot(cfg, model, k, n_snap))
        before = sampling.TRACES["draw"]
        _, t_new = timed(lambda k=k: sampling.generate(cfg, model, k, n_snap, mesh, batch_size=64, progress=False))
        srows.append([i + 1, f"{t_old:.2f}", f"{t_new:.2f}", sampling.TRACES["draw"] - before])
    print(f"\n### Training snapshots ({n_snap} samples each, 8 devices for the sharded path)\n")
    print(bu.markdown_table(["snapshot", "closed-over jit (s)", "generate (s)", "new compilations"], srows))


if __name__ == "__main__":
    main()
