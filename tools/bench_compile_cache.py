"""Issue 13: what the project kit's persistent compilation cache saves, each case cold then from the cache,
in separate processes sharing one fresh cache folder.

    python tools/bench_compile_cache.py            # P4's DDPM++ train step; the digits demo: train, resume, sample
    python tools/bench_compile_cache.py --quick    # nf 32, 1 res block step; digits only 20 steps

1. P4's DDPM++ train step (bench_backbones, batch 32, single-threaded XLA): lower and compile seconds,
   with the cache on as the kit sets it (`scoresde.project.enable_compilation_cache`).
2. The digits demo through projects/ncsn/main.py: a short train (cold), the same run resumed for more steps
   ("compiled train step in X s" from its log), and --mode=sample twice (process wall seconds); the sample
   also once with SCORESDE_CACHE=off.
3. What a cache hit pays for: the loss and gradient alone against the whole train step (state donated; + Adam,
   the EMA and the finite-update guard's branch) with the state in either layout of `train.init_state`: one
   array per parameter leaf (a set of update ops per leaf) or flat vectors (as shipped: one pass per vector).
   Each with its number of top-level instructions in the compiled program (most run as one thunk of XLA:CPU's
   runtime each) and the time `deserialize_executable` takes to load it (the cache hit's XLA part: it rebuilds
   the thunks' dependency graph; best of two loads).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAIN = os.path.join(ROOT, "projects", "ncsn", "main.py")
DIGITS = os.path.join(ROOT, "configs", "digits.py")


def child_step(quick: bool) -> None:
    """One process: the kit's cache on, P4's train step lowered and compiled; prints the seconds as JSON."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_backbones as bb  # imports _bench_utils first: single-threaded XLA as in P4

    from scoresde import project

    where = project.enable_compilation_cache()
    _, times, *_ = bb.step_for(bb.unet_config(quick), 8 if quick else 32)
    print(json.dumps(dict(times, cache=where)))


def child_parts(quick: bool) -> None:
    """One process, no cache: instructions, compile and deserialize seconds of two programs, as table rows."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _bench_utils as bu
    import bench_backbones as bb
    import equinox as eqx
    import jax
    from jax._src.lib import xla_client as xc

    from scoresde import nets

    cfg, batch = bb.unet_config(quick), 8 if quick else 32
    params, static = eqx.partition(nets.build(cfg, jax.random.key(0)), eqx.is_inexact_array)
    x = {"x": jax.random.normal(jax.random.key(2), (batch, 3, 32, 32))}

    def loss_and_grad(params, b, key):
        return jax.value_and_grad(lambda p: bb.dsm_loss(eqx.combine(p, static), b, key))(params)

    grad, grad_times = bu.compile_timed(loss_and_grad, params, x, jax.random.key(3))
    per_leaf, per_leaf_times, *_ = bb.step_for(cfg, batch, flat=False)  # the train step, state donated
    flat, flat_times, *_ = bb.step_for(cfg, batch, flat=True)  # as shipped: FlatParams
    client, devices = jax.devices()[0].client, xc.DeviceList(tuple(jax.devices()[:1]))
    print(f"parameter leaves: {len(jax.tree.leaves(params))}")
    rows = (
        ("loss and gradient", grad, grad_times),
        ("train step, one array per leaf", per_leaf, per_leaf_times),
        ("train step, flat vectors (shipped)", flat, flat_times),
    )
    for name, compiled, times in rows:
        entry = compiled.as_text().split("ENTRY", 1)[1]
        n = sum(" = " in line for line in entry.splitlines())
        blob = client.serialize_executable(compiled.runtime_executable())
        loads = []
        for _ in range(2):
            t0 = time.perf_counter()
            client.deserialize_executable(blob, devices, xc.CompileOptions())
            loads.append(time.perf_counter() - t0)
        print(f"| {name} | {n} | {times['lower'] + times['compile']:.1f} | {min(loads):.2f} |")


def run_step(cache: str, quick: bool) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child-step"] + (["--quick"] if quick else [])
    out = subprocess.run(cmd, env=dict(os.environ, SCORESDE_CACHE=cache), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_main(cache: str, workdir: str, *args: str) -> tuple[float, str]:
    """(wall seconds, stderr) of one projects/ncsn/main.py process."""
    cmd = [sys.executable, MAIN, f"--config={DIGITS}", f"--workdir={workdir}", *args]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=dict(os.environ, SCORESDE_CACHE=cache), capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if out.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed: {out.stderr.strip().splitlines()[-1]}")
    return wall, out.stderr


def compiled_step_secs(stderr: str) -> str:
    m = re.findall(r"compiled train step in ([0-9.]+) ?s", stderr)
    return m[-1] if m else "?"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--child-step", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--child-parts", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child_step:
        return child_step(args.quick)
    if args.child_parts:
        return child_parts(args.quick)
    print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cpu cores\n")
    with tempfile.TemporaryDirectory() as tmp:
        cache = os.path.join(tmp, "cache")
        rows = []
        for label in ("cold", "from the cache"):
            t = run_step(cache, args.quick)
            rows.append(f"| {label} | {t['lower']:.1f} | {t['compile']:.1f} |")
        size = "nf 32, ch_mult (1,2,2), 1 res block, batch 8" if args.quick else "nf 64, ch_mult (1,2,2), batch 32"
        print(f"P4 DDPM++ train step ({size}), separate processes:\n")
        print("| run | lower (s) | compile (s) |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n")

        cache = os.path.join(tmp, "cache_digits")
        work = os.path.join(tmp, "digits")
        n1, n2 = (20, 40) if args.quick else (100, 200)
        cadence = [f"--config.training.{k}={n1}" for k in ("log_every", "checkpoint_every", "eval_every")]
        cadence.append("--config.training.snapshot_every=100000")
        rows = []
        wall, err = run_main(cache, work, f"--config.training.n_steps={n1}", *cadence)
        rows.append(f"| train {n1} steps (cold) | {wall:.1f} | {compiled_step_secs(err)} |")
        wall, err = run_main(cache, work, f"--config.training.n_steps={n2}", *cadence)
        rows.append(f"| resume to {n2} steps (cached) | {wall:.1f} | {compiled_step_secs(err)} |")
        for label, c in (("sample, cache off", "off"), ("sample (cold)", cache), ("sample (cached)", cache)):
            wall, _ = run_main(c, work, "--mode=sample")
            rows.append(f"| {label} | {wall:.1f} | |")
        print("digits demo (configs/digits.py) through projects/ncsn/main.py:\n")
        print("| run | process wall (s) | compiled train step in (s) |\n| --- | --- | --- |\n" + "\n".join(rows))
    cmd = [sys.executable, os.path.abspath(__file__), "--child-parts"] + (["--quick"] if args.quick else [])
    out = subprocess.run(cmd, env=dict(os.environ, SCORESDE_CACHE="off"), capture_output=True, text=True, check=True)
    print("\nWhat a cache hit loads (same step, one process, cache off):\n")
    lines = out.stdout.strip().splitlines()
    print(lines[0] + "\n\n| program | top-level HLO instructions | lower + compile (s) | deserialize (s) |")
    print("| --- | --- | --- | --- |\n" + "\n".join(lines[1:]))


if __name__ == "__main__":
    main()
