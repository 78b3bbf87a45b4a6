"""Issue 13 probes: where XLA:CPU's convolution gradients are slow, and two rewrites that did not help.

    python tools/bench_conv_grad.py --multi-thread   # as in BENCHMARKS.md: both cores, as P4's fair row

1. A chain of four 3x3 convolutions, unrolled against `jax.lax.scan` over the stacked weights: forward and
   weight gradient. (Why the U-Net does not scan its repeated blocks on CPU.) The scanned gradient, 70-80 s
   a call here, is timed in the first round only.
2. The weight gradient of one 3x3 convolution: XLA's own (autodiff of conv_general_dilated) against nine
   shifted GEMMs and one im2col GEMM, beside the forward and the input gradient for scale; relative
   error against XLA's.
3. The weight gradient's GEMM shape, [N*H*W, C]^T [N*H*W, O], against the same product with the transposed
   operand already materialised.
4. The fused FIR up-convolution (`Conv2d(up=True)`: a x2 transposed 3x3 conv, then the FIR filter) on
   [N, 16, 16, C], forward and value+gradient (input and weight), as the layer computes it (a plain conv on the
   explicitly zero-stuffed image) against the same conv written with `lhs_dilation`, as it was before.

Interleaved rounds (tools/_bench_utils.py), medians of wall time; each executable compiled before timing.
"""

import _bench_utils as bu  # sets the XLA thread flags before jax is imported
import equinox as eqx
import jax
import jax.numpy as jnp


def conv(x, w):
    return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def compiled(fn, *args):
    exe, _ = bu.compile_timed(fn, *args)
    return lambda: exe(*args)


def chain_table(x, ws, repeats: int) -> str:
    def unrolled(x, ws):
        for i in range(ws.shape[0]):
            x = conv(x, ws[i])
        return x.sum()

    def scanned(x, ws):
        return jax.lax.scan(lambda c, w: (conv(c, w), None), x, ws)[0].sum()

    fns = {}
    for name, f in (("unrolled", unrolled), ("lax.scan", scanned)):
        fns[f"{name} forward"] = compiled(f, x, ws)
        fns[f"{name} gradient"] = compiled(jax.grad(f, argnums=1), x, ws)
    t = bu.interleaved_times(fns, repeats, once=("lax.scan gradient",))
    ms = lambda name: t.median(name, "wall") * 1e3  # noqa: E731
    rows = [[n, f"{ms(n + ' forward'):.0f}", f"{ms(n + ' gradient'):.0f}"] for n in ("unrolled", "lax.scan")]
    return bu.markdown_table(["four chained convs", "forward ms", "weight-gradient ms"], rows)


def wgrad_table(x, w, dy, repeats: int) -> str:
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

    cases = {
        "weight gradient, XLA": xla,
        "weight gradient, 9 shifted GEMMs": shifted,
        "weight gradient, im2col GEMM": im2col,
        "input gradient, XLA": dgrad,
        "forward, XLA": lambda x, dy: conv(x, w),
    }
    outputs: dict = {}
    t = bu.interleaved_times({k: compiled(f, x, dy) for k, f in cases.items()}, repeats, outputs=outputs)
    ref = outputs["weight gradient, XLA"]
    flops = 2 * n * h * wd * 9 * c * o
    rows = []
    for name in cases:
        s, out = t.median(name, "wall"), outputs[name]
        err = f"{float(jnp.abs(out - ref).max() / jnp.abs(ref).max()):.1e}" if out.shape == ref.shape else ""
        rows.append([name, f"{s * 1e3:.0f}", f"{flops / s / 1e9:.0f}", err])
    return bu.markdown_table(["one conv", "ms", "GFLOP/s", "rel. err vs XLA"], rows)


