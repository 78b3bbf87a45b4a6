"""P5: DiT compile time does not grow with depth (the blocks run as one lax.scan).

Compile time of a depth-28 DiT divided by that of a depth-4 DiT, same width: width 384, 6 heads,
patch 4, 32x32x3 images, 10 classes, batch 8; two programs, each jitted:
  forward     vmap(net)(x, c, labels)                                (sampling)
  train step  value_and_grad of an eps-regression loss with label dropout + an Adam update
Tracing + lowering ("lower") and XLA compilation ("compile") are timed apart, in interleaved rounds
(a fresh jit each time, so nothing is cached), medians reported. The same network with the scan fully
unrolled (`unroll=True`: the straight-line program a Python loop over layers gives) is the reference
for what the scan saves. The parameters are abstract (eqx.filter_eval_shape): compile time only
needs shapes, so no memory is spent on weights. Target: depth-28 / depth-4 compile time <= 1.5.

    .venv/bin/python tools/bench_dit_compile.py [--quick] [--repeats N] [--no-unrolled] [--unrolled-train]
"""

from __future__ import annotations

import sys
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import optax

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench_utils as bu  # noqa: E402

from scoresde.nets._dit import DiT  # noqa: E402

TARGET = 1.5


def abstract_net(depth: int, *, width: int, heads: int, patch: int, size: int, unroll) -> DiT:
    build = lambda key: DiT(
        size,
        3,
        patch_size=patch,
        hidden_size=width,
        depth=depth,
        num_heads=heads,
        num_classes=10,
        unroll=unroll,
        key=key,
    )
    return eqx.filter_eval_shape(build, jr.key(0))


def programs(net: DiT, batch: int, size: int):
    """{name: (function, abstract args)}; a new Python function on every call, so jit caches miss."""
    params, static = eqx.partition(net, lambda a: isinstance(a, jax.ShapeDtypeStruct | jax.Array))
    x = jax.ShapeDtypeStruct((batch, 3, size, size), jnp.float32)
    c = jax.ShapeDtypeStruct((batch,), jnp.float32)
    y = jax.ShapeDtypeStruct((batch,), jnp.int32)
    key = jax.eval_shape(lambda: jr.key(0))
    opt = optax.adam(1e-4)
    opt_state = jax.eval_shape(opt.init, params)

    def forward(params, x, c, y):
        model = eqx.combine(params, static)
        return jax.vmap(lambda xi, ci, yi: model(xi, ci, label=yi))(x, c, y)

    def train_step(params, opt_state, x, c, y, key):
        def loss(params):
            model = eqx.combine(params, static)
            keys = jr.split(key, batch + 1)
            noise = jr.normal(keys[0], x.shape)
            out = jax.vmap(lambda xi, ci, yi, ki: model(xi, ci, label=yi, key=ki))(x + noise, c, y, keys[1:])
            return jnp.mean((out - noise) ** 2)

        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return {
        "forward": (forward, (params, x, c, y)),
        "train step": (train_step, (params, opt_state, x, c, y, key)),
    }


def compile_once(net: DiT, program: str, batch: int, size: int) -> dict[str, float]:
    fn, args = programs(net, batch, size)[program]
    _, t = bu.compile_timed(fn, *args)
    return t


def main():
    p = bu.arg_parser(__doc__.splitlines()[0], repeats=3)
    p.add_argument("--no-unrolled", action="store_true", help="skip the unrolled-scan reference")
    p.add_argument(
        "--unrolled-train", action="store_true", help="also time the unrolled train step (XLA takes many minutes)"
    )
    args = p.parse_args()
    repeats = bu.repeats_from(args, 3)
    if args.quick:
        width, heads, patch, size, batch, depths = 64, 4, 4, 16, 4, (4, 28)
    else:
        width, heads, patch, size, batch, depths = 384, 6, 4, 32, 8, (4, 28)
    variants = {"scan": 1} if args.no_unrolled else {"scan": 1, "unrolled": True}
    nets = {
        (v, d): abstract_net(d, width=width, heads=heads, patch=patch, size=size, unroll=u)
        for v, u in variants.items()
        for d in depths
    }
    progs = {
        "scan": ("forward", "train step"),
        "unrolled": ("forward", "train step") if args.unrolled_train else ("forward",),
    }
    cases = [(v, prog, d) for v in variants for prog in progs[v] for d in depths]
    times: dict[tuple, list[dict[str, float]]] = {case: [] for case in cases}
    for r in range(repeats):
        order = cases[r % len(cases) :] + cases[: r % len(cases)]
        for v, prog, d in order:
            t = compile_once(nets[(v, d)], prog, batch, size)
            times[(v, prog, d)].append(t)
            line = (
                f"  round {r + 1}: {v:8s} {prog:10s} depth {d:2d}: lower {t['lower']:.2f}s compile {t['compile']:.2f}s"
            )
            print(line, file=sys.stderr, flush=True)

    med = lambda case, part: bu.median([t[part] if part != "total" else t["lower"] + t["compile"] for t in times[case]])

    def ratio(num, den, part):  # median over rounds of the per-round ratio (the two ran back to back)
        pick = lambda t: t["lower"] + t["compile"] if part == "total" else t[part]
        return bu.paired_ratio([pick(t) for t in times[num]], [pick(t) for t in times[den]])

    d0, d1 = depths
    rows = []
    for v in variants:
        for prog in progs[v]:
            a, b = (v, prog, d0), (v, prog, d1)
            rows.append(
                [
                    v,
                    prog,
                    f"{med(a, 'lower'):.2f} / {med(a, 'compile'):.2f}",
                    f"{med(b, 'lower'):.2f} / {med(b, 'compile'):.2f}",
                    f"{ratio(b, a, 'compile'):.2f}",
                    f"{ratio(b, a, 'total'):.2f}",
                ]
            )
    print(f"P5: DiT compile time, depth {d1} vs depth {d0} (target compile ratio <= {TARGET} with scan)")
    print(
        f"width {width}, {heads} heads, patch {patch}, {size}x{size}x3, batch {batch}; medians of {repeats} "
        "interleaved rounds; ratios are medians of per-round ratios"
    )
    print(bu.machine_line())
    print()
    print(
        bu.markdown_table(
            [
                "blocks",
                "program",
                f"depth {d0}: lower / compile (s)",
                f"depth {d1}: lower / compile (s)",
                f"compile ratio {d1}/{d0}",
                f"total ratio {d1}/{d0}",
            ],
            rows,
        )
    )
    ok = all(ratio(("scan", prog, d1), ("scan", prog, d0), "compile") <= TARGET for prog in progs["scan"])
    print()
    print(f"scan compile ratio <= {TARGET}: {'yes' if ok else 'NO'}")
    print("command: .venv/bin/python tools/bench_dit_compile.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
