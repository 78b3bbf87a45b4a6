"""Fixtures from yang-song/score_sde (the Flax original): NCSN++ options that score_sde_pytorch cannot run
(progressive='residual', DDPM blocks with their x2 Upsample, FIR up-convolutions), the DDPM model, and a
small checkpoint in the repository's own format (flax.training.checkpoints' msgpack of run_lib's State).

    /tmp/refjax/bin/python tools/reference/make_score_sde_flax.py     (REFERENCE_SRC=/tmp/src by default)

Run with jax + flax + ml_collections (no tensorflow): score_sde's utils.py imports tensorflow for file IO
only, so an empty module stands in for it, and models/utils.py annotates a field with flax.optim (gone
from flax), so a placeholder class is given; no file of the reference is changed.
"""

import sys
import types

import flax
import flax.serialization
import flax.training.checkpoints  # noqa: F401  (imported before the tensorflow stand-in below)
import jax
import jax.numpy as jnp
import numpy as np
from common import OUT, random_weights, save_case, use_reference

sys.modules.setdefault("tensorflow", types.ModuleType("tensorflow"))  # utils.py: tf.io.gfile for image files
flax.optim = types.SimpleNamespace(Optimizer=object)  # models/utils.py: State.optimizer's annotation
use_reference("score_sde")

import sde_lib  # noqa: E402
from configs.ve import cifar10_ncsnpp_continuous as ve_ncsnpp  # noqa: E402
from configs.vp.ddpm import cifar10_continuous as vp_ddpm  # noqa: E402
from models import ddpm, ncsnpp  # noqa: E402, F401  (registers the models)
from models import utils as mutils  # noqa: E402

REPO = "yang-song/score_sde"
NCSNPP_FIELDS = (
    "nf", "ch_mult", "num_res_blocks", "attn_resolutions", "dropout", "resamp_with_conv", "conditional", "fir",
    "fir_kernel", "skip_rescale", "resblock_type", "progressive", "progressive_input", "progressive_combine",
    "init_scale", "embedding_type", "fourier_scale", "nonlinearity",
)  # fmt: skip
DDPM_FIELDS = ("nf", "ch_mult", "num_res_blocks", "attn_resolutions", "dropout", "resamp_with_conv", "nonlinearity")


def config_of(base, *, image_size, channels=3, **model):
    cfg = base.get_config()
    cfg.data.image_size, cfg.data.num_channels = image_size, channels
    for k, v in model.items():
        setattr(cfg.model, k, v)
    return cfg


def ours(cfg, name, fields, **extra):
    m = {}
    for f in fields:
        if f in cfg.model:
            v = getattr(cfg.model, f)
            m[f] = list(v) if isinstance(v, tuple | list) else v
    m.update(name=name, image_size=cfg.data.image_size, num_channels=cfg.data.num_channels, centered=cfg.data.centered)
    return {**m, **extra}


def flat(tree, prefix=""):
    out = {}
    for k, v in tree.items():
        name = f"{prefix}/{k}" if prefix else k
        out.update(flat(v, name) if isinstance(v, dict) else {name: v})
    return out


def unflat(items):
    tree = {}
    for name, v in items.items():
        node = tree
        *parents, leaf = name.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = v
    return tree


def init(cfg, seed):
    model = mutils.get_model(cfg.model.name)(config=cfg)
    x = jnp.zeros((1, cfg.data.image_size, cfg.data.image_size, cfg.data.num_channels))
    variables = model.init({"params": jax.random.PRNGKey(seed), "dropout": jax.random.PRNGKey(seed + 1)}, x,
                           jnp.ones((1,)), train=False)  # fmt: skip
    params = flax.core.unfreeze(variables["params"])
    keys = list(flat(params))
    shapes = [tuple(flat(params)[k].shape) for k in keys]
    weights, offsets, scales = random_weights(list(zip(keys, shapes, strict=True)), seed)
    record = dict(keys=keys, shapes=shapes, offsets=offsets, scales=scales, weights=weights)
    return model, unflat({k: jnp.asarray(v) for k, v in weights.items()}), record


def nchw(a):
    return np.asarray(a).transpose(0, 3, 1, 2)


