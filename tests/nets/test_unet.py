"""score_sde U-Nets (NCSN++, DDPM++, DDPM): parameter counts, shapes, transforms, dropout, configs, FIR."""

import importlib.util
import math
from functools import partial
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from ml_collections import ConfigDict

from scoresde import nets
from scoresde import sde as sdes
from scoresde.nets import DDPM, NCSNpp
from scoresde.nets import _unet_blocks as B
from scoresde.nets import layers as L

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "models"

# Parameter counts of score_sde_pytorch's models at these configs, in millions (tools/reference/count_params.py).
REFERENCE_MILLIONS = {
    "ncsnpp_cifar": 62.69,
    "ncsnpp_deep_cifar": 107.59,
    "ddpmpp_cifar": 61.80,
    "ddpmpp_deep_cifar": 106.63,
    "ddpm_cifar": 35.22,
}

CH_MULT = {8: (1, 2), 16: (1, 2, 2), 32: (1, 2, 2, 2)}


def load_config(name: str) -> ConfigDict:
    spec = importlib.util.spec_from_file_location(f"_model_config_{name}", CONFIGS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cfg = module.get_config()
    cfg.image_size = 32  # the run code fills it in from the data
    return cfg


def n_params(tree) -> int:
    """Scalars in the inexact leaves; works on arrays and on the ShapeDtypeStructs of eval_shape."""
    leaves = jax.tree.leaves(tree)
    return sum(math.prod(a.shape) for a in leaves if hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jnp.inexact))


