"""P4: our DDPM++ U-Net DSM train step against diffusers' UNet2DModel step, side by side; DiT-S/4 beside a matmul.

    python tools/bench_backbones.py                 # batch 32 and 8, 5 rounds, one thread each side
    python tools/bench_backbones.py --multi-thread  # XLA's default threads (2 cores) and torch at 2 threads
    python tools/bench_backbones.py --quick         # nf 32, 1 res block, batch 8 and 4, 2 rounds (a smoke run)
    python tools/bench_backbones.py --torch-python /path/to/venv/bin/python   # default /tmp/ref/bin/python

The U-Net is that of tools/profile_step.py's sizes(): nf 64, ch_mult (1,2,2,2), 2 res blocks, attention at
16x16, 32x32x3. Ours: one jitted DSM train step (VP SDE, eps loss, Adam, EMA; bench_backbones.step_for), its
compile time (lower + compile) and XLA's cost-analysis FLOPs of the compiled step (all ops, elementwise included).
Diffusers': UNet2DModel with the same widths, levels and attention resolution, the same loss, torch Adam and a
foreach-lerp EMA (profile_step.diffusers_train_step), its FLOPs counted over one step by torch's FlopCounterMode
(matmuls, convolutions and attention only, forward and backward). It runs in a persistent worker process: the
torch venv's python running this file with a hidden --torch-worker flag, which builds the model and optimizer
once per batch size, warms up, then answers one-line commands on stdin ("step 32": one train step; "peak 32":
one 1x1 convolution) with one JSON line of its own wall and CPU seconds.

Per batch size, each round runs once, in an order rotated every round: our step, diffusers' step, and three
GEMM peaks of the same [B, 256, 32, 32] x 256x256 1x1 convolution (B = the largest batch): torch's conv2d
(oneDNN, NCHW: the "oneDNN-class peak"), XLA's conv (NHWC, as our conv layers) and XLA's [B*32*32, 256] x
[256, 256] dot. Noise on this shared machine then hits every candidate alike. Reported: medians of wall time
over the rounds, the images/s ratio ours / diffusers as the median of per-round ratios (goal >= 1.0; also on
CPU time), and each step's MFU = its FLOPs / its step time / the oneDNN peak (ours also against XLA's conv
peak). Same threads for both sides: one by default (XLA flags set by _bench_utils, torch.set_num_threads(1));
--multi-thread gives both 2.

The torch half needs another venv (torch is not a project dependency); when --torch-python is absent or cannot
import torch and diffusers, the tool prints how to make it and measures our half only, saying so.

Then, as before, DiT-S/4 (12 blocks; --quick: DiT-S/8, 4 blocks): compile time, one train step timed interleaved
with a 1024^3 float32 matmul, images/s, XLA's FLOPs and the FLOP rate over the matmul's (an MFU). XLA counts a
scan body once, so DiT's FLOPs come from unrolled depth-1 and depth-2 builds.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import profile_step as ps  # noqa: E402  (standard library only at import: usable from the torch venv)

PEAK_CHANNELS, PEAK_SIZE = 256, 32


def peak_flops(batch: int) -> int:
    """FLOPs of the peak's 1x1 convolution: a [batch*32*32, 256] x [256, 256] GEMM."""
    return 2 * batch * PEAK_SIZE * PEAK_SIZE * PEAK_CHANNELS * PEAK_CHANNELS


# ---------------------------------------------------------------------------------------
# diffusers: the worker, in the torch venv (no jax there)


def torch_worker(spec: dict) -> None:
    """Answers 'build B', 'step B', 'peak B', 'quit' on stdin with one JSON line each on stdout."""
    import diffusers
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    replies, sys.stdout = sys.stdout, sys.stderr  # library prints must not break the protocol
    torch.set_num_threads(spec["threads"])

    def reply(**kw):
        replies.write(json.dumps(kw) + "\n")
        replies.flush()

    def timed(fn):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        return dict(wall=time.perf_counter() - w0, cpu=time.process_time() - c0, out=out)

    steps, peaks = {}, {}
    reply(torch=torch.__version__, diffusers=diffusers.__version__, threads=torch.get_num_threads())
    for line in sys.stdin:
        cmd, *args = line.split() or ["?"]
        if cmd == "quit":
            break
        try:
            b = int(args[0])
            if cmd == "build":
                torch.manual_seed(0)
                net = ps.diffusers_unet(spec)
                step = ps.diffusers_train_step(net, torch.randn(b, 3, 32, 32))
                step()
                with FlopCounterMode(display=False) as counter:
                    step()
                step()
                steps[b] = step
                reply(params=sum(p.numel() for p in net.parameters()), flops=counter.get_total_flops())
            elif cmd == "step":
                reply(**timed(lambda step=steps[b]: step().item()))
            elif cmd == "peak":
                if b not in peaks:
                    x = torch.randn(b, PEAK_CHANNELS, PEAK_SIZE, PEAK_SIZE)
                    w = torch.randn(PEAK_CHANNELS, PEAK_CHANNELS, 1, 1) / PEAK_CHANNELS**0.5
                    peaks[b] = lambda x=x, w=w: float(torch.nn.functional.conv2d(x, w)[0, 0, 0, 0])
                    with torch.no_grad():
                        peaks[b]()
                with torch.no_grad():
                    reply(**timed(peaks[b]), flops=peak_flops(b))
            else:
                reply(error=f"unknown command {line.strip()!r}")
        except Exception as e:  # noqa: BLE001 - reported to the main process, which raises
            reply(error=f"{type(e).__name__}: {e}")


