"""The equality table of tests/data/reference/README.md: every fixture -> max relative error of our network (and
score) against the reference's outputs, and parameters ours vs theirs. Runs in the project's environment.

    .venv/bin/python tools/reference/equality_table.py
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import jax.numpy as jnp  # noqa: E402

from scoresde import interop, metrics, nets  # noqa: E402
from tests.interop.fixtures import Fixture, cases, rel_err  # noqa: E402
from tests.interop.test_reference_equality import (  # noqa: E402
    FORMATS,
    network_output,
    sde_of,
    unused_reference_params,
)


def options(meta: dict) -> str:
    """The case's settings: size, widths, and every option that differs from score_sde's CIFAR-10 NCSN++."""
    c = meta["config"]
    head = f"{c['image_size']}px x{c['num_channels']}"
    if c["name"] == "dit":
        return (f"{head}, patch {c['patch_size']}, width {c['hidden_size']}, depth {c['depth']}, "
                f"{c['num_classes']} classes + null, learn_sigma={c['learn_sigma']}")  # fmt: skip
    if c["name"] in ("ncsn", "ncsnv2"):
        levels = f", {c['num_scales']} levels" if c["name"] == "ncsn" else ""
        return f"{head}, ngf {c['ngf']}{levels}, {c.get('nonlinearity', 'elu')}"
    base = nets.spec("ncsnpp").fields if c["name"] == "ncsnpp" else nets.spec("ddpm").fields
    parts = [head, f"nf {c['nf']}", f"ch_mult {tuple(c['ch_mult'])}", f"attn {tuple(c['attn_resolutions'])}"]
    for k, v in c.items():
        if k in base and k not in ("nf", "ch_mult", "attn_resolutions", "image_size", "num_channels", "dropout"):
            default = base[k]
            same = tuple(v) == tuple(default) if isinstance(v, list) else v == default
            if not same and not (k == "fourier_scale" and c.get("embedding_type") == "positional"):
                parts.append(f"{k}={v}")
    if "parameterization" in c:
        parts.append(f"{c['parameterization']} on {c['conditioning']}")
    else:
        parts.append("net / sigmas[level]" if meta["case"].endswith("scale_by_sigma") else "")
    return ", ".join(p for p in parts if p)


def main():
    rows = []
    for ref, fmt in FORMATS.items():
        for case in cases(ref):
            if case.startswith("checkpoint"):
                continue
            fx = Fixture(ref, case)
            cfg = fx.config()
            net = interop.from_state_dict(fx.weights(), cfg, format=fmt)
            err = rel_err(network_output(net, fx), fx.output("net"))
            score = "-"
            if fx.has("score"):
                fn = nets.score_fn_from_config(net, sde_of(fx.meta["config"]["sde"]), cfg)
                score = f"{rel_err(fn(jnp.asarray(fx.input('x')), jnp.asarray(fx.input('t'))), fx.output('score')):.1e}"
                score += f" ({fx.meta['config']['sde']['name']})"
            theirs = fx.meta["params_theirs"]
            unused = unused_reference_params(fx)
            note = f" ({unused:,} unused)" if unused else ""
            rows.append(f"| {ref} | {case} | {options(fx.meta)} | {err:.1e} | {score} | {nets.count_params(net):,} | "
                        f"{theirs:,}{note} |")  # fmt: skip
    fx = Fixture("pytorch_fid", "fid_inception_v3")
    model = metrics.from_state_dict(fx.weights())
    import jax

    pool3, logits = jax.jit(jax.vmap(model))(metrics.preprocess(jnp.asarray(fx.input("x")).transpose(0, 2, 3, 1)))
    stats = sum(v.size for k, v in metrics.to_state_dict(model).items() if k.endswith(("running_mean", "running_var")))
    rows.append(f"| pytorch_fid | fid_inception_v3 | 16px x3 resized to 299, pool3 / logits | "
                f"{rel_err(pool3, fx.output('pool3')):.1e} / {rel_err(logits, fx.output('logits')):.1e} | - | "
                f"{nets.count_params(model) - stats:,} (+{stats:,} BN statistics) | "
                f"{fx.meta['params_theirs']:,} |")  # fmt: skip
    print("| reference | case | options | net rel. err. | score rel. err. | params ours | params theirs |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