def gemm_table(x, dy, repeats: int) -> str:
    a, b = x.reshape(-1, x.shape[-1]), dy.reshape(-1, dy.shape[-1])
    a_t = jnp.asarray(a.T.copy())
    fns = {
        "a^T b (a [K, C], the weight gradient's shape)": compiled(lambda a, b: a.T @ b, a, b),
        "a_t b (a_t [C, K] materialised)": compiled(lambda a_t, b: a_t @ b, a_t, b),
    }
    t = bu.interleaved_times(fns, repeats)
    flops = 2 * a.shape[0] * a.shape[1] * b.shape[1]
    rows = [[k, f"{t.median(k, 'wall') * 1e3:.1f}", f"{flops / t.median(k, 'wall') / 1e9:.0f}"] for k in fns]
    return bu.markdown_table([f"GEMM, K = {a.shape[0]}", "ms", "GFLOP/s"], rows)


def upconv_table(x, repeats: int) -> str:
    from scoresde.nets.layers import _conv as L

    x = x[:, :16, :16]
    layer = L.Conv2d(x.shape[-1], x.shape[-1], 3, up=True, key=jax.random.key(3))
    k = L.setup_kernel(layer.fir_kernel)

    def dilated(w, xi):  # the x2 transposed conv via lhs_dilation, then the same FIR filter as the layer
        y = jax.lax.conv_general_dilated(
            xi[None], w, (1, 1), ((2, 2),) * 2, lhs_dilation=(2, 2), dimension_numbers=L._DIMS
        )
        p = (k.shape[0] - 2) - 2  # as in Conv2d: (FIR taps - factor) - (kernel - 1)
        return L.upfirdn2d(y[0], k * 4, pad=((p + 1) // 2 + 1, p // 2 + 1)) + layer.bias

    def shipped(w, xi):
        return eqx.tree_at(lambda m: m.weight, layer, w)(xi)

    fns, outs = {}, {}
    for name, f in (("zero-stuffed (the layer)", shipped), ("lhs_dilation", dilated)):
        fwd = lambda w, x, f=f: jax.vmap(lambda xi: f(w, xi))(x)  # noqa: E731
        vg = jax.value_and_grad(lambda w, x, fwd=fwd: jnp.sum(jnp.sin(fwd(w, x))), argnums=(0, 1))
        outs[name] = jax.jit(vg)(layer.weight, x)
        fns[f"{name}, forward"] = compiled(fwd, layer.weight, x)
        fns[f"{name}, value and gradient"] = compiled(vg, layer.weight, x)
    t = bu.interleaved_times(fns, repeats)
    a, b = (jax.tree.leaves(o) for o in outs.values())
    err = max(float(jnp.max(jnp.abs(u - v)) / jnp.max(jnp.abs(v))) for u, v in zip(a, b, strict=True))
    rows = [[k, f"{t.median(k, 'wall') * 1e3:.0f}"] for k in fns]
    table = bu.markdown_table(
        [f"FIR up-conv {x.shape[-1]} -> {x.shape[-1]}, [{x.shape[0]}, 16, 16] -> 32x32", "ms"], rows
    )
    return table + f"\n\nlargest difference of value and gradients, relative to the largest entry: {err:.1e}"


def main():
    p = bu.arg_parser(__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--channels", type=int, default=128)
    args = p.parse_args()
    repeats = bu.repeats_from(args, 5)
    n, c = (4, 32) if args.quick else (args.batch, args.channels)
    kx, kd, kw = jax.random.split(jax.random.key(args.seed), 3)
    x = jax.random.normal(kx, (n, 32, 32, c))
    dy = jax.random.normal(kd, (n, 32, 32, c))
    w = jax.random.normal(kw, (3, 3, c, c)) * 0.05
    print(bu.machine_line())
    print(f"activations [{n}, 32, 32, {c}] (NHWC), 3x3 convolutions {c} -> {c}; {repeats} interleaved rounds\n")
    print(chain_table(x, jnp.stack([w] * 4) * 0.5, repeats) + "\n")
    print(wgrad_table(x, w, dy, repeats) + "\n")
    print(gemm_table(x, dy, repeats) + "\n")
    print(upconv_table(x, repeats))


if __name__ == "__main__":
    main()
