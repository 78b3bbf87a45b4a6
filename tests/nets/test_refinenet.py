"""NCSN v1 (CondRefineNetDilated) and NCSNv2 RefineNets: shapes, level conditioning, 1/sigma output,
jit/vmap/grad, parameter counts against the reference PyTorch layer shapes, bad configs.

Compilation dominates the cost on CPU (the networks have ~75 convolutions), so shapes are checked by
abstract evaluation (`filter_eval_shape`: no allocation, no compilation), and the numerical checks share
one compiled program per network (module-scoped fixtures; the network is an argument, not a constant).
"""

import importlib.util
import math
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
from scoresde.nets import _refinenet_blocks as rnb
from scoresde.nets import layers as L
from scoresde.objectives import geometric_sigmas

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "models"
NGF = 8  # small width for the numerical tests
# Compiling the whole network dominates these tests; skipping LLVM's optimisations cuts it by about a third,
# and running time is negligible at these sizes.
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def load_config(name: str) -> ConfigDict:
    spec = importlib.util.spec_from_file_location(f"_model_config_{name}", CONFIGS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cfg = module.get_config()
    cfg.image_size = 32  # the run code fills it in from the data
    return cfg


def small_config(name: str, image_size: int = 8, num_channels: int = 1, **overrides) -> ConfigDict:
    cfg = load_config("ncsn_cifar" if name == "ncsn" else "ncsnv2_cifar")
    cfg.image_size, cfg.num_channels, cfg.ngf = image_size, num_channels, NGF
    for k, v in overrides.items():
        setattr(cfg, k, v)
    return cfg


def abstract_param_count(module) -> int:
    """Trainable scalars of a module built under filter_eval_shape (leaves are ShapeDtypeStructs)."""
    leaves = jax.tree_util.tree_leaves(module)
    return sum(
        math.prod(leaf.shape)
        for leaf in leaves
        if isinstance(leaf, jax.ShapeDtypeStruct | jax.Array) and jnp.issubdtype(leaf.dtype, jnp.inexact)
    )


def reference_param_count(channels: int, ngf: int, num_levels: int | None) -> int:
    """Parameters of the PyTorch reference, by hand from the layer shapes in its code.

    ermongroup/ncsn models/cond_refinenet_dilated.py CondRefineNetDilated (num_levels = num_classes) or
    ermongroup/ncsnv2 models/ncsnv2.py NCSNv2 with models/layers.py (num_levels None):
    - nn.Conv2d(i, o, k): i o k^2 + o (bias); RCU and CRP convs are conv3x3(bias=False), MSF convs bias=True,
      residual-block convs nn.Conv2d / dilated_conv3x3 / ConvMeanPool with bias;
    - ConditionalInstanceNorm2dPlus(f, L): nn.Embedding(L, 3 f); InstanceNorm2dPlus(f): alpha, gamma, beta (3 f);
    - ConditionalResidualBlock / ResidualBlock: normalize1(in), conv1, normalize2, conv2, and a shortcut when
      resample='down' (ConvMeanPool kernel 1, or dilated_conv3x3 when dilation is set);
    - Cond(RefineBlock): adapt_convs = RCU(in_i, 2 blocks, 2 stages); msf unless start; crp (2 stages);
      output_convs = RCU(features, 3 if end else 1, 2). Only the conditional blocks have norms.
    """
    cond = num_levels is not None

    def conv(i, o, k=3, bias=True):
        return i * o * k * k + (o if bias else 0)

    def norm(f):
        return 3 * f * (num_levels if cond else 1)

    def block_norm(f):  # norms inside RCU / CRP / MSF exist only in the conditional blocks
        return norm(f) if cond else 0

    def res(i, o, down=False, dilation=None):
        n = norm(i)
        if down:
            n += conv(i, i) + norm(i) + conv(i, o)
            n += conv(i, o, 3) if dilation else conv(i, o, 1)
        else:
            assert i == o
            n += conv(i, o) + norm(o) + conv(o, o)
        return n

    def rcu(f, n_blocks):
        return n_blocks * 2 * (conv(f, f, bias=False) + block_norm(f))

    def crp(f):
        return 2 * (conv(f, f, bias=False) + block_norm(f))

    def msf(ins, f):
        return sum(conv(i, f) + block_norm(i) for i in ins)

    def refine(ins, f, start=False, end=False):
        return sum(rcu(i, 2) for i in ins) + (0 if start else msf(ins, f)) + crp(f) + rcu(f, 3 if end else 1)

    g1, g2 = ngf, 2 * ngf
    total = conv(channels, g1) + norm(g1) + conv(g1, channels)  # begin_conv, normalizer, end_conv
    total += 2 * res(g1, g1)
    total += res(g1, g2, down=True) + res(g2, g2)
    total += res(g2, g2, down=True, dilation=2) + res(g2, g2)
    total += res(g2, g2, down=True, dilation=4) + res(g2, g2)
    total += refine([g2], g2, start=True) + refine([g2, g2], g2) + refine([g2, g2], g1) + refine([g1, g1], g1, end=True)
    return total


# ---------------------------------------------------------------------------------------
# shapes (abstract evaluation through the registry)


@pytest.mark.parametrize("name", ["ncsn", "ncsnv2"])
@pytest.mark.parametrize("image_size", [8, 16, 32, 28])
@pytest.mark.parametrize("num_channels", [1, 3])
def test_output_shape(name, image_size, num_channels):
    cfg = small_config(name, image_size, num_channels)
    net = eqx.filter_eval_shape(nets.build, cfg, jr.key(0))
    assert isinstance(net, nets.CondRefineNetDilated if name == "ncsn" else nets.NCSNv2)
    x = jax.ShapeDtypeStruct((num_channels, image_size, image_size), jnp.float32)
    c = jax.ShapeDtypeStruct((), jnp.float32)
    out = eqx.filter_eval_shape(lambda n, x, c: n(x, c), net, x, c)
    assert out.shape == x.shape and out.dtype == jnp.float32
    # every stage is where the reference puts it: layer1 at H, layers 2-4 at H/2 (layers are channels-last)
    bb = net.body
    x_hwc = jax.ShapeDtypeStruct((image_size, image_size, num_channels), jnp.float32)
    h = eqx.filter_eval_shape(lambda b, x: b.begin_conv(x), bb, x_hwc)
    level = jax.ShapeDtypeStruct((), jnp.int32) if name == "ncsn" else None
    sizes = []
    for stage in (bb.res1, bb.res2, bb.res3, bb.res4):
        for block in stage:
            h = eqx.filter_eval_shape(lambda b, h, lv: b(h, lv), block, h, level)
        sizes.append(h.shape)
    half = image_size // 2
    assert sizes == [(image_size, image_size, NGF), (half, half, 2 * NGF), (half, half, 2 * NGF), (half, half, 2 * NGF)]


# ---------------------------------------------------------------------------------------
# numerical checks, one compiled program per network


def _perturb_levels(net, seed: int):
    """Add N(0, 0.3^2) noise to every conditional-norm embedding, so that levels differ clearly."""
    is_cnorm = lambda m: isinstance(m, L.ConditionalInstanceNormPlus)
    cnorms = [m for m in jax.tree_util.tree_leaves(net, is_leaf=is_cnorm) if is_cnorm(m)]
    rng = np.random.default_rng(seed)
    new = [m.embed + jnp.asarray(0.3 * rng.normal(size=m.embed.shape), m.embed.dtype) for m in cnorms]
    return eqx.tree_at(
        lambda n: [m.embed for m in jax.tree_util.tree_leaves(n, is_leaf=is_cnorm) if is_cnorm(m)], net, new
    )


@pytest.fixture(scope="module")
def ncsn_v1():
    cfg = small_config("ncsn")
    net = nets.build(cfg, jr.key(1))
    forward = eqx.filter_jit(lambda n, x, c: jax.vmap(n)(x, c), compiler_options=FAST_COMPILE)
    return cfg, net, forward


@pytest.fixture(scope="module")
def ncsn_v2():
    cfg = small_config("ncsnv2")
    net = nets.build(cfg, jr.key(2))
    w = jr.normal(jr.key(3), (1, 8, 8))

    def value_and_input_grad(n, x, c):
        f = lambda xi, ci: jnp.sum(w * n(xi, ci))
        return jax.vmap(jax.value_and_grad(f))(x, c)

    # jit of vmap of grad, on the whole network
    return cfg, net, eqx.filter_jit(value_and_input_grad, compiler_options=FAST_COMPILE)


def test_ncsn_level_index_rule(ncsn_v1):
    cfg, net, _ = ncsn_v1
    sigmas = geometric_sigmas(cfg.sigma_max, cfg.sigma_min, cfg.num_scales)
    np.testing.assert_allclose(net.sigmas(), sigmas, rtol=1e-12)
    idx = jax.vmap(net.level_index)(jnp.asarray(sigmas, jnp.float32))
    np.testing.assert_array_equal(np.asarray(idx), np.arange(cfg.num_scales))
    ratio = sigmas[0] / sigmas[1]
    # nearest rung in log sigma: just inside the geometric midpoints on either side
    assert int(net.level_index(sigmas[3] * ratio**0.45)) == 3
    assert int(net.level_index(sigmas[3] * ratio**0.55)) == 2
    assert int(net.level_index(sigmas[3] / ratio**0.55)) == 4
    assert int(net.level_index(10.0)) == 0 and int(net.level_index(1e-4)) == cfg.num_scales - 1
    assert int(net.level_index(0.0)) == cfg.num_scales - 1
    # a Python float and a traced scalar both work
    assert int(jax.jit(lambda c: net.level_index(c))(jnp.float32(sigmas[7]))) == 7


def test_ncsn_output_depends_on_level(ncsn_v1):
    cfg, net, forward = ncsn_v1
    sigmas = geometric_sigmas(cfg.sigma_max, cfg.sigma_min, cfg.num_scales)
    net = _perturb_levels(net, 4)
    xa, xb = jr.uniform(jr.key(5), (2, 1, 8, 8))
    c = jnp.asarray([sigmas[0], sigmas[0] * 1.05, sigmas[5], sigmas[9]], jnp.float32)
    out = np.asarray(forward(net, jnp.stack([xa, xa, xa, xa]), c))
    assert out.shape == (4, 1, 8, 8) and np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[0], out[1])  # same level -> same output
    for i, j in [(0, 2), (0, 3), (2, 3)]:
        assert np.max(np.abs(out[i] - out[j])) > 1e-2 * np.max(np.abs(out[i]))
    # vmap keeps samples apart: changing one sample's input changes that sample's output only
    swapped = np.asarray(forward(net, jnp.stack([xa, xb, xa, xa]), c))
    np.testing.assert_array_equal(swapped[[0, 2, 3]], out[[0, 2, 3]])
    assert np.max(np.abs(swapped[1] - out[1])) > 1e-3


