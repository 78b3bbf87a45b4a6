"""Shared helpers for the tools/bench_*.py scripts: how every benchmark here measures.

- compile time and run time apart: `compile_timed` traces, lowers and compiles once
  (timed), and the returned executable is what the timed calls run;
- A/B interleaved: `interleaved_times` runs every candidate once per round, in an order
  rotated each round, so that a noisy neighbour slows all candidates alike;
- process CPU time beside wall time (single-threaded XLA by default: CPU time is then the
  compute time, immune to the time slices other tenants of this shared machine take);
- medians, and ratios as the median of per-round (paired) ratios;
- the small equinox score networks the speed benchmarks share (an MLP for 2-D points,
  a small conv net for 16x16 images), random-initialised;
- markdown tables, a one-line description of the machine, a common argument parser.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

# Single-threaded XLA unless --multi-thread: the machine is shared (load above its 2 cores), and
# multi-threaded kernels waiting on descheduled threads made repeats far noisier. This must be
# set before jax is imported.
SINGLE_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
if "--multi-thread" not in sys.argv and "intra_op_parallelism_threads" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + SINGLE_THREAD_FLAGS).strip()
# The CPU convolution flags the mains run with (scoresde.project.CONVOLUTION_FLAGS): "ours" is measured as shipped.
_spec = importlib.util.spec_from_file_location(
    "_xla_cpu",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "libs", "scoresde", "project", "_xla_cpu.py"),
)
_xla_cpu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_xla_cpu)  # standard library only: loaded before jax is imported
_xla_cpu.use_convolution_flags()
# Tables appear as each section finishes, also when stdout is a file.
sys.stdout.reconfigure(line_buffering=True)

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jax.random as jr  # noqa: E402

# ---------------------------------------------------------------------------------------
# timing


def compile_timed(fn: Callable, *args, **jit_kwargs) -> tuple[Callable, dict[str, float]]:
    """jax.jit(fn) lowered and compiled for `args`; returns (compiled, {'lower': s, 'compile': s}).

    'lower' is tracing + lowering to StableHLO (Python side: equinox/diffrax tracing),
    'compile' is XLA's compilation. Call the returned executable with the same args.
    """
    t0 = time.perf_counter()
    lowered = jax.jit(fn, **jit_kwargs).lower(*args)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    return compiled, {"lower": t1 - t0, "compile": t2 - t1}


@dataclasses.dataclass
class Timings:
    """Per-call times of each candidate: process CPU time and wall time, one entry per round.

    CPU time is the primary measure here: with single-threaded XLA it is the compute time of the
    call, whereas wall time also counts the time slices other tenants of this shared machine
    took from us (load average above the core count made wall times vary 2x between rounds).
    """

    cpu: dict[str, list[float]]
    wall: dict[str, list[float]]

    def median(self, name: str, clock: str = "cpu") -> float:
        return statistics.median(getattr(self, clock)[name])

    def ratio(self, num: str, den: str, clock: str = "cpu") -> float:
        """Median of per-round ratios if both ran every round, else the ratio of medians."""
        a, b = getattr(self, clock)[num], getattr(self, clock)[den]
        if len(a) == len(b):
            return paired_ratio(a, b)
        return statistics.median(a) / statistics.median(b)

    def rounds(self, name: str) -> int:
        return len(self.cpu[name])


def interleaved_times(
    fns: dict[str, Callable[[], Any]],
    repeats: int,
    *,
    warmup: int = 0,
    inner: int = 1,
    once: Sequence[str] = (),
    outputs: dict | None = None,
) -> Timings:
    """Per-call CPU and wall times of each candidate, A/B/C... interleaved round by round.

    Each round runs every candidate `inner` times in a row and records the mean; the order of
    the candidates is rotated every round. `warmup` untimed rounds go first (compiled
    executables need none: the first timed call is then a normal call). Candidates named in
    `once` (slow references) are timed in the first round only. If `outputs` is a dict, it
    receives each candidate's first output.
    """
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            jax.block_until_ready(fns[name]())
    cpu: dict[str, list[float]] = {name: [] for name in names}
    wall: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            if r > 0 and name in once:
                continue
            w0, c0 = time.perf_counter(), time.process_time()
            for _ in range(inner):
                out = jax.block_until_ready(fns[name]())
            cpu[name].append((time.process_time() - c0) / inner)
            wall[name].append((time.perf_counter() - w0) / inner)
            if outputs is not None and name not in outputs:
                outputs[name] = out
    return Timings(cpu, wall)


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def paired_ratio(num: Sequence[float], den: Sequence[float]) -> float:
    """Median over rounds of num[r] / den[r] (both from the same interleaved run)."""
    return statistics.median(a / b for a, b in zip(num, den, strict=True))


def spread(xs: Sequence[float]) -> float:
    """(max - min) / median: how noisy the repeats were."""
    m = statistics.median(xs)
    return (max(xs) - min(xs)) / m if m else float("nan")


def xla_flops(compiled) -> float | None:
    """FLOPs of a compiled executable by XLA's cost analysis (None if unavailable).

    XLA counts a while/scan body once, not once per iteration.
    """
    try:
        cost = compiled.cost_analysis()
    except Exception:  # noqa: BLE001 - backends differ in what they support
        return None
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else None
    if not cost:
        return None
    return float(cost.get("flops", 0.0)) or None


def matmul_gflops(n: int = 1024, repeats: int = 5) -> float:
    """GFLOP/s of an n x n float32 matmul on this machine, now (the roofline for comparisons)."""
    a = jr.normal(jr.key(0), (n, n))
    b = jr.normal(jr.key(1), (n, n))
    f, _ = compile_timed(jnp.matmul, a, b)
    t = interleaved_times({"mm": lambda: f(a, b)}, repeats, warmup=1).median("mm")
    return 2 * n**3 / t / 1e9


# ---------------------------------------------------------------------------------------
# score networks (random init: only their cost matters here)


class MLPScore(eqx.Module):
    """Unbatched s(x, t) = MLP([x, t]) - x for x of shape (D,): `depth` hidden layers of `width`, SiLU.

    The -x (the score of N(0, I)) keeps reverse-SDE samples of a random-init net bounded, so
    that the timed loops never run on overflowing numbers.
    """

    mlp: eqx.nn.MLP

    def __init__(self, dim: int, *, width: int = 128, depth: int = 2, key):
        self.mlp = eqx.nn.MLP(dim + 1, dim, width, depth, activation=jax.nn.silu, key=key)

    def __call__(self, x, t):
        return self.mlp(jnp.concatenate([x, t[None]])) - x


def _time_embedding(t, n: int = 16):
    freqs = jnp.exp(jnp.linspace(0.0, jnp.log(1000.0), n // 2))
    return jnp.concatenate([jnp.sin(t * freqs), jnp.cos(t * freqs)])


class ConvNHWC(eqx.Module):
    """A 3x3 'SAME' convolution on one channels-last image (H, W, C)."""

    weight: jax.Array  # (3, 3, C_in, C_out)
    bias: jax.Array

    def __init__(self, c_in: int, c_out: int, *, key):
        self.weight = jr.normal(key, (3, 3, c_in, c_out)) / jnp.sqrt(9.0 * c_in)
        self.bias = jnp.zeros((c_out,))

    def __call__(self, x):
        dn = ("NHWC", "HWIO", "NHWC")
        return jax.lax.conv_general_dilated(x[None], self.weight, (1, 1), "SAME", dimension_numbers=dn)[0] + self.bias


class ConvScore(eqx.Module):
    """Unbatched s(x, t) = net(x, t) - x for an image x: 4 3x3 convs (32 channels), SiLU,
    a sinusoidal time embedding added per channel after the first conv.

    layout='nhwc': channels-last images (H, W, C) and our own conv (the default: XLA:CPU runs
    it at full speed inside loops). layout='nchw': (C, H, W) images and eqx.nn.Conv2d, which
    XLA:CPU runs ~10x slower inside a lax.scan/while body than outside one (see the P1 notes).
    """

    convs: tuple
    temb: eqx.nn.Linear
    layout: str = eqx.field(static=True)

    def __init__(self, channels: int = 3, *, hidden: int = 32, layout: str = "nhwc", key):
        k = jr.split(key, 5)
        sizes = [channels, hidden, hidden, hidden, channels]
        if layout == "nhwc":
            make = lambda a, b, kk: ConvNHWC(a, b, key=kk)  # noqa: E731
        else:
            make = lambda a, b, kk: eqx.nn.Conv2d(a, b, 3, padding=1, key=kk)  # noqa: E731
        self.convs = tuple(make(a, b, kk) for a, b, kk in zip(sizes[:-1], sizes[1:], k[:4], strict=True))
        self.temb = eqx.nn.Linear(16, hidden, key=k[4])
        self.layout = layout

    def __call__(self, x, t):
        emb = jax.nn.silu(self.temb(_time_embedding(t)))
        emb = emb if self.layout == "nhwc" else emb[:, None, None]
        h = jax.nn.silu(self.convs[0](x)) + emb
        for conv in self.convs[1:-1]:
            h = jax.nn.silu(conv(h))
        return self.convs[-1](h) - x


def batched(net) -> Callable:
    """The batched score-function contract score_fn(x (B, ...), t (B,)) for an unbatched net."""
    return jax.vmap(net)


SETTINGS = ("mlp", "conv", "conv-nchw")


def make_setting(name: str, *, quick: bool, key=None):
    """(params, static, shape, label) of a speed-benchmark setting: 'mlp', 'conv' or 'conv-nchw'.

    params are the network's arrays (pass them to the jitted function as arguments, so that
    XLA does not constant-fold them); rebuild the net with eqx.combine(params, static).
    """
    key = jr.key(0) if key is None else key
    if name == "mlp":
        n = 1_000 if quick else 10_000
        net = MLPScore(2, key=key)
        shape = (n, 2)
        label = f"MLP on 2-D points (3 linear layers: [x,t] -> 128 -> 128 -> 2, SiLU), batch {n}"
    elif name in ("conv", "conv-nchw"):
        b = 16 if quick else 64
        layout = "nhwc" if name == "conv" else "nchw"
        net = ConvScore(3, layout=layout, key=key)
        shape = (b, 16, 16, 3) if layout == "nhwc" else (b, 3, 16, 16)
        label = f"conv net ({layout.upper()}, 4 x 3x3 conv, 32 ch) on 16x16x3 images, batch {b}"
    else:
        raise ValueError(f"setting {name!r} is not one of {SETTINGS}")
    params, static = eqx.partition(net, eqx.is_array)
    return params, static, shape, label


# ---------------------------------------------------------------------------------------
# output


def fmt(x: float, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, int):
        return str(x)
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.{digits}g}" if abs(x) < 1 else f"{x:.{max(digits, 1)}g}"
    return f"{x:.2e}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[c if isinstance(c, str) else fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    sep = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


def machine_line() -> str:
    threads = "single-threaded XLA" if SINGLE_THREAD_FLAGS in os.environ.get("XLA_FLAGS", "") else "XLA default threads"
    if all(f in os.environ.get("XLA_FLAGS", "") for f in _xla_cpu.CONVOLUTION_FLAGS):
        threads += ", XNNPACK convolutions"
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    dev = jax.devices()[0]
    return (
        f"jax {jax.__version__}, {dev.platform} ({dev.device_kind}), {os.cpu_count()} cpu cores, "
        f"{threads}, python {platform.python_version()}, load average {load}"
    )


def arg_parser(description: str, *, repeats: int = 5) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats (a smoke run)")
    p.add_argument("--repeats", type=int, default=None, help=f"timed rounds per candidate (default {repeats}, quick 3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--multi-thread", action="store_true", help="let XLA use all cores (default: one thread, less noisy here)"
    )
    return p


def repeats_from(args, default: int) -> int:
    if args.repeats is not None:
        return args.repeats
    return 3 if args.quick else default
