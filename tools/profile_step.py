"""Issue 13 profile: where one DSM train step's time goes, op by op, ours (XLA) beside diffusers' (torch).

    python tools/profile_step.py                 # DDPM++ nf 64, ch_mult (1,2,2,2), 2 res blocks, attention at 16x16
    python tools/profile_step.py --quick         # nf 32, 1 res block, batch 8 (a smoke run)
    python tools/profile_step.py --multi-thread  # XLA's default threads and torch at 2 threads

Ours: the bench_backbones step (VP DSM, Adam, EMA), traced with jax.profiler; every XLA thunk's self time is
put in a category by its HLO instruction (a convolution inside it; else the Python functions on its stack frames,
innermost first; else dots, pure data movement or the rest). Diffusers': `UNet2DModel` with the same widths,
levels and attention resolution, the same loss, torch Adam and a foreach-lerp EMA, under torch.profiler
(record_shapes); an op's self time goes to the category of its scope (attention / resampling modules,
group_norm, convolution), a backward op to that of its forward op (autograd sequence number). Ops outside the
loss (optimizer, EMA, gradient norm, the non-finite guard) are "optimizer + EMA update" on both sides.

The torch half runs in another venv (never this one): --torch-python (default /tmp/ref/bin/python) with torch
and diffusers; it is skipped with a message saying how to make it when that interpreter or diffusers is absent.
Single-threaded XLA and torch by default (less noise on this shared machine).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

CATEGORIES = (
    "convolutions (fwd)",
    "convolutions (bwd)",
    "layout: transposes, copies, concat",
    "GroupNorm",
    "attention",
    "resampling",
    "dense layers (matmul)",
    "elementwise / other fusions",
    "optimizer + EMA update",
)
CONV_FWD, CONV_BWD, LAYOUT, NORM, ATTN, RESAMPLE, DENSE, OTHER, OPTIM = CATEGORIES
TORCH_HELP = "python3 -m venv /tmp/ref && /tmp/ref/bin/pip install 'torch==2.13.*' diffusers"


# ---------------------------------------------------------------------------------------
# shared


def sizes(quick: bool) -> dict:
    """One U-Net size for both sides: base width, width multipliers, res blocks per level, batch."""
    if quick:
        return dict(nf=32, ch_mult=(1, 2, 2, 2), num_res_blocks=1, batch=8, attn_resolution=16)
    return dict(nf=64, ch_mult=(1, 2, 2, 2), num_res_blocks=2, batch=32, attn_resolution=16)


def ours_config(z: dict):
    """Our DDPM++ config (ConfigDict) at the sizes `z` (see sizes()), dropout off."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from configs.models import ddpmpp_cifar

    cfg = ddpmpp_cifar.get_config()
    cfg.image_size, cfg.nf, cfg.ch_mult = 32, z["nf"], z["ch_mult"]
    cfg.num_res_blocks, cfg.attn_resolutions, cfg.dropout = z["num_res_blocks"], (z["attn_resolution"],), 0.0
    return cfg