def test_ncsn_is_not_class_conditional(ncsn_v1):
    _, net, _ = ncsn_v1
    x = jnp.zeros((1, 8, 8))
    with pytest.raises(ValueError, match="not class-conditional"):
        net(x, 0.5, label=jnp.asarray(1))
    with pytest.raises(ValueError, match="expects x of shape"):
        net(jnp.zeros((3, 8, 8)), 0.5)
    with pytest.raises(ValueError, match="even H and W"):
        net(jnp.zeros((1, 7, 8)), 0.5)


def test_ncsnv2_scales_as_one_over_sigma_and_composes(ncsn_v2):
    _, net, value_and_grad = ncsn_v2
    x = jnp.broadcast_to(jr.uniform(jr.key(6), (1, 8, 8)), (3, 1, 8, 8))
    c = jnp.asarray([0.01, 1.0, 50.0], jnp.float32)
    values, grads = value_and_grad(net, x, c)
    values, grads, c = np.asarray(values), np.asarray(grads), np.asarray(c)
    assert grads.shape == x.shape and np.all(np.isfinite(grads)) and np.all(np.isfinite(values))
    assert np.max(np.abs(grads[1])) > 0
    # the network body ignores c, the output is body / c: value and input-gradient times c are constant
    np.testing.assert_allclose(values * c, np.full(3, values[1] * c[1]), rtol=1e-5)
    np.testing.assert_allclose(
        grads * c[:, None, None, None],
        np.broadcast_to(grads[1], grads.shape),
        rtol=1e-4,
        atol=1e-6 * np.max(np.abs(grads[1])),
    )


