"""P4 (first half): training-step throughput and model FLOPs of backbones, as an MFU against a matmul.

    python tools/bench_backbones.py            # small U-Net (DDPM++ nf 64) and DiT-S/4, 32x32x3, batch 32
    python tools/bench_backbones.py --quick

For each backbone: compile time, one jitted DSM train step (VP SDE, Adam) timed interleaved with a
1024^3 float32 matmul in the same run, images/s, XLA's FLOP count of the step, and the achieved
FLOP rate over the matmul's (an MFU on this CPU). Single-threaded XLA by default (see _bench_utils).
XLA counts a scan body once, so DiT's FLOPs come from unrolled depth-1 and depth-2 builds.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

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


def step_for(cfg: ConfigDict, batch: int):
    sde = sdes.VPSDE()
    model = nets.build(cfg, jax.random.key(0))
    opt = optax.adam(1e-4)
    state, static = train.init_state(model, opt, jax.random.key(1))

    def loss(m, b, key):
        fn = nets.score_fn_from_net(m, sde, parameterization="eps", conditioning="t999")
        return objectives.dsm_loss(sde, fn, b["x"], key)

    step = train.make_train_step(loss, opt, static, ema_rate=0.999)
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
        # XLA counts a scan body once: rebuild the count from unrolled depth-1 and depth-2 steps
        f1, f2 = (bu.xla_flops(step_for(ConfigDict(dict(cfg, depth=d, unroll=True)), batch)[0]) for d in (1, 2))
        flops = f1 + (cfg.depth - 1) * (f2 - f1)
    step_s = t.median("step", "wall")
    mm_rate = 2 * 1024**3 / t.median("matmul", "wall")
    rate = flops / step_s if flops else None
    return [
        f"{name} ({n_params / 1e6:.2f} M params)", f"{ctimes['lower'] + ctimes['compile']:.1f}",
        f"{step_s * 1e3:.0f}", f"{batch / step_s:.1f}", f"{flops / 1e9:.2f}" if flops else "n/a",
        f"{rate / 1e9:.1f}" if rate else "n/a", f"{mm_rate / 1e9:.1f}", f"{rate / mm_rate:.2f}" if rate else "n/a",
    ]  # fmt: skip


def main():
    args = bu.arg_parser(__doc__.splitlines()[0]).parse_args()
    repeats = bu.repeats_from(args, 5)
    batch = 8 if args.quick else 32
    rows = [
        measure("DDPM++ U-Net", unet_config(args.quick), batch, repeats),
        measure(f"DiT-S/{8 if args.quick else 4}", dit_config(args.quick), batch, repeats),
    ]
    print(bu.machine_line())
    print(f"batch {batch}, 32x32x3, {repeats} interleaved rounds, medians of wall time\n")
    headers = ["backbone", "compile (s)", "ms/step", "images/s", "GFLOP/step", "GFLOP/s", "matmul GFLOP/s", "MFU"]
    print(bu.markdown_table(headers, rows))


if __name__ == "__main__":
    main()