def run_case(case, cfg, our, *, seed, labels, cond, divisor, score_sde=None, raw=None, extra=None):
    """Random weights, fixed inputs; the network's output, the score (`score_sde`), and the output with the
    weights `raw(params)` (a checkpoint's non-EMA weights)."""
    model, params, record = init(cfg, seed)
    rng = np.random.RandomState(seed)
    x = rng.uniform(size=(2, cfg.data.image_size, cfg.data.image_size, cfg.data.num_channels)).astype(np.float32)
    if cfg.data.centered:
        x = 2 * x - 1
    out = dict(net=nchw(model.apply({"params": params}, x, labels, train=False)))
    if raw is not None:
        out["net_raw"] = nchw(model.apply({"params": raw(params)}, x, labels, train=False))
    inputs = dict(x=nchw(x), labels=np.asarray(labels), c=np.asarray(cond), divisor=np.asarray(divisor))
    if score_sde is not None:
        sde = (sde_lib.VESDE(cfg.model.sigma_min, cfg.model.sigma_max, cfg.model.num_scales) if score_sde == "ve"
               else sde_lib.VPSDE(cfg.model.beta_min, cfg.model.beta_max, cfg.model.num_scales))  # fmt: skip
        t = jnp.asarray([0.31, 0.93])
        out["score"] = nchw(mutils.get_score_fn(sde, model, params, {}, train=False, continuous=True)(x, t))
        inputs["t"] = np.asarray(t)
        our = dict(our, sde=dict(name=score_sde, sigma_min=cfg.model.sigma_min, sigma_max=cfg.model.sigma_max,
                                 beta_min=cfg.model.beta_min, beta_max=cfg.model.beta_max))  # fmt: skip
    n = sum(int(np.prod(s)) for s in record["shapes"])
    save_case("score_sde", case, repo=REPO, model=cfg.model.name, config=our, seed=seed, inputs=inputs,
              outputs=out, params_theirs=n, extra=extra, **record)  # fmt: skip
    return model, params


def ncsnpp_cases():
    small = dict(nf=16, ch_mult=(1, 2, 2), num_res_blocks=1, attn_resolutions=(8,))
    sigmas = jnp.asarray([0.05, 7.0])
    for case, seed, extra in (
        ("ncsnpp_cifar_layout", 71, {}),
        ("ncsnpp_residual_fir", 72, dict(progressive="residual")),
        ("ncsnpp_residual_nofir_input_skip_cat", 73, dict(progressive="residual", fir=False,
                                                          progressive_input="input_skip", progressive_combine="cat")),
        ("ncsnpp_ddpm_blocks_fir_conv", 74, dict(resblock_type="ddpm", progressive="output_skip")),
        ("ncsnpp_ddpm_blocks_nofir_conv", 75, dict(resblock_type="ddpm", fir=False, progressive_input="none")),
    ):  # fmt: skip
        cfg = config_of(ve_ncsnpp, image_size=16, **{**small, **extra})
        our = ours(cfg, "ncsnpp", NCSNPP_FIELDS, parameterization="scale_by_sigma", conditioning="log_sigma")
        run_case(case, cfg, our, seed=seed, labels=sigmas, cond=jnp.log(sigmas), divisor=sigmas,
                 score_sde="ve" if case == "ncsnpp_cifar_layout" else None)  # fmt: skip


def ddpm_case():
    cfg = config_of(vp_ddpm, image_size=8, nf=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(4,))
    steps = jnp.asarray([5.0, 640.0])
    our = ours(cfg, "ddpm", DDPM_FIELDS, parameterization="eps", conditioning="t999")
    run_case("ddpm_vp", cfg, our, seed=76, labels=steps, cond=steps, divisor=np.ones(2), score_sde="vp")


def checkpoint_file():
    """A tiny NCSN++ saved as run_lib.py saves its State (flax.training.checkpoints: msgpack of the state dict)."""
    cfg = config_of(ve_ncsnpp, image_size=8, nf=4, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(4,))
    sigmas = jnp.asarray([0.1, 20.0])
    our = ours(cfg, "ncsnpp", NCSNPP_FIELDS, parameterization="scale_by_sigma", conditioning="log_sigma")

    def rawify(params):  # the raw weights differ from the EMA
        return jax.tree_util.tree_map(lambda a: a * 0.5 + 0.01, params)

    model, params_ema = run_case("checkpoint_ncsnpp_8px", cfg, our, seed=77, labels=sigmas, cond=jnp.log(sigmas),
                                 divisor=sigmas, raw=rawify, extra=dict(checkpoint="checkpoint_26"))  # fmt: skip
    raw = rawify(params_ema)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, raw)
    state = {  # flax.serialization.to_state_dict of models.utils.State (fields in their order)
        "step": 26,
        "optimizer": {"target": raw, "state": {"step": 26, "param_states": {"grad_ema": zeros, "grad_sq_ema": zeros}}},
        "lr": 2e-4,
        "model_state": {},
        "ema_rate": 0.999,
        "params_ema": params_ema,
        "rng": jax.random.PRNGKey(0),
    }
    path = OUT / "score_sde" / "checkpoint_26"
    path.write_bytes(flax.serialization.msgpack_serialize(state))
    print(f"wrote {path} ({path.stat().st_size / 1024:.1f} KiB)")


if __name__ == "__main__":
    ncsnpp_cases()
    ddpm_case()
    checkpoint_file()