if __name__ == "__main__" and sys.argv[1:2] == ["--torch-worker"]:
    torch_worker(json.loads(sys.argv[2]))
    sys.exit(0)

import _bench_utils as bu  # noqa: E402  (sets XLA flags before jax is imported)
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
from ml_collections import ConfigDict  # noqa: E402

from scoresde import nets, objectives, train  # noqa: E402
from scoresde import sde as sdes  # noqa: E402


def unet_config(quick: bool) -> ConfigDict:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from configs.models import ddpmpp_cifar

    c = ddpmpp_cifar.get_config()
    c.image_size = 32
    c.nf = 32 if quick else 64
    c.ch_mult = (1, 2, 2)
    c.num_res_blocks = 1 if quick else 2
    c.dropout = 0.0
    return c


def dit_config(quick: bool) -> ConfigDict:
    return ConfigDict(
        dict(
            name="dit",
            image_size=32,
            num_channels=3,
            preset="S",
            patch_size=8 if quick else 4,
            depth=4 if quick else 12,
        )
    )


def dsm_loss(model, batch, key):
    """P4's loss: VP SDE, eps parameterisation, DSM on batch['x']."""
    sde = sdes.VPSDE()
    fn = nets.score_fn_from_net(model, sde, parameterization="eps", conditioning="t999")
    return objectives.dsm_loss(sde, fn, batch["x"], key)


def step_for(cfg: ConfigDict, batch: int, *, flat: bool = True):
    """(compiled step, compile times, state, batch, parameter count); `flat`: the state's layout (train.init_state)."""
    model = nets.build(cfg, jax.random.key(0))
    opt = optax.adam(1e-4)
    state, static = train.init_state(model, opt, jax.random.key(1), flat=flat)
    step = train.make_train_step(dsm_loss, opt, static, ema_rate=0.999)
    x = {"x": jax.random.normal(jax.random.key(2), (batch, 3, 32, 32))}
    compiled, times = bu.compile_timed(step, state, x, donate_argnums=0)
    return compiled, times, state, x, nets.count_params(state.params)


def measure(name: str, cfg: ConfigDict, batch: int, repeats: int) -> list[str]:
    compiled, ctimes, state, x, n_params = step_for(cfg, batch)
    holder = {"state": state}

    def run_step():
        holder["state"], m = compiled(holder["state"], x)
        return m["loss"]

    a = jax.random.normal(jax.random.key(0), (1024, 1024))
    mm, _ = bu.compile_timed(jnp.matmul, a, a)
    t = bu.interleaved_times({"step": run_step, "matmul": lambda: mm(a, a)}, repeats, warmup=1)
    flops = bu.xla_flops(compiled)
    if cfg.name == "dit" and flops:
        # XLA counts a scan body once: rebuild the count from fully unrolled (unroll = depth) depth-1 and depth-2 steps
        f1, f2 = (bu.xla_flops(step_for(ConfigDict(dict(cfg, depth=d, unroll=d)), batch)[0]) for d in (1, 2))
        flops = f1 + (cfg.depth - 1) * (f2 - f1)
    step_s = t.median("step", "wall")
    mm_rate = 2 * 1024**3 / t.median("matmul", "wall")
    rate = flops / step_s if flops else None
    return [
        f"{name} ({n_params / 1e6:.2f} M params)", f"{ctimes['lower'] + ctimes['compile']:.1f}",
        f"{step_s * 1e3:.0f}", f"{batch / step_s:.1f}", f"{flops / 1e9:.2f}" if flops else "n/a",
        f"{rate / 1e9:.1f}" if rate else "n/a", f"{mm_rate / 1e9:.1f}", f"{rate / mm_rate:.2f}" if rate else "n/a",
    ]  # fmt: skip


