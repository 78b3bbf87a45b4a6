"""Issue 13 probes: where XLA:CPU's convolution gradients are slow, and two rewrites that did not help.

    python tools/bench_conv_grad.py            # 32 x 32x32x128 activations, 3x3 conv, 128 -> 128 channels

1. A chain of four 3x3 convolutions, unrolled against `jax.lax.scan` over the stacked weights: forward and
   weight gradient. (Why the U-Net does not scan its repeated blocks on CPU.)
2. The weight gradient of one 3x3 convolution: XLA's own (autodiff of conv_general_dilated) against nine
   shifted GEMMs and one im2col GEMM, beside the forward and the input gradient for scale; relative
   error against XLA's.

XLA default threads (both cores), medians of 5 timed calls after one warm-up. Takes about 9 minutes: the
scanned weight gradient alone is about 80 s a call.
"""

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp


def conv(x, w):
    return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def timed(fn, *args, repeats=5) -> tuple[float, jax.Array]:
    out = jax.block_until_ready(fn(*args))
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out


def chain_rows(x, ws) -> list[str]:
    def unrolled(x, ws):
        for i in range(ws.shape[0]):
            x = conv(x, ws[i])
        return x.sum()

    def scanned(x, ws):
        return jax.lax.scan(lambda c, w: (conv(c, w), None), x, ws)[0].sum()

    rows = []
    for name, f in (("unrolled", unrolled), ("lax.scan", scanned)):
        fwd, _ = timed(jax.jit(f), x, ws)
        grad, _ = timed(jax.jit(jax.grad(f, argnums=1)), x, ws)
        rows.append(f"| {name} | {fwd * 1e3:.0f} | {grad * 1e3:.0f} |")
    return rows


def wgrad_rows(x, w, dy) -> list[str]:
    n, h, wd, c = x.shape
    o = dy.shape[-1]

    def xla(x, dy):
        return jax.vjp(lambda w: conv(x, w), w)[1](dy)[0]

    def shifted(x, dy):
        xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        taps = [[jnp.einsum("nhwc,nhwo->co", xp[:, i : i + h, j : j + wd], dy) for j in range(3)] for i in range(3)]
        return jnp.stack([jnp.stack(r) for r in taps])

    def im2col(x, dy):
        xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        patches = jnp.stack([xp[:, i : i + h, j : j + wd] for i in range(3) for j in range(3)], axis=3)
        return jnp.einsum("nhwkc,nhwo->kco", patches, dy).reshape(3, 3, c, o)

    def dgrad(x, dy):
        return jax.vjp(lambda x: conv(x, w), x)[1](dy)[0]

    flops = 2 * n * h * wd * 9 * c * o
    ref = jax.jit(xla)(x, dy)
    rows = []
    cases = (
        ("weight gradient, XLA", xla),
        ("weight gradient, 9 shifted GEMMs", shifted),
        ("weight gradient, im2col GEMM", im2col),
        ("input gradient, XLA", dgrad),
        ("forward, XLA", lambda x, dy: conv(x, w)),
    )
    for name, f in cases:
        s, out = timed(jax.jit(f), x, dy)
        err = f"{float(jnp.abs(out - ref).max() / jnp.abs(ref).max()):.1e}" if out.shape == ref.shape else ""
        rows.append(f"| {name} | {s * 1e3:.0f} | {flops / s / 1e9:.0f} | {err} |")
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--channels", type=int, default=128)
    args = p.parse_args()
    n, c = args.batch, args.channels
    kx, kd, kw = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (n, 32, 32, c))
    dy = jax.random.normal(kd, (n, 32, 32, c))
    w = jax.random.normal(kw, (3, 3, c, c)) * 0.05
    print(f"jax {jax.__version__}, {os.cpu_count()} cpu cores, load average {os.getloadavg()[0]:.2f}")
    print(f"activations [{n}, 32, 32, {c}] (NHWC), 3x3 convolutions {c} -> {c}\n")
    print("| four chained convs | forward ms | weight-gradient ms |\n| --- | --- | --- |")
    print("\n".join(chain_rows(x, jnp.stack([w] * 4) * 0.5)) + "\n")
    print("| one conv | ms | GFLOP/s | rel. err vs XLA |\n| --- | --- | --- | --- |")
    print("\n".join(wgrad_rows(x, w, dy)))


if __name__ == "__main__":
    main()