def diffusers_unet(z: dict):
    """diffusers' UNet2DModel with the widths, levels, res blocks and attention resolution of `z` (torch venv)."""
    from diffusers import UNet2DModel

    widths = tuple(z["nf"] * m for m in z["ch_mult"])
    res = [32 // 2**i for i in range(len(widths))]
    down = tuple("AttnDownBlock2D" if r == z["attn_resolution"] else "DownBlock2D" for r in res)
    up = tuple("AttnUpBlock2D" if r == z["attn_resolution"] else "UpBlock2D" for r in reversed(res))
    return UNet2DModel(
        sample_size=32, in_channels=3, out_channels=3, block_out_channels=widths,
        layers_per_block=z["num_res_blocks"], down_block_types=down, up_block_types=up,
    )  # fmt: skip


def diffusers_train_step(net, x, scope=None):
    """One DSM train step of `net` on the batch `x` as a closure (VP SDE, eps loss, torch Adam, a foreach-lerp
    EMA), returning the loss; the optimizer + EMA update runs inside `scope("scope::optimizer+ema")` if given."""
    import contextlib

    import torch

    params = list(net.parameters())
    ema = [p.detach().clone() for p in params]
    opt = torch.optim.Adam(params, lr=1e-4)
    scope = scope or (lambda name: contextlib.nullcontext())

    def step():
        t = torch.rand(x.shape[0]) * (1 - 1e-5) + 1e-5
        log_mean = -0.25 * t**2 * (20.0 - 0.1) - 0.5 * t * 0.1
        a, std = log_mean.exp(), (1 - (2 * log_mean).exp()).sqrt()
        noise = torch.randn_like(x)
        xt = a[:, None, None, None] * x + std[:, None, None, None] * noise
        loss = ((net(xt, 999 * t).sample - noise) ** 2).sum((1, 2, 3)).mean()
        loss.backward()
        with scope("scope::optimizer+ema"), torch.no_grad():
            opt.step()
            opt.zero_grad(set_to_none=True)
            torch._foreach_lerp_(ema, params, 1 - 0.999)
        return loss

    return step


def torch_unavailable(python: str) -> str | None:
    """Why the torch half cannot run in `python`'s venv (with how to make it), or None if it can."""
    if not os.path.exists(python):
        return f"diffusers half skipped: {python} does not exist; make it with: {TORCH_HELP}"
    probe = subprocess.run([python, "-c", "import torch, diffusers"], capture_output=True, text=True)
    if probe.returncode:
        return f"diffusers half skipped: {python} cannot import torch and diffusers; make it with: {TORCH_HELP}"
    return None


# ---------------------------------------------------------------------------------------
# ours: the optimised HLO module and a jax.profiler trace


_DATA_MOVEMENT = {
    "parameter", "constant", "tuple", "get-tuple-element", "bitcast", "copy", "transpose", "reshape", "broadcast",
    "slice", "concatenate", "pad", "reverse", "dynamic-slice", "dynamic-update-slice", "iota",
}  # fmt: skip
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%([\w.\-]+) = (.*?) ([a-z][a-z0-9\-]*)\(")
_CALLS = re.compile(r"(?:calls|to_apply|body|condition)=%([\w.\-]+)")


def _weight_grad(shape: str, window: str, out_labels: str) -> bool:
    """A convolution that correlates two activations (a weight gradient): its window is larger than its output."""
    dims = [int(d) for d in re.findall(r"\d+", shape.split("[", 1)[1].split("]")[0])]
    spatial = [dims[i] for i, c in enumerate(out_labels) if c.isdigit()]
    return any(w > o for w, o in zip(map(int, window.split("x")), spatial, strict=False))


class Hlo:
    """The optimised HLO text of a compiled module: instructions by name, computations, stack frames."""

    def __init__(self, text: str):
        self.module = text.split(None, 2)[1].rstrip(",")
        self.instructions: dict[str, dict] = {}
        self.computations: dict[str, list[str]] = {}
        tables: dict[str, dict[int, str]] = defaultdict(dict)
        section, current = None, None
        for line in text.splitlines():
            if line in ("FileNames", "FunctionNames", "FileLocations", "StackFrames"):
                section = line
                continue
            if section and line[:1].isdigit():
                i, rest = line.split(" ", 1)
                tables[section][int(i)] = rest
                continue
            section = None
            head = re.match(r"^(?:ENTRY )?%([\w.\-]+) \(", line)
            if head:
                current = head.group(1)
                self.computations[current] = []
                continue
            m = _INSTRUCTION.match(line)
            if m and current is not None:
                name, shape, opcode = m.groups()
                meta = re.search(r'op_name="([^"]*)"', line)
                frame = re.search(r"stack_frame_id=(\d+)", line)
                args = line[m.end() :].split(")", 1)[0]
                window = re.search(r"window=\{size=([0-9x]+)", line)
                labels = re.search(r"dim_labels=\w+_\w+->(\w+)", line)
                self.instructions[name] = dict(
                    opcode=opcode, shape=shape.split("{")[0], calls=_CALLS.findall(line),
                    operands=re.findall(r"%([\w.\-]+)", args),
                    weight_grad=bool(window and labels) and _weight_grad(shape, window.group(1), labels.group(1)),
                    op_name=meta.group(1) if meta else "", frame=int(frame.group(1)) if frame else 0,
                )  # fmt: skip
                self.computations[current].append(name)
        files = {i: s.strip('"') for i, s in tables["FileNames"].items()}
        funcs = {i: s.strip('"') for i, s in tables["FunctionNames"].items()}
        self.locations = {}
        for i, s in tables["FileLocations"].items():
            f = dict(re.findall(r"(\w+)=(\d+)", s))
            self.locations[i] = (files[int(f["file_name_id"])], funcs[int(f["function_name_id"])], int(f["line"]))
        # As printed by XLA, a frame's parent_frame_id is one more than the parent's index (1 = no parent).
        self.frames = {}
        for i, s in tables["StackFrames"].items():
            f = dict(re.findall(r"(\w+)=(\d+)", s))
            self.frames[i] = (int(f["file_location_id"]), int(f["parent_frame_id"]) - 1)

    def stack(self, frame: int) -> list[tuple[str, str, int]]:
        """(file, function, line) from the innermost frame outwards."""
        out, seen = [], set()
        while frame and frame in self.frames and frame not in seen:
            seen.add(frame)
            loc, frame = self.frames[frame]
            out.append(self.locations[loc])
        return out

    def fused(self, name: str) -> list[str]:
        """The instruction and every instruction of the computations it calls (recursively)."""
        out, todo = [], [name]
        while todo:
            n = todo.pop()
            out.append(n)
            for comp in self.instructions[n]["calls"]:
                todo.extend(self.computations.get(comp, []))
        return out


_ATTN_FUNCS = ("attention", "PixelAttention.", "MultiHeadAttention.")
_NORM_FUNCS = ("GroupNorm.", "_stats", "layer_norm")
_RESAMPLE_FUNCS = (
    "naive_upsample_2d", "naive_downsample_2d", "upfirdn2d", "upsample_2d", "downsample_2d", "Upsample.",
    "Downsample.", "ResnetBlockBigGAN._resample",
)  # fmt: skip


def _scoped(stack: list[tuple[str, str, int]]) -> str | None:
    """The category of the innermost frame that names one; ops outside the loss are the optimizer's."""
    if stack and not any(fn.endswith("step.<locals>.loss_of") for _, fn, _ in stack):
        return OPTIM
    for _, fn, _ in stack:
        if fn == "attention" or fn.startswith(_ATTN_FUNCS[1:]):
            return ATTN
        if fn.startswith(_NORM_FUNCS):
            return NORM
        if fn.startswith(_RESAMPLE_FUNCS):
            return RESAMPLE
    return None


_PRIORITY = (CONV_FWD, CONV_BWD, ATTN, NORM, RESAMPLE, OPTIM)


def _backward(hlo: Hlo, name: str, conv: dict) -> bool:
    """A convolution of the gradient: JAX names it transpose(...); one XLA rewrote without metadata (the input
    gradient, a conv with the reversed kernel) is known by its operands, made by the backward pass."""
    if conv["op_name"]:
        return "transpose(" in conv["op_name"]
    ops = [hlo.instructions[p] for op in hlo.instructions[name]["operands"] for p in hlo.fused(op)]
    return any("transpose(" in ins["op_name"] for ins in ops)


def _found(hlo: Hlo, name: str, depth: int) -> set[str]:
    """Categories named inside one instruction (conv opcodes, scoped stack frames). An instruction XLA made
    without source metadata (a dot rewritten from attention's einsum) takes those of its operands."""
    found, with_source = set(), False
    for ins in (hlo.instructions[n] for n in hlo.fused(name)):
        if ins["opcode"] == "convolution":
            found.add(CONV_BWD if _backward(hlo, name, ins) else CONV_FWD)
        elif ins["opcode"] not in ("parameter", "constant", "fusion", "call", "while", "conditional"):
            with_source |= bool(ins["frame"])
            cat = _scoped(hlo.stack(ins["frame"]))
            if cat:
                found.add(cat)
    if not found and not with_source and depth:
        for op in hlo.instructions[name]["operands"]:
            found |= _found(hlo, op, depth - 1) - {CONV_FWD, CONV_BWD}
    return found


def classify(hlo: Hlo, name: str) -> str:
    """One XLA thunk's category: a convolution inside it first; pure data movement is layout (unless it is
    resampling or the optimizer's); then the highest-priority scoped category of its instructions (attention,
    GroupNorm, resampling, optimizer), then dots, the rest."""
    parts = [hlo.instructions[n] for n in hlo.fused(name)]
    opcodes = {ins["opcode"] for ins in parts} - {"fusion", "call"}
    found = _found(hlo, name, 3)
    if opcodes <= _DATA_MOVEMENT and not found & {RESAMPLE, OPTIM}:
        return LAYOUT  # a layout change for the op it feeds, whichever that is (nearest resampling is data movement)
    for cat in _PRIORITY:
        if cat in found:
            return cat
    return DENSE if "dot" in opcodes else OTHER


def _self_times(pd, module: str) -> tuple[dict[str, float], dict[str, int]]:
    """Seconds of every HLO thunk of `module` over the trace, minus the thunks nested in it (while bodies),
    and how many times each ran."""
    times: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for plane in pd.planes:
        for line in plane.lines:
            evs = []
            for e in line.events:
                st = dict(e.stats)
                if st.get("hlo_module") == module and "hlo_op" in st:
                    evs.append((e.start_ns, e.duration_ns, st["hlo_op"]))
            evs.sort(key=lambda v: (v[0], -v[1]))
            stack: list[list] = []  # [end, name, self]
            for start, dur, name in evs:
                while stack and stack[-1][0] <= start:
                    _, n, s = stack.pop()
                    times[n] += s
                if stack:
                    stack[-1][2] -= dur
                counts[name] += 1
                stack.append([start + dur, name, dur])
            for _, n, s in stack:
                times[n] += s
    return {n: s * 1e-9 for n, s in times.items()}, counts


def profile_ours(z: dict, repeats: int) -> dict:
    import _bench_utils as bu  # sets the XLA thread flags before jax is imported
    import bench_backbones as bb
    import jax

    cfg = ours_config(z)
    compiled, ctimes, state, x, n_params = bb.step_for(cfg, z["batch"])
    hlo = Hlo(compiled.as_text())
    holder = {"state": state}

    def run():
        holder["state"], m = compiled(holder["state"], x)
        return m["loss"]

    t = bu.interleaved_times({"step": run}, repeats, warmup=1)
    with tempfile.TemporaryDirectory() as d:
        jax.profiler.start_trace(d)
        for _ in range(repeats):
            jax.block_until_ready(run())
        jax.profiler.stop_trace()
        (pb,) = [os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs if f.endswith(".xplane.pb")]
        times, counts = _self_times(jax.profiler.ProfileData.from_file(pb), hlo.module)
    cats: dict[str, float] = defaultdict(float)
    ops: dict[str, float] = defaultdict(float)
    top = []
    weight_grads = [0.0, 0.0]  # ms, ops per step
    for name, s in times.items():
        cat = classify(hlo, name)
        cats[cat] += s / repeats
        ops[cat] += counts[name] / repeats
        if cat == CONV_BWD and any(hlo.instructions[n].get("weight_grad") for n in hlo.fused(name)):
            weight_grads[0] += s / repeats * 1e3
            weight_grads[1] += counts[name] / repeats
        ins = hlo.instructions[name]
        where = next((f"{fn}:{ln}" for _, fn, ln in hlo.stack(ins["frame"])), "")
        top.append((s / repeats, f"{name} {ins['shape']} {where}", cat))
    top.sort(reverse=True)
    return dict(
        label=f"ours: DDPM++ ({n_params / 1e6:.2f} M params), XLA, jax {jax.__version__}",
        step_ms=t.median("step", "wall") * 1e3, compile_s=ctimes["lower"] + ctimes["compile"],
        categories={k: v * 1e3 for k, v in cats.items()}, ops=ops, weight_grads=weight_grads,
        top=[(ms * 1e3, what, cat) for ms, what, cat in top],
        machine=bu.machine_line(),
    )  # fmt: skip


# ---------------------------------------------------------------------------------------
# diffusers: runs in the torch venv (--torch-worker), prints one JSON line


_TORCH_DENSE = ("aten::addmm", "aten::mm", "aten::bmm", "aten::baddbmm", "aten::matmul", "aten::linear")
_TORCH_LAYOUT = (
    "aten::copy_", "aten::clone", "aten::contiguous", "aten::cat", "aten::_to_copy", "aten::constant_pad_nd",
    "aten::permute", "aten::transpose", "aten::reshape", "aten::view", "aten::_unsafe_view",
)  # fmt: skip


def _torch_scoped(name: str) -> str | None:
    low = name.lower()
    if name == "scope::optimizer+ema":
        return OPTIM
    if "convolution" in low or "conv2d" in low:
        return CONV_FWD
    if "group_norm" in low:
        return NORM
    if name == "scope::attention" or "scaled_dot_product" in low:
        return ATTN
    if name == "scope::resampling" or "upsample" in low or "avg_pool" in low:
        return RESAMPLE
    return None


def _torch_fallback(name: str) -> str:
    if name.startswith(_TORCH_DENSE):
        return DENSE
    if name in _TORCH_LAYOUT:
        return LAYOUT
    return OTHER


def torch_worker(z: dict, repeats: int, threads: int) -> None:
    import diffusers
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = diffusers_unet(z)
    params = list(net.parameters())
    x = torch.randn(z["batch"], 3, 32, 32)
    scoped = {
        diffusers.models.attention_processor.Attention: "scope::attention",
        diffusers.models.upsampling.Upsample2D: "scope::resampling",
        diffusers.models.downsampling.Downsample2D: "scope::resampling",
    }
    for module in net.modules():
        for kind, scope in scoped.items():
            if isinstance(module, kind):
                module.register_forward_pre_hook(lambda m, a, s=scope: m.__dict__.__setitem__("_rf", _enter(s)))
                module.register_forward_hook(lambda m, a, o: m.__dict__.pop("_rf").__exit__(None, None, None))

    def _enter(scope):
        rf = record_function(scope)
        rf.__enter__()
        return rf

    step = diffusers_train_step(net, x, record_function)
    step()
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        walls.append(time.perf_counter() - t0)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(repeats):
            step()
    events = prof.events()
    forward: dict[int, str] = {}  # autograd sequence number -> category of the forward op that made it

    def chain(e):
        while e is not None:
            yield e
            e = e.cpu_parent

    def category(e) -> str:
        names = [p.name for p in chain(e)]
        root = names[-1]
        if root.startswith("autograd::engine::evaluate_function"):
            seq = next(p.sequence_nr for p in chain(e) if p.cpu_parent is None)
            cat = forward.get(seq) or _torch_fallback(e.name)
            return CONV_BWD if cat == CONV_FWD else cat
        for n in names:
            cat = _torch_scoped(n)
            if cat:
                return cat
        return _torch_fallback(e.name)

    for e in events:  # forward categories first (a backward op may come before its forward op in the list)
        if e.sequence_nr >= 0 and not any(p.name.startswith("autograd::") for p in chain(e)):
            cat = category(e)
            if forward.get(e.sequence_nr) in (None, OTHER, LAYOUT, DENSE) or cat not in (OTHER, LAYOUT, DENSE):
                forward[e.sequence_nr] = cat
    cats: dict[str, float] = defaultdict(float)
    ops: dict[str, float] = defaultdict(float)
    top: dict[tuple, float] = defaultdict(float)
    for e in events:
        if e.name.startswith("scope::"):
            continue
        cat = category(e)
        ms = e.self_cpu_time_total / 1e3 / repeats
        cats[cat] += ms
        if e.name.startswith("aten::") and not any(p.name.startswith("aten::") for p in chain(e.cpu_parent)):
            ops[cat] += 1 / repeats  # ops as dispatched (not the aten ops they call)
        top[(e.name + " " + str([s for s in e.input_shapes if s])[:60], cat)] += ms
    n_params = sum(p.numel() for p in params)
    print(json.dumps(dict(
        label=f"diffusers UNet2DModel ({n_params / 1e6:.2f} M params), torch {torch.__version__}, {threads} thread(s), "
        f"diffusers {diffusers.__version__}",
        step_ms=statistics.median(walls) * 1e3, categories=cats, ops=ops,
        top=sorted(((ms, what, cat) for (what, cat), ms in top.items()), reverse=True)[:40],
    )))  # fmt: skip


def profile_diffusers(python: str, z: dict, repeats: int, threads: int) -> dict | str:
    """The torch half in `python`'s venv, or a message saying why it was skipped and how to make it."""
    problem = torch_unavailable(python)
    if problem:
        return problem
    cmd = [python, os.path.abspath(__file__), "--torch-worker", json.dumps(dict(z, repeats=repeats, threads=threads))]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        return "diffusers half failed: " + (out.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------
# output


def _table(headers, rows) -> str:
    cells = [list(map(str, headers))] + [list(map(str, r)) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
    return "\n".join([line(cells[0]), "| " + " | ".join("-" * w for w in widths) + " |"] + [line(r) for r in cells[1:]])


def report(ours: dict, theirs: dict | str, z: dict, top: int) -> str:
    r = z["attn_resolution"]
    size = f"nf {z['nf']}, ch_mult {z['ch_mult']}, {z['num_res_blocks']} res blocks, attention at {r}x{r}"
    out = [ours["machine"], f"batch {z['batch']}, 32x32x3, {size}", ""]
    sides = [ours] + ([theirs] if isinstance(theirs, dict) else [])
    for s in sides:
        total = sum(s["categories"].values())
        extra = f", compile {s['compile_s']:.1f} s" if "compile_s" in s else ""
        out.append(f"{s['label']}: {s['step_ms']:.0f} ms/step, {z['batch'] / s['step_ms'] * 1e3:.1f} images/s "
                   f"(profiled ops {total:.0f} ms/step){extra}")  # fmt: skip
    out.append("")
    headers = ["category", "ours ms/step", "ours %", "ours ops"]
    if len(sides) > 1:
        headers += ["diffusers ms/step", "diffusers %", "diffusers ops", "ours / diffusers"]
    rows = []
    for cat in CATEGORIES + ("total",):
        row = [cat]
        for s in sides:
            total = sum(s["categories"].values())
            v = total if cat == "total" else s["categories"].get(cat, 0.0)
            n = sum(s["ops"].values()) if cat == "total" else s["ops"].get(cat, 0.0)
            row += [f"{v:.0f}", f"{100 * v / total:.1f}", f"{n:.0f}"]
        if len(sides) > 1:
            a = sum(ours["categories"].values()) if cat == "total" else ours["categories"].get(cat, 0.0)
            b = sum(theirs["categories"].values()) if cat == "total" else theirs["categories"].get(cat, 0.0)
            row.append(f"{a / b:.2f}" if b > 0.5 else "-")
        rows.append(row)
    out.append(_table(headers, rows))
    ms, n = ours["weight_grads"]
    bwd, nb = ours["categories"].get(CONV_BWD, 0.0), ours["ops"].get(CONV_BWD, 0.0)
    out.append(f"\nours, convolutions (bwd): weight gradients {ms:.0f} ms ({n:.0f} ops), input gradients "
               f"{bwd - ms:.0f} ms ({nb - n:.0f} ops); torch's convolution_backward does both in one op")  # fmt: skip
    for s in sides:
        out += ["", f"top {top} ops, {s['label'].split(':')[0].split(' (')[0]}:", ""]
        out.append(_table(["ms/step", "op", "category"], [(f"{ms:.1f}", w, c) for ms, w, c in s["top"][:top]]))
    if isinstance(theirs, str):
        out += ["", theirs]
    return "\n".join(out)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--torch-worker":
        a = json.loads(sys.argv[2])
        torch_worker(a, a.pop("repeats"), a.pop("threads"))
        return
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="nf 32, 1 res block, batch 8")
    p.add_argument("--repeats", type=int, default=None, help="profiled (and timed) steps per side (default 5, quick 2)")
    p.add_argument("--multi-thread", action="store_true", help="XLA default threads, torch 2 threads")
    p.add_argument("--torch-python", default=os.environ.get("SCORESDE_TORCH_PYTHON", "/tmp/ref/bin/python"))
    p.add_argument("--top", type=int, default=12, help="rows of the per-op tables")
    args = p.parse_args()
    repeats = args.repeats or (2 if args.quick else 5)
    z = sizes(args.quick)
    ours = profile_ours(z, repeats)
    theirs = profile_diffusers(args.torch_python, z, repeats, 2 if args.multi_thread else 1)
    print(report(ours, theirs, z, args.top))


if __name__ == "__main__":
    main()