class TorchWorker:
    """The diffusers half as a persistent subprocess of the torch venv's python (see torch_worker)."""

    def __init__(self, python: str, z: dict, threads: int):
        self.stderr = tempfile.TemporaryFile(mode="w+")
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        cmd = [python, os.path.abspath(__file__), "--torch-worker", json.dumps(dict(z, threads=threads))]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=env
        )
        self.info = self._read()

    def ask(self, line: str) -> dict:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.stderr.seek(0)
            tail = self.stderr.read().strip().splitlines()[-5:]
            raise RuntimeError("torch worker exited:\n" + "\n".join(tail))
        out = json.loads(line)
        if "error" in out:
            raise RuntimeError(f"torch worker: {out['error']}")
        return out

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


def self_timed_rounds(fns: dict, repeats: int, warmup: int = 1) -> bu.Timings:
    """Like bu.interleaved_times, for candidates that time themselves (a call returns (wall s, CPU s)), such
    as a step run by another process: each round runs every candidate once, the order rotated every round."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    cpu = {name: [] for name in names}
    wall = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            w, c = fns[name]()
            wall[name].append(w)
            cpu[name].append(c)
    return bu.Timings(cpu, wall)


def local(fn):
    """A candidate for self_timed_rounds from a function of this process."""

    def run():
        w0, c0 = time.perf_counter(), time.process_time()
        jax.block_until_ready(fn())
        return time.perf_counter() - w0, time.process_time() - c0

    return run


def remote(worker: TorchWorker, line: str):
    """A candidate for self_timed_rounds run by the torch worker, timed there."""

    def run():
        r = worker.ask(line)
        return r["wall"], r["cpu"]

    return run


def xla_peaks(batch: int) -> dict:
    """XLA's own 1x1 convolution (channels-last, the dimension numbers of our conv layers) and the same GEMM as
    a dot, compiled."""
    c, s = PEAK_CHANNELS, PEAK_SIZE
    dims = ("NHWC", "OIHW", "NHWC")
    x = jax.random.normal(jax.random.key(0), (batch, s, s, c))
    w = jax.random.normal(jax.random.key(1), (c, c, 1, 1)) / c**0.5
    conv, _ = bu.compile_timed(
        lambda x, w: jax.lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=dims), x, w
    )
    a = jax.random.normal(jax.random.key(2), (batch * s * s, c))
    w2 = w[:, :, 0, 0]
    dot, _ = bu.compile_timed(jnp.matmul, a, w2)
    return {"peak xla conv": lambda: conv(x, w), "peak xla dot": lambda: dot(a, w2)}


def versus_diffusers(z: dict, batches: tuple[int, ...], repeats: int, torch_python: str, threads: int) -> str:
    """The P4 tables: our U-Net step against diffusers' at each batch size, interleaved with the GEMM peaks."""
    cfg = ps.ours_config(z)
    problem = ps.torch_unavailable(torch_python)
    worker = None if problem else TorchWorker(torch_python, z, threads)
    peak_batch = max(batches)
    try:
        ours, theirs, times = {}, {}, {}
        for b in batches:
            compiled, ctimes, state, x, n_params = step_for(cfg, b)
            ours[b] = dict(compiled=compiled, state=state, x=x, params=n_params, flops=bu.xla_flops(compiled),
                           compile_s=ctimes["lower"] + ctimes["compile"])  # fmt: skip
            if worker:
                theirs[b] = worker.ask(f"build {b}")
        peaks = {name: local(fn) for name, fn in xla_peaks(peak_batch).items()}
        if worker:
            peaks["peak torch conv"] = remote(worker, f"peak {peak_batch}")
        for b in batches:
            o = ours[b]

            def run_ours(o=o):
                o["state"], m = o["compiled"](o["state"], o["x"])
                return m["loss"]

            fns = {"ours": local(run_ours)}
            if worker:
                fns["diffusers"] = remote(worker, f"step {b}")
            times[b] = self_timed_rounds(fns | peaks, repeats)
    finally:
        if worker:
            worker.close()
    peak_wall = {name: [w for b in batches for w in times[b].wall[name]] for name in peaks}
    rate = {name: peak_flops(peak_batch) / bu.median(ws) for name, ws in peak_wall.items()}
    onednn = rate.get("peak torch conv")
    rows = []
    for b in batches:
        t, o = times[b], ours[b]
        ms = t.median("ours", "wall")
        mfu = lambda flops, s, peak: f"{flops / s / peak:.2f}" if flops and peak else "n/a"
        row = [b, f"{ms * 1e3:.0f}", f"{b / ms:.1f}"]
        if worker:
            ts = t.median("diffusers", "wall")
            row += [f"{ts * 1e3:.0f}", f"{b / ts:.1f}", f"{bu.paired_ratio(t.wall['diffusers'], t.wall['ours']):.2f}",
                    f"{bu.paired_ratio(t.cpu['diffusers'], t.cpu['ours']):.2f}"]  # fmt: skip
        row += [mfu(o["flops"], ms, onednn), mfu(o["flops"], ms, rate["peak xla conv"])]
        if worker:
            row.append(mfu(theirs[b]["flops"], ts, onednn))
        row += [f"{o['compile_s']:.1f}", f"{o['flops'] / 1e9:.2f}" if o["flops"] else "n/a"]
        if worker:
            row.append(f"{theirs[b]['flops'] / 1e9:.2f}")
        rows.append(row)
    headers = ["batch", "ours ms/step", "ours images/s"]
    if worker:
        headers += ["diffusers ms/step", "diffusers images/s", "ratio ours/diffusers images/s", "ratio (CPU time)"]
    headers += ["ours MFU", "ours MFU (XLA conv peak)"] + (["diffusers MFU"] if worker else [])
    headers += ["ours compile (s)", "ours GFLOP/step (XLA)"] + (
        ["diffusers GFLOP/step (FlopCounterMode)"] * bool(worker)
    )
    r = z["attn_resolution"]
    size = f"nf {z['nf']}, ch_mult {z['ch_mult']}, {z['num_res_blocks']} res blocks, attention at {r}x{r}, 32x32x3"
    b0 = batches[0]
    out = [f"## P4: DDPM++ U-Net DSM train step, ours vs diffusers' UNet2DModel ({size})", ""]
    if problem:
        out.append(problem + " (our half only; no oneDNN peak, so ours MFU is against XLA's conv peak only)")
    if worker:
        i = worker.info
        out.append(f"torch {i['torch']}, diffusers {i['diffusers']}, torch {i['threads']} thread(s) in a persistent "
                   f"worker ({torch_python})")  # fmt: skip
    out.append(f"{repeats} interleaved rounds per batch (order rotated), medians of wall time; ratios: medians of "
               f"per-round ratios; params: ours {ours[b0]['params'] / 1e6:.2f} M"
               + (f", diffusers {theirs[b0]['params'] / 1e6:.2f} M" if worker else ""))  # fmt: skip
    out += ["", bu.markdown_table(headers, rows), ""]
    what = f"[{peak_batch}, {PEAK_CHANNELS}, {PEAK_SIZE}, {PEAK_SIZE}] x {PEAK_CHANNELS}x{PEAK_CHANNELS}x1x1"
    names = {
        "peak torch conv": f"torch conv2d {what} (oneDNN): the MFU peak",
        "peak xla conv": f"XLA conv {what} (NHWC, as our conv layers)",
        "peak xla dot": f"XLA dot [{peak_batch * PEAK_SIZE**2}, {PEAK_CHANNELS}] x [{PEAK_CHANNELS}, {PEAK_CHANNELS}]",
    }
    prow = [[names[n], f"{rate[n] / 1e9:.1f}", f"{bu.spread(peak_wall[n]):.2f}"] for n in names if n in rate]
    out += [bu.markdown_table(["GEMM peak, same run", "GFLOP/s (median)", "spread"], prow), ""]
    out.append("MFU = the step's FLOPs / its median step time / the peak. Ours: XLA's cost analysis of the compiled "
               "step (all ops, elementwise included); diffusers': torch FlopCounterMode over one step (matmuls, "
               "convolutions, attention).")  # fmt: skip
    if worker:
        goal = ", ".join(f"batch {row[0]}: {'met' if float(row[5]) >= 1.0 else 'not met'}" for row in rows)
        out.append(f"Goal ours/diffusers images/s >= 1.0: {goal}.")
    return "\n".join(out)


