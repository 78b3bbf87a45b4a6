"""Seconds and memory of `--mode=sample` on a run folder, compile and sampling apart (import benchmark).

    .venv/bin/python tools/reference/time_full_sample.py --workdir=/tmp/full/deep --config=configs/cifar.py \
        --config.model.num_res_blocks=8 --config.sampling.method=dpm_solver --config.sampling.dpm_solver.n_steps=20 \
        --config.sampling.n_samples=64 --config.sampling.batch_size=64 [--runs=2]

Runs in the project's environment (no torch). The command line is projects/ncsn/main.py's (its PROJECT
through scoresde.project.main: --config or the run's saved config.json, the overrides, the run-record
check; --mode is sample), and the run does what main.py --mode=sample does (checks.validate,
project.begin, state.restore_ema_model, sampling.generate with sampling_mode's labels and guidance:
the same jitted draw, indices and keys) `--runs` times in one process, so run 1 holds the trace and
the XLA compile and later runs only the sampling. The compile seconds are JAX's own monitoring events
(jaxpr trace, lowering to MLIR, backend compile), summed per run. Samples are not written; each run's
are checked finite and equal to run 1's. A benchmark helper only (not a test).
"""

import time

T_START = time.perf_counter()

import collections  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from absl import flags  # noqa: E402

from projects.ncsn.main import PROJECT  # noqa: E402
from scoresde import project  # noqa: E402

_RUNS = flags.DEFINE_integer("runs", 2, "how many times to draw the samples in this process (>= 1)")

EVENTS = {
    "/jax/core/compile/jaxpr_trace_duration": "trace",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
    "/jax/core/compile/backend_compile_duration": "compile",
}
SECONDS = collections.Counter()  # monitoring seconds per EVENTS kind, since the last clear


def _listen(event: str, duration: float, **kwargs) -> None:
    if event in EVENTS:
        SECONDS[EVENTS[event]] += duration


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run(r: project.Run) -> None:
    import jax
    import numpy as np

    from projects.ncsn import checks, sampling, state

    if r.mode != "sample":
        raise ValueError(f"--mode={r.mode} is not timed here: this helper times --mode=sample")
    if _RUNS.value < 1:
        raise ValueError(f"--runs={_RUNS.value} must be at least 1")
    cfg = r.cfg
    if sampling.task(cfg) == "inpaint":
        raise ValueError("sampling.task='inpaint' is not timed here (unconditional and conditional are)")
    jax.monitoring.register_event_duration_secs_listener(_listen)
    mesh = checks.validate(cfg, r.workdir, r.mode)
    project.begin(r)
    t1 = time.perf_counter()
    SECONDS.clear()
    model, step = state.restore_ema_model(cfg, r.workdir, mesh)
    jax.block_until_ready(model)
    t2 = time.perf_counter()
    print(f"jax {jax.__version__}, {jax.device_count()} x {jax.devices()[0].platform}; start-up, config and checks "
          f"{t1 - T_START:.1f} s; restore checkpoint {step}: {t2 - t1:.1f} s (of which JAX compile "
          f"{sum(SECONDS.values()):.1f} s); peak RSS {_peak_rss_mib():.0f} MiB", flush=True)  # fmt: skip
    n = cfg.sampling.n_samples
    conditional = sampling.task(cfg) == "conditional"  # as sampling_mode._sample
    labels = sampling.task_labels(cfg, n) if conditional else None
    w = sampling.guidance_weight(cfg)
    first = None
    for i in range(_RUNS.value):
        SECONDS.clear()
        traces = sampling.TRACES["draw"]
        t3 = time.perf_counter()
        key = jax.random.key(cfg.sampling.seed)
        x, nfe = sampling.generate(cfg, model, key, n, mesh, labels=labels, guidance_w=w, progress=False)
        wall = time.perf_counter() - t3
        if not np.isfinite(x).all():
            raise ValueError(f"run {i + 1} drew non-finite samples")
        first = x if first is None else first
        same = "" if i == 0 else f"; max |run {i + 1} - run 1| = {np.abs(x - first).max():.2g}"
        jit = " + ".join(f"{k} {SECONDS[k]:.1f}" for k in ("trace", "lower", "compile"))
        print(f"run {i + 1}: {n} samples at NFE {nfe} ({cfg.sampling.method}, batch {cfg.sampling.batch_size}): "
              f"{wall:.1f} s wall, of which JAX {jit} s ({sampling.TRACES['draw'] - traces} trace(s) of draw); "
              f"samples in [{x.min():.3g}, {x.max():.3g}]{same}; peak RSS {_peak_rss_mib():.0f} MiB",
              flush=True)  # fmt: skip


def main() -> None:
    argv = list(sys.argv)
    if not any(a == "--mode" or a.startswith("--mode=") for a in argv[1:]):
        argv.append("--mode=sample")
    project.main(PROJECT, run, argv)


if __name__ == "__main__":
    main()