def tiny_config(name: str, size: int = 16, channels: int = 3, **overrides) -> ConfigDict:
    cfg = dict(
        name=name,
        image_size=size,
        num_channels=channels,
        nf=32 if name == "ddpm" else 8,  # DDPM's GroupNorms have 32 groups
        ch_mult=CH_MULT[size],
        num_res_blocks=1,
        attn_resolutions=(size // 2,),
    )
    return ConfigDict({**cfg, **overrides})


def perturbed(net, seed: int, scale: float = 0.05):
    """The same network with noise added to every float parameter, so no layer starts at ~zero.

    The noise is added on the host with numpy, so this compiles nothing.
    """
    rng = np.random.default_rng(seed)

    def add(a):
        if not eqx.is_inexact_array(a):
            return a
        return jnp.asarray(np.asarray(a) + scale * rng.standard_normal(a.shape).astype(a.dtype))

    return jax.tree.map(add, net)


# Compiling dominates the cost of these tests: compile without XLA's backend optimisations (about
# twice as fast to compile a U-Net on CPU), and share one compiled forward per network structure.
FAST_COMPILE = {"xla_backend_optimization_level": 0}


@partial(jax.jit, compiler_options=FAST_COMPILE)
def apply(net, x, c, key=None, label=None):
    return net(x, c, key=key, label=label)


def abstract_build(cfg):
    """The network as ShapeDtypeStructs: built by tracing only, nothing allocated or compiled."""
    return eqx.filter_eval_shape(nets.build, cfg, jr.key(0))


def condition(name: str) -> jax.Array:
    # NCSN++ embeds log sigma with Fourier features; DDPM++ and DDPM take DDPM steps (999 t).
    return jnp.float32(0.7) if name == "ncsnpp" else jnp.float32(250.0)


# ----------------------------------------------------------------------------- parameter counts


@pytest.mark.parametrize("config_name", sorted(REFERENCE_MILLIONS))
def test_parameter_counts_match_score_sde(config_name):
    cfg = load_config(config_name)
    shapes = eqx.filter_eval_shape(nets.build, cfg, jr.key(0))  # nothing is allocated
    millions = n_params(shapes) / 1e6
    ref = REFERENCE_MILLIONS[config_name]
    assert abs(millions - ref) / ref < 0.02, (config_name, millions, ref)


def test_ncsnpp_reference_count_is_the_positional_variant():
    # 62.69 M is score_sde's NCSN++ with a positional embedding (configs/vp/cifar10_ncsnpp_continuous);
    # the VE model's Fourier features add 2 nf * 4 nf - nf * 4 nf + nf = 65,664 parameters (62.76 M).
    cfg = load_config("ncsnpp_cifar")
    fourier = n_params(eqx.filter_eval_shape(nets.build, cfg, jr.key(0)))
    cfg.embedding_type = "positional"
    positional = n_params(eqx.filter_eval_shape(nets.build, cfg, jr.key(0)))
    assert abs(positional / 1e6 - 62.69) < 0.005
    assert fourier - positional == 2 * 128 * 512 - 128 * 512 + 128


def test_ddpm_class_equals_ncsnpp_code_with_ddpm_settings_in_size():
    cfg = load_config("ddpm_cifar")
    ddpm = n_params(eqx.filter_eval_shape(nets.build, cfg, jr.key(0)))
    as_ncsnpp = dict(resblock_type="ddpm", fir=False, skip_rescale=False, init_scale=0.0)
    as_ncsnpp |= dict(progressive_input="none", embedding_type="positional", num_res_blocks=2)
    ncsnpp = n_params(eqx.filter_eval_shape(lambda k: NCSNpp(image_size=32, key=k, **as_ncsnpp), jr.key(0)))
    assert ddpm == ncsnpp


# ----------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("name", ["ncsnpp", "ddpmpp", "ddpm"])
@pytest.mark.parametrize("size", [8, 16, 32])
@pytest.mark.parametrize("channels", [1, 3])
def test_output_shape(name, size, channels):
    net = abstract_build(tiny_config(name, size, channels))
    x = jax.ShapeDtypeStruct((channels, size, size), jnp.float32)
    out = jax.eval_shape(lambda n, x: n(x, condition(name)), net, x)
    assert out.shape == x.shape and out.dtype == jnp.float32


@pytest.mark.parametrize(
    "options",
    [
        dict(progressive="output_skip", progressive_input="input_skip", progressive_combine="cat"),
        dict(progressive="residual", progressive_input="input_skip", progressive_combine="sum"),
        dict(progressive="output_skip", progressive_input="residual", fir=False),
        dict(resblock_type="ddpm", fir=True, progressive="residual", progressive_input="residual"),
        dict(resblock_type="ddpm", fir=False, resamp_with_conv=False, embedding_type="positional"),
        dict(resblock_type="biggan", conditional=False, num_classes=3, skip_rescale=False),
    ],
)
def test_ncsnpp_options_shapes(options):
    net = abstract_build(tiny_config("ncsnpp", 16, 3, **options))
    x = jax.ShapeDtypeStruct((3, 16, 16), jnp.float32)
    label = 2 if options.get("num_classes") else None
    out = jax.eval_shape(lambda n, x: n(x, jnp.float32(0.5), label=label), net, x)
    assert out.shape == x.shape


@pytest.fixture(scope="module")
def small_nets():
    """Small 8x8 networks of each kind with perturbed parameters, built once for the module."""
    cfgs = {name: tiny_config(name, 8, 3, dropout=0.5, num_classes=4) for name in ("ncsnpp", "ddpmpp", "ddpm")}
    return {name: perturbed(nets.build(cfg, jr.key(0)), seed=1) for name, cfg in cfgs.items()}


def test_fresh_network_output_is_near_zero():
    # init_scale = 0: every block's last conv, the attention output and the output conv start at ~1e-10
    # scale, as in score_sde, so a new network outputs ~0 (checked on the weights: no forward compiled).
    for name in ("ncsnpp", "ddpm"):
        fresh = nets.build(tiny_config(name, 8, 3), jr.key(0))
        last = [fresh.out_conv.weight, fresh.mid[1].out.weight] + [b.conv1.weight for b in fresh.mid[::2]]
        assert all(float(jnp.max(jnp.abs(w))) < 1e-4 for w in last)  # sqrt(3e-10 / fan_avg)
        assert float(jnp.max(jnp.abs(fresh.conv_in.weight))) > 0.1  # the others are not


@pytest.mark.slow
def test_jit_vmap_grad_compose(small_nets):
    # One gradient compile (NCSN++, whose blocks DDPM++ and DDPM share); equality with the reference
    # code, every option included, is tests/interop/.
    net = small_nets["ncsnpp"]
    xs = jr.normal(jr.key(2), (2, 3, 8, 8))
    cs = jnp.stack([condition("ncsnpp"), 0.5 * condition("ncsnpp")])

    @partial(jax.jit, compiler_options=FAST_COMPILE)
    def loss_and_grads(net, xs, cs):
        def loss(net, xs):
            out = jax.vmap(lambda x, c: net(x, c))(xs, cs)
            return jnp.sum(out**2), out

        return jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(net, xs)

    (_, batched), (g_net, g_x) = loss_and_grads(net, xs, cs)
    looped = jnp.stack([net(xs[i], cs[i]) for i in range(2)])  # eager, one sample at a time
    np.testing.assert_allclose(batched, looped, rtol=1e-4, atol=1e-5)
    flat = jnp.concatenate([g.ravel() for g in jax.tree.leaves(g_net)])
    assert bool(jnp.all(jnp.isfinite(flat))) and float(jnp.max(jnp.abs(flat))) > 0
    assert g_x.shape == xs.shape and float(jnp.max(jnp.abs(g_x))) > 0
    assert not jnp.allclose(batched[0], batched[1])  # the condition matters


@pytest.mark.parametrize("name", ["ncsnpp", "ddpm"])
def test_dropout_needs_a_key_and_follows_it(name, small_nets):
    net = small_nets[name]  # eager calls: the ops compile once per shape and are reused
    x, c = jr.normal(jr.key(2), (3, 8, 8)), condition(name)
    plain, plain_again = net(x, c), net(x, c, key=None)
    a, a_again, b = (net(x, c, key=jr.key(k), label=0) for k in (10, 10, 11))
    np.testing.assert_array_equal(plain, plain_again)
    np.testing.assert_array_equal(a, a_again)
    assert not jnp.allclose(a, b)
    # Class labels shift the output (same key, so the same dropout masks).
    assert not jnp.allclose(a, net(x, c, key=jr.key(10), label=3))


def test_dropout_helper():
    h = jnp.asarray(np.random.default_rng(0).normal(size=(4, 8, 8)), jnp.float32)
    np.testing.assert_array_equal(L.dropout(h, 0.0, jr.key(1)), h)
    np.testing.assert_array_equal(L.dropout(h, 0.5, None), h)
    d = L.dropout(h, 0.5, jr.key(1))
    kept = d != 0
    assert 0.3 < float(kept.mean()) < 0.7
    np.testing.assert_allclose(d[kept], 2 * h[kept], rtol=1e-6)


def test_class_label_embedding_has_a_null_row(small_nets):
    assert small_nets["ddpmpp"].label_embed.weight.shape == (5, 32)  # 4 classes + 1 null class (CFG)
    assert small_nets["ddpm"].label_embed.weight.shape == (5, 128)


def test_score_wrapper_batches_a_unet(small_nets):
    score_fn = nets.score_fn_from_net(
        small_nets["ncsnpp"], sdes.VESDE(), parameterization="scale_by_sigma", conditioning="log_sigma"
    )
    x, t = jr.normal(jr.key(2), (2, 3, 8, 8)), jnp.array([0.2, 0.8])
    s = eqx.filter_eval_shape(score_fn, x, t)
    assert s.shape == x.shape


# ----------------------------------------------------------------------------- configuration errors


@pytest.mark.parametrize(
    ("name", "bad", "field"),
    [
        ("ncsnpp", dict(image_size=18), "ch_mult"),
        ("ddpmpp", dict(ch_mult=(1, 2, 2, 2, 2, 2)), "ch_mult"),
        ("ddpm", dict(image_size=10), "ch_mult"),
        ("ncsnpp", dict(attn_resolutions=(7,)), "attn_resolutions"),
        ("ddpm", dict(attn_resolutions=(16, 32)), "attn_resolutions"),
        ("ncsnpp", dict(resblock_type="wide"), "resblock_type"),
        ("ddpmpp", dict(embedding_type="learned"), "embedding_type"),
        ("ncsnpp", dict(progressive="input_skip"), "progressive"),
        ("ncsnpp", dict(progressive_input="output_skip"), "progressive_input"),
        ("ddpmpp", dict(progressive_combine="mean"), "progressive_combine"),
        ("ddpmpp", dict(nonlinearity="tanh"), "nonlinearity"),
        ("ddpm", dict(image_size=None), "image_size"),
    ],
)
def test_bad_config_names_the_field(name, bad, field):
    cfg = tiny_config(name, 16, 3)
    for k, v in bad.items():
        cfg[k] = v
    with pytest.raises(ValueError, match=rf"model\.{field}\b"):
        nets.build(cfg, jr.key(0))


def test_bad_arguments_raise_in_the_classes_too():
    with pytest.raises(ValueError, match="ch_mult"):
        NCSNpp(image_size=24, ch_mult=(1, 2, 2, 2), key=jr.key(0))
    with pytest.raises(ValueError, match="attn_resolutions"):
        DDPM(image_size=32, attn_resolutions=(3,), key=jr.key(0))
    with pytest.raises(ValueError, match="multiple of 32"):
        DDPM(image_size=8, nf=16, ch_mult=(1, 2), attn_resolutions=(), key=jr.key(0))
    net = nets.build(tiny_config("ddpm", 8, 3), jr.key(0))
    with pytest.raises(ValueError, match="shape"):
        net(jnp.zeros((1, 8, 8)), 1.0)


# ----------------------------------------------------------------------------- FIR and plain resampling


def hwc(x):
    """(C, H, W) -> (H, W, C): the layers' channels-last layout."""
    return jnp.moveaxis(jnp.asarray(x), 0, -1)


def chw(y):
    return jnp.moveaxis(y, -1, 0)


def _numpy_upfirdn2d(x, k, up, down, pad):
    """StyleGAN2's reference upfirdn_2d, in plain numpy loops."""
    c, h, w = x.shape
    z = np.zeros((c, h * up, w * up), x.dtype)
    z[:, ::up, ::up] = x
    p0, p1 = pad
    z = np.pad(z, ((0, 0), (max(p0, 0), max(p1, 0)), (max(p0, 0), max(p1, 0))))
    z = z[:, max(-p0, 0) : z.shape[1] - max(-p1, 0), max(-p0, 0) : z.shape[2] - max(-p1, 0)]
    kf, n = k[::-1, ::-1], k.shape[0]
    out = np.zeros((c, z.shape[1] - n + 1, z.shape[2] - n + 1))
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            out[:, i, j] = (z[:, i : i + n, j : j + n] * kf).sum((1, 2))
    return out[:, ::down, ::down]


@pytest.mark.parametrize(("up", "down", "pad"), [(2, 1, (2, 1)), (1, 2, (1, 1)), (1, 1, (-1, 2)), (2, 2, (0, 3))])
def test_upfirdn2d_matches_the_stylegan2_reference(up, down, pad):
    x = np.random.default_rng(0).normal(size=(2, 6, 6)).astype(np.float32)
    k = L.setup_kernel([1, 2, 3, 1]) * np.arange(1, 17).reshape(4, 4)  # asymmetric: checks the flip
    got = chw(L.upfirdn2d(hwc(x), k, up=up, down=down, pad=pad))
    np.testing.assert_allclose(got, _numpy_upfirdn2d(x, k, up, down, pad), rtol=1e-5, atol=1e-5)


def test_fir_resampling_keeps_constants_in_the_interior():
    x = jnp.full((8, 8, 2), 3.0)
    up, down = L.upsample_2d(x), L.downsample_2d(x)
    assert up.shape == (16, 16, 2) and down.shape == (4, 4, 2)
    np.testing.assert_allclose(up[1:-1, 1:-1], 3.0, rtol=1e-6)
    np.testing.assert_allclose(down[1:-1, 1:-1], 3.0, rtol=1e-6)


def test_fir_down_after_up_preserves_the_mean():
    # For an image that vanishes near the border no filter mass leaves the frame.
    x = jnp.pad(jr.normal(jr.key(0), (8, 8, 3)) + 1.0, ((3, 3), (3, 3), (0, 0)))
    y = L.downsample_2d(L.upsample_2d(x))
    assert y.shape == x.shape
    np.testing.assert_allclose(jnp.mean(y, axis=(0, 1)), jnp.mean(x, axis=(0, 1)), rtol=1e-5)
    np.testing.assert_allclose(jnp.mean(L.upsample_2d(x), axis=(0, 1)), jnp.mean(x, axis=(0, 1)), rtol=1e-5)


def test_fused_fir_conv_with_identity_weight_equals_fir_resampling():
    x = jr.normal(jr.key(0), (8, 8, 2))
    identity = jnp.zeros((2, 2, 3, 3)).at[0, 0, 1, 1].set(1.0).at[1, 1, 1, 1].set(1.0)
    for up, resample in ((True, L.upsample_2d), (False, L.downsample_2d)):
        conv = L.Conv2d(2, 2, 3, up=up, down=not up, key=jr.key(1))
        conv = eqx.tree_at(lambda c: c.weight, conv, identity)
        np.testing.assert_allclose(conv(x), resample(x), atol=1e-6)


def test_plain_resampling():
    x = jr.normal(jr.key(0), (2, 6, 6))
    np.testing.assert_allclose(chw(L.naive_downsample_2d(L.naive_upsample_2d(hwc(x)))), x, rtol=1e-6)
    np.testing.assert_allclose(chw(L.naive_upsample_2d(hwc(x)))[:, ::2, 1::2], x, rtol=0)  # nearest: copies
    down = chw(B.Downsample(2, key=jr.key(1))(hwc(x)))  # DDPM: 2x2 average
    np.testing.assert_allclose(down, x.reshape(2, 3, 2, 3, 2).mean((2, 4)), rtol=1e-6)
    assert B.Downsample(2, 5, with_conv=True, key=jr.key(1))(hwc(x)).shape == (3, 3, 5)
    assert B.Upsample(2, 5, with_conv=True, fir=True, key=jr.key(1))(hwc(x)).shape == (12, 12, 5)


def test_group_norm_and_pixel_attention_match_their_formulas():
    """GroupNorm (torch.nn.GroupNorm: biased variance per group over (C / G, H, W)) and single-head pixel
    attention (softmax(q k^T / sqrt(C)) v over the H W pixels, plus the residual), numpy float64."""
    rng = np.random.default_rng(3)
    xn = rng.normal(size=(8, 5, 6)) * 2.0 + np.arange(8.0)[:, None, None]  # a different mean per channel
    norm = eqx.tree_at(
        lambda m: (m.weight, m.bias),
        L.GroupNorm(8, 4),
        (jnp.asarray(rng.normal(size=8), jnp.float32), jnp.asarray(rng.normal(size=8), jnp.float32)),
    )
    g = xn.reshape(4, 2, 5, 6)
    want = ((g - g.mean((1, 2, 3), keepdims=True)) / np.sqrt(g.var((1, 2, 3), keepdims=True) + 1e-6)).reshape(8, 5, 6)
    want = want * np.asarray(norm.weight)[:, None, None] + np.asarray(norm.bias)[:, None, None]
    x = jnp.asarray(xn, jnp.float32)
    np.testing.assert_allclose(chw(eqx.filter_jit(lambda m, x: m(x))(norm, hwc(x))), want, rtol=1e-5, atol=1e-5)

    attn = L.PixelAttention(8, groups=4, init_scale=1.0, key=jr.key(4))
    y = np.asarray(chw(attn.norm(hwc(x))), np.float64).reshape(8, 30).T  # (pixels, C)
    q, k, v = (y @ np.asarray(p.weight, np.float64).T + np.asarray(p.bias) for p in (attn.q, attn.k, attn.v))
    logits = q @ k.T / np.sqrt(8.0)
    w = np.exp(logits - logits.max(1, keepdims=True))
    a = (w / w.sum(1, keepdims=True)) @ v
    out = a @ np.asarray(attn.out.weight, np.float64).T + np.asarray(attn.out.bias)
    got = chw(eqx.filter_jit(lambda m, x: m(x))(attn, hwc(x)))
    np.testing.assert_allclose(got, xn + out.T.reshape(8, 5, 6), rtol=1e-4, atol=1e-5)


def test_default_init_variance_and_zero_init():
    conv = B.conv3x3(64, 64, key=jr.key(0))
    fan_avg = 64 * 9
    np.testing.assert_allclose(jnp.var(conv.weight), 1.0 / fan_avg, rtol=0.05)
    assert float(jnp.max(jnp.abs(B.conv3x3(64, 64, scale=0.0, key=jr.key(0)).weight))) < 1e-6
    assert not bool(jnp.any(conv.bias))
    assert L.score_sde_groups(8) == 2 and L.score_sde_groups(128) == 32 and L.score_sde_groups(512) == 32
