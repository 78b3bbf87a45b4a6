"""P6 and training throughput: the NCSN train step fed by the grain pipeline vs by one in-memory batch.

    python tools/bench_training.py            # digits and a CIFAR-shaped config (synthetic archive)
    python tools/bench_training.py --quick
    python tools/bench_training.py --full-cifar   # also configs/cifar.py itself (NCSN++, 62.8 M parameters) at batch 4
    python tools/bench_training.py --blocks=24    # more interleaved blocks: the ratio's noise is a few percent

For each config: seconds to the first step (trace + compile), then blocks of steps fed by
the real pipeline (grain: shuffle, gather, scale, host->device) and by a synthetic batch
already on the device, interleaved block by block; per-step medians, their ratio (P6 target
<= 1.05), steps/s and examples/s. Multi-threaded XLA (the training default).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from configs import cifar, digits  # noqa: E402
from projects.ncsn import components, training  # noqa: E402
from scoresde import data, parallel, train  # noqa: E402


def cifar_like(path: str):
    c = digits.get_config()
    c.data.name, c.data.path, c.data.image_size, c.data.num_channels = "cifar10", path, 32, 3
    c.data.random_flip = True
    c.model.ch_mult, c.model.attn_resolutions, c.model.nf = (1, 2, 2), (8,), 32
    c.training.batch_size = 16
    return c


def full_cifar(path: str):
    c = cifar.get_config()
    c.data.path = path
    c.training.batch_size = 4
    return c


def bench(name, cfg, blocks: int, steps_per_block: int):
    mesh = parallel.make_mesh(fsdp=1)
    sde = components.build_sde(cfg)
    examples = components.load_examples(cfg, "train")
    it = iter(
        components.make_batches(
            cfg, examples, batch_size=cfg.training.batch_size, process_index=0, process_count=1, seed=0
        )
    )
    state, shardings, static, opt = training.build_state(cfg, mesh)
    step = train.make_train_step(components.make_loss(cfg, sde), opt, static, ema_rate=0.999)
    jitted = train.jit_train_step(step, shardings, parallel.batch_sharding(mesh))
    first = parallel.global_batch(next(it), mesh)
    t0 = time.perf_counter()
    state, m = jitted(state, first)
    jax.block_until_ready(m)
    t_first = time.perf_counter() - t0
    synthetic = parallel.global_batch({k: np.array(v) for k, v in next(it).items()}, mesh)
    times = {"grain pipeline": [], "in-memory batch": []}
    for r in range(blocks):
        order = list(times) if r % 2 == 0 else list(times)[::-1]
        for mode in order:
            t0 = time.perf_counter()
            for _ in range(steps_per_block):
                batch = parallel.global_batch(next(it), mesh) if mode == "grain pipeline" else synthetic
                state, m = jitted(state, batch)
            jax.block_until_ready(m)
            times[mode].append((time.perf_counter() - t0) / steps_per_block)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = statistics.median([a / b for a, b in zip(times["grain pipeline"], times["in-memory batch"], strict=True)])
    b = cfg.training.batch_size
    return [
        [name, f"{t_first:.1f}", mode, f"{med[mode] * 1e3:.1f}", f"{1 / med[mode]:.2f}", f"{b / med[mode]:.0f}",
         f"{ratio:.3f}" if mode == "grain pipeline" else ""]
        for mode in times
    ]  # fmt: skip


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--full-cifar", action="store_true", help="also time configs/cifar.py at batch 4 (slow on CPU)")
    p.add_argument("--blocks", type=int, default=8, help="interleaved blocks per input (more: a steadier ratio)")
    args = p.parse_args()
    blocks, per = (4, 5) if args.quick else (args.blocks, 20)
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        archive = data.write_cifar10_archive(
            os.path.join(tmp, "cifar-10-python.tar.gz"),
            rng.integers(0, 256, (1200, 32, 32, 3), dtype=np.uint8),
            rng.integers(0, 10, 1200),
        )
        rows = bench("digits (DDPM++ nf16, 8x8x1, batch 64)", digits.get_config(), blocks, per)
        rows += bench("CIFAR-shaped (DDPM++ nf32, 32x32x3, batch 16)", cifar_like(archive), blocks, per)
        if args.full_cifar:
            rows += bench("configs/cifar.py (NCSN++ VE, 62.8 M, batch 4)", full_cifar(archive), 2, 3)
    print(f"devices: {jax.device_count()} x {jax.devices()[0].platform}; {blocks} interleaved blocks of {per} steps\n")
    print("| config | first step (s) | input | ms/step | steps/s | examples/s | pipeline / in-memory |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