def main():
    p = bu.arg_parser(__doc__.splitlines()[0])
    p.add_argument(
        "--torch-python",
        default=os.environ.get("SCORESDE_TORCH_PYTHON", "/tmp/ref/bin/python"),
        help="python of a venv with torch and diffusers (the diffusers half)",
    )
    next(a for a in p._actions if a.dest == "repeats").help = "timed rounds per candidate (default 5, quick 2)"
    args = p.parse_args()
    repeats = args.repeats or (2 if args.quick else 5)
    batches = (8, 4) if args.quick else (32, 8)
    print(bu.machine_line(), "\n")
    z = ps.sizes(args.quick)
    print(versus_diffusers(z, batches, repeats, args.torch_python, 2 if args.multi_thread else 1), "\n")
    batch = batches[0]
    rows = [measure(f"DiT-S/{8 if args.quick else 4}", dit_config(args.quick), batch, repeats)]
    print(
        f"## DiT against a 1024^3 matmul: batch {batch}, 32x32x3, {repeats} interleaved rounds, medians of wall time\n"
    )
    headers = ["backbone", "compile (s)", "ms/step", "images/s", "GFLOP/step", "GFLOP/s", "matmul GFLOP/s", "MFU"]
    print(bu.markdown_table(headers, rows))


if __name__ == "__main__":
    main()