def test_score_wrapper_with_sigma_conditioning(ncsn_v1, ncsn_v2):
    """Both networks plug into score_fn_from_net with conditioning='sigma' (checked abstractly)."""
    sde = sdes.VESDE(sigma_min=0.01, sigma_max=50.0)
    x = jax.ShapeDtypeStruct((5, 1, 8, 8), jnp.float32)
    t = jax.ShapeDtypeStruct((5,), jnp.float32)
    for _, net, _ in (ncsn_v1, ncsn_v2):
        score_fn = nets.score_fn_from_net(net, sde, parameterization="score", conditioning="sigma")
        out = jax.eval_shape(score_fn, x, t)
        assert out.shape == x.shape and out.dtype == jnp.float32


def test_norm_layers_match_reference_formula():
    rng = np.random.default_rng(0)
    xn = rng.normal(size=(4, 5, 6)) * 3.0 + np.arange(4.0)[:, None, None]
    x = jnp.asarray(xn, jnp.float32)
    norm = L.ConditionalInstanceNormPlus(4, 3, key=jr.key(7))
    embed = rng.normal(size=norm.embed.shape)
    norm = eqx.tree_at(lambda m: m.embed, norm, jnp.asarray(embed, jnp.float32))
    plain = L.InstanceNormPlus(4, key=jr.key(9))
    # the layers are channels-last: (C, H, W) in and out of this test, (H, W, C) through the layer
    apply = eqx.filter_jit(lambda m, x, lv: jnp.moveaxis(m(jnp.moveaxis(x, 0, -1), lv), -1, 0))
    means = xn.mean(axis=(1, 2))
    h = (xn - means[:, None, None]) / np.sqrt(xn.var(axis=(1, 2))[:, None, None] + 1e-5)
    mplus = (means - means.mean()) / np.sqrt(means.var(ddof=1) + 1e-5)  # torch.var is unbiased
    for level in range(3):
        gamma, alpha, beta = np.split(embed[level], 3)
        want = gamma[:, None, None] * (h + (alpha * mplus)[:, None, None]) + beta[:, None, None]
        np.testing.assert_allclose(np.asarray(apply(norm, x, jnp.asarray(level))), want, rtol=1e-4, atol=1e-5)
    a, g, b = (np.asarray(v, np.float64) for v in (plain.alpha, plain.gamma, plain.beta))
    want = g[:, None, None] * (h + (a * mplus)[:, None, None]) + b[:, None, None]
    np.testing.assert_allclose(np.asarray(apply(plain, x, None)), want, rtol=1e-4, atol=1e-5)
    # initialisation: gamma, alpha ~ N(1, 0.02^2), beta = 0
    fresh = np.asarray(L.ConditionalInstanceNormPlus(64, 10, key=jr.key(10)).embed)
    assert np.all(fresh[:, 128:] == 0)
    assert abs(fresh[:, :128].mean() - 1) < 0.01 and abs(fresh[:, :128].std() - 0.02) < 0.005


