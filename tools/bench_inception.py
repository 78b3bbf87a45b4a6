"""FID Inception-v3 forward on this CPU: ms per image, FLOPs, and NHWC vs NCHW convolutions.

    python tools/bench_inception.py

Random full-shape weights (the real file is not needed for timing). Prints compile and run time of a
299x299 batch, XLA's FLOP count against a 2048^3 matmul measured in the same run, and two of the
network's convolutions in both layouts (interleaved rounds, medians).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

from scoresde import metrics  # noqa: E402

BATCH = 8


def median_time(f, n=3):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        jax.block_until_ready(f())
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def random_model(rng):
    def draw(k, s):
        return rng.uniform(0.5, 1.5, s) if k.endswith("running_var") else 0.05 * rng.standard_normal(s)

    return metrics.from_state_dict({k: draw(k, s).astype(np.float32) for k, s in metrics.state_dict_shapes().items()})


def conv_layouts(rng, name, c, h, k, pad):
    w = jnp.asarray(rng.standard_normal((*k, c, c)).astype(np.float32))
    xh = jnp.asarray(rng.standard_normal((BATCH, h, h, c)).astype(np.float32))
    p = ((pad[0], pad[0]), (pad[1], pad[1]))
    nhwc = jax.jit(lambda x, w: lax.conv_general_dilated(x, w, (1, 1), p, dimension_numbers=("NHWC", "HWIO", "NHWC")))
    nchw = jax.jit(lambda x, w: lax.conv_general_dilated(x, w, (1, 1), p, dimension_numbers=("NCHW", "OIHW", "NCHW")))
    xc, wc = xh.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1)
    a, b = np.asarray(nhwc(xh, w)).transpose(0, 3, 1, 2), np.asarray(nchw(xc, wc))
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)
    rounds = [(median_time(lambda: nhwc(xh, w)), median_time(lambda: nchw(xc, wc))) for _ in range(3)]
    t_nhwc, t_nchw = np.median([r[0] for r in rounds]), np.median([r[1] for r in rounds])
    ms = f"NHWC {t_nhwc * 1e3:.1f} ms, NCHW {t_nchw * 1e3:.1f} ms"
    return f"| {name}, batch {BATCH} | {ms}: NCHW/NHWC = {t_nchw / t_nhwc:.2f} |"


def main():
    rng = np.random.default_rng(0)
    model = random_model(rng)
    x = jnp.asarray(rng.uniform(size=(BATCH, 32, 32, 3)).astype(np.float32))
    fwd = jax.jit(lambda m, x: jax.vmap(m)(metrics.preprocess(x)))
    t = time.perf_counter()
    compiled = fwd.lower(model, x).compile()
    t_compile = time.perf_counter() - t
    flops = compiled.cost_analysis()["flops"]
    t_run = median_time(lambda: compiled(model, x))
    a = jnp.ones((2048, 2048))
    mm = jax.jit(lambda a: a @ a)
    mm(a).block_until_ready()
    t_mm = median_time(lambda: mm(a), 5)
    print("| what | result |\n|---|---|")
    print(
        f"| 299x299, batch {BATCH}: compile / run | {t_compile:.1f} s / {t_run:.2f} s"
        f" = {t_run / BATCH * 1e3:.0f} ms per image |"
    )
    print(f"| XLA cost analysis | {flops / BATCH / 1e9:.2f} GFLOP per image |")
    print(
        f"| achieved rate | {flops / t_run / 1e9:.1f} GFLOP/s"
        f" (matmul 2048^3 in the same run: {2 * 2048**3 / t_mm / 1e9:.1f} GFLOP/s) |"
    )
    print(conv_layouts(rng, "Conv2d_2a 3x3 32->32 @149", 32, 149, (3, 3), (0, 0)))
    print(conv_layouts(rng, "Mixed_6b 1x7 128->128 @17", 128, 17, (1, 7), (0, 3)))


if __name__ == "__main__":
    main()