def test_pools_and_resize_match_pytorch_semantics():
    rng = np.random.default_rng(1)
    xn, yn = rng.normal(size=(2, 6, 7)), rng.normal(size=(1, 4, 4))
    avg_out, max_out, up = jax.jit(
        lambda x, y: tuple(
            jnp.moveaxis(v, -1, 0)  # the layers are channels-last; compared in (C, H, W)
            for v in (rnb.pool5(x, "avg"), rnb.pool5(x, "max"), rnb.resize_bilinear(y, (8, 8)))
        )
    )(jnp.asarray(np.moveaxis(xn, 0, -1), jnp.float32), jnp.asarray(np.moveaxis(yn, 0, -1), jnp.float32))
    # 5x5, stride 1, padding 2: AvgPool2d counts the zero padding (/25), MaxPool2d ignores it
    pad = np.pad(xn, ((0, 0), (2, 2), (2, 2)))
    avg = np.stack([[[pad[c, i : i + 5, j : j + 5].sum() / 25 for j in range(7)] for i in range(6)] for c in range(2)])
    np.testing.assert_allclose(np.asarray(avg_out), avg, rtol=1e-5, atol=1e-6)
    padm = np.pad(xn, ((0, 0), (2, 2), (2, 2)), constant_values=-np.inf)
    mx = np.stack([[[padm[c, i : i + 5, j : j + 5].max() for j in range(7)] for i in range(6)] for c in range(2)])
    np.testing.assert_allclose(np.asarray(max_out), mx, rtol=1e-6)
    # bilinear with align_corners=True: output index i samples input position i (4 - 1) / (8 - 1)
    pos = np.arange(8) * 3 / 7
    lo = np.minimum(np.floor(pos).astype(int), 2)
    frac = pos - lo
    rows = yn[0][lo] * (1 - frac)[:, None] + yn[0][lo + 1] * frac[:, None]
    want = rows[:, lo] * (1 - frac)[None, :] + rows[:, lo + 1] * frac[None, :]
    np.testing.assert_allclose(np.asarray(up)[0], want, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------
# parameter counts at the reference CIFAR-10 configs (abstract: nothing is allocated)

# Reference counts from reference_param_count (hand count of the PyTorch layer shapes), for the record.
REFERENCE_CIFAR = {"ncsn_cifar": 30_117_635, "ncsnv2_cifar": 29_694_083}


@pytest.mark.parametrize("name", ["ncsn_cifar", "ncsnv2_cifar"])
def test_parameter_count_matches_reference(name):
    cfg = load_config(name)
    net = eqx.filter_eval_shape(nets.build, cfg, jr.key(0))
    ours = abstract_param_count(net)
    levels = cfg.num_scales if cfg.name == "ncsn" else None
    reference = reference_param_count(net.num_channels, net.ngf, levels)
    assert reference == REFERENCE_CIFAR[name]
    assert ours == reference, (name, ours, reference)
    x = jax.ShapeDtypeStruct((3, 32, 32), jnp.float32)
    out = eqx.filter_eval_shape(lambda n, x, c: n(x, c), net, x, jax.ShapeDtypeStruct((), jnp.float32))
    assert out.shape == x.shape


def test_parameter_count_small_configs():
    for name, levels in [("ncsn", 10), ("ncsnv2", None)]:
        for channels in (1, 3):
            cfg = small_config(name, num_channels=channels)
            net = eqx.filter_eval_shape(nets.build, cfg, jr.key(0))
            assert abstract_param_count(net) == reference_param_count(channels, NGF, levels)


# ---------------------------------------------------------------------------------------
# configs


def test_cifar_configs_are_the_reference_settings():
    v1, v2 = load_config("ncsn_cifar"), load_config("ncsnv2_cifar")
    n1, n2 = (eqx.filter_eval_shape(nets.build, c, jr.key(0)) for c in (v1, v2))
    assert (n1.ngf, n1.num_scales, n1.sigma_max, n1.sigma_min) == (128, 10, 1.0, 0.01)
    assert (v2.num_scales, v2.sigma_max, v2.sigma_min) == (232, 50.0, 0.01)
    for cfg, net in ((v1, n1), (v2, n2)):
        assert (net.image_size, net.num_channels, net.ngf, net.nonlinearity, net.centered) == (32, 3, 128, "elu", False)
        assert cfg.conditioning == "sigma" and cfg.parameterization == "score"
        assert nets.spec(cfg.name).fields["normalization"] == "InstanceNorm++"


BAD_CONFIGS = [
    # (variant, field changes, field named in the error)
    ("both", {"image_size": 31}, "model.image_size"),
    ("both", {"image_size": 0}, "model.image_size"),
    ("both", {"image_size": None}, "model.image_size"),
    ("both", {"num_channels": 0}, "model.num_channels"),
    ("both", {"ngf": 1}, "model.ngf"),
    ("both", {"ngf": 2.5}, "model.ngf"),
    ("both", {"nf": 16}, "model.nf"),  # disagrees with ngf
    ("both", {"normalization": "BatchNorm"}, "model.normalization"),
    ("both", {"nonlinearity": "gelu"}, "model.nonlinearity"),
    ("both", {"centered": "no"}, "model.centered"),
    ("both", {"num_classes": 3}, "model.num_classes"),
    ("both", {"ngff": 8}, "model.ngff"),  # a field no backbone has: refused, the valid ones listed
    ("ncsn", {"num_scales": 0}, "model.num_scales"),
    ("ncsn", {"sigma_min": 0.0}, "model.sigma_min"),
    ("ncsn", {"sigma_max": 0.005}, "model.sigma_max"),
    ("ncsn", {"sigma_max": float("inf")}, "model.sigma_max"),
]


BAD_CASES = [
    (name, changes, field)
    for variant, changes, field in BAD_CONFIGS
    for name in (("ncsn", "ncsnv2") if variant == "both" else (variant,))
]


@pytest.mark.parametrize("name,changes,field", BAD_CASES)
def test_bad_config_raises_naming_the_field(name, changes, field):
    fields = small_config(name).to_dict()
    for k, v in changes.items():
        if v is None:
            del fields[k]
        else:
            fields[k] = v
    cfg = ConfigDict(fields)
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        eqx.filter_eval_shape(nets.build, cfg, jr.key(0))


def test_nf_alias_and_case_insensitive_nonlinearity():
    fields = small_config("ncsnv2", nonlinearity="ELU").to_dict()
    fields["nf"] = fields.pop("ngf")
    cfg = ConfigDict(fields)
    net = eqx.filter_eval_shape(nets.build, cfg, jr.key(0))
    assert net.ngf == NGF and net.body.act == "elu"
