"""DiT (adaLN-Zero): shapes, zero init, conditioning, label dropout, transforms, remat, bf16, scan, configs.

Compile time dominates on CPU, so most tests share one tiny architecture (`std`): the network's
compiled forward is cached per architecture and reused across tests.
"""

import importlib.util
import math
from pathlib import Path

import equinox as eqx
import jax
import jax.extend.core
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from ml_collections import ConfigDict

from scoresde import nets
from scoresde.nets import DiT
from scoresde.nets.layers import sincos_2d_position_embedding

NULL = 5  # std nets have 5 classes; the null class is index 5


def tiny(size=8, channels=3, *, patch=2, key=None, **kw):
    kw = {"hidden_size": 16, "depth": 2, "num_heads": 2, "num_classes": NULL, **kw}
    return DiT(size, channels, patch_size=patch, key=jr.key(0) if key is None else key, **kw)


def std(**kw):
    """The shared tiny architecture: 8x8x3, patch 2, width 16, 2 blocks, 2 heads, 5 classes."""
    return tiny(8, 3, patch=2, **kw)


@eqx.filter_jit
def randomized(net, key, scale=0.3):
    """The same architecture with every float parameter drawn at random (so nothing is zero); one draw."""
    params, static = eqx.partition(net, eqx.is_inexact_array)
    leaves, treedef = jax.tree.flatten(params)
    flat = scale * jr.normal(key, (sum(a.size for a in leaves),))
    offsets = np.cumsum([0] + [a.size for a in leaves])
    leaves = [flat[o : o + a.size].reshape(a.shape) for o, a in zip(offsets, leaves, strict=False)]
    return eqx.combine(jax.tree.unflatten(treedef, leaves), static)


def n_params(tree) -> int:
    leaves = jax.tree.leaves(tree)
    return sum(math.prod(a.shape) for a in leaves if jnp.issubdtype(a.dtype, jnp.inexact))


X = jr.normal(jr.key(100), (3, 8, 8))


@pytest.mark.parametrize(("size", "channels"), [(8, 1), (16, 3), (32, 1)])
def test_shapes(size, channels):
    net = randomized(tiny(size, channels, patch=2 if size == 8 else 4), jr.key(1))
    x = jr.normal(jr.key(2), (channels, size, size))
    y = net(x, jnp.float32(3.0), label=1)
    assert y.shape == x.shape and y.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(y))) and float(jnp.abs(y).max()) > 0


def test_zero_output_at_init_and_learn_sigma_channels():
    net = std(learn_sigma=True)
    for c, label in [(0.0, 2), (500.0, 4), (-3.0, 0)]:
        assert bool(jnp.all(net.forward_with_variance(X, c, label=label) == 0.0))
    assert bool(jnp.all(net(X, 7.0) == 0.0))
    rnd = randomized(net, jr.key(1))
    full = rnd.forward_with_variance(X, 0.5, label=1)
    assert full.shape == (6, 8, 8)
    np.testing.assert_array_equal(rnd(X, 0.5, label=1), full[:3])
    with pytest.raises(ValueError, match="learn_sigma"):
        std().forward_with_variance(X, 0.5)


def test_patches_stay_local_without_attention():
    """Gates at zero make every block the identity: an output patch then depends on its own input patch only.

    Checks that patchify and unpatchify agree, on a non-square image (8 x 16, patch 4: a 2 x 4 patch grid).
    """
    net = tiny((8, 16), 2, patch=4)
    rnd = randomized(net, jr.key(4))
    net = eqx.tree_at(lambda m: (m.final.linear, m.patch_embed), net, (rnd.final.linear, rnd.patch_embed))
    x = jr.normal(jr.key(5), (2, 8, 16))
    jac = jax.jit(jax.jacrev(lambda z: net(z, 1.0)))(x)  # (2, 8, 16, 2, 8, 16)
    dep = jnp.abs(jac).sum(axis=(0, 3)) > 0  # output pixel (i, j) depends on input pixel (m, n)
    i, j, m, n = np.meshgrid(*(np.arange(s) for s in (8, 16, 8, 16)), indexing="ij")
    same_patch = (i // 4 == m // 4) & (j // 4 == n // 4)
    np.testing.assert_array_equal(np.asarray(dep), same_patch)


def test_position_embedding_layout():
    pe = sincos_2d_position_embedding(8, 2, 3)  # rows 2, cols 3, row-major tokens
    assert pe.shape == (6, 8)
    grid = pe.reshape(2, 3, 8)
    np.testing.assert_allclose(grid[0, :, :4], grid[1, :, :4])  # first half: the column only
    np.testing.assert_allclose(grid[:, 0, 4:], grid[:, 2, 4:])  # second half: the row only
    np.testing.assert_allclose(grid[0, 0], [0, 0, 1, 1, 0, 0, 1, 1])  # sin(0), cos(0)


def _train(net, steps, key):
    """The nets after each of `steps` Adam steps on a regression whose target depends on x, c and the label."""
    b = 8
    kx, kc = jr.split(key)
    x = jr.normal(kx, (b, 3, 8, 8))
    c = jr.uniform(kc, (b,), minval=0.0, maxval=999.0)
    y = jnp.arange(b) % 4
    target = x * jnp.sin(c / 100.0)[:, None, None, None] + 0.5 * y[:, None, None, None]

    def loss(params):
        model = eqx.combine(params, static)
        out = jax.vmap(lambda xi, ci, yi: model(xi, ci, label=yi))(x, c, y)
        return jnp.mean((out - target) ** 2)

    @jax.jit
    def step(params, state):
        grads = jax.grad(loss)(params)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    params, static = eqx.partition(net, eqx.is_inexact_array)
    opt = optax.adam(1e-2)
    state = opt.init(params)
    trained = []
    for _ in range(steps):
        params, state = step(params, state)
        trained.append(eqx.combine(params, static))
    return trained


def test_conditioning_after_optimisation_steps():
    """adaLN-Zero: one step only moves the final Linear (everything else gets a zero gradient), so the
    output becomes non-zero but still ignores c and the label; from the second step on the modulations
    (and the gates) move and the output depends on both."""
    one, _, three = _train(std(), 3, jr.key(7))
    assert float(jnp.abs(one(X, 10.0, label=0)).max()) > 0
    np.testing.assert_array_equal(one(X, 10.0, label=0), one(X, 700.0, label=3))
    base = three(X, 10.0, label=0)
    assert float(jnp.abs(three(X, 700.0, label=0) - base).max()) > 1e-4  # depends on c
    assert float(jnp.abs(three(X, 10.0, label=3) - base).max()) > 1e-4  # depends on the label
    assert float(jnp.abs(three(X, 10.0) - base).max()) > 1e-4  # the null class differs from class 0


def test_none_label_is_null_class():
    net = randomized(std(), jr.key(8))
    assert net.null_class == NULL
    np.testing.assert_array_equal(net(X, 2.0), net(X, 2.0, label=NULL))
    assert float(jnp.abs(net(X, 2.0, label=0) - net(X, 2.0)).max()) > 1e-4


def test_unconditional_net_rejects_labels():
    net = eqx.filter_eval_shape(tiny, num_classes=0)
    with pytest.raises(ValueError, match="num_classes=0"):
        net(X, 1.0, label=1)


def test_label_dropout_only_with_key():
    net = randomized(std(), jr.key(11))  # class_dropout 0.1
    keys = jr.split(jr.key(12), 4000)
    labels = jax.vmap(lambda k: net._label(jnp.int32(2), k))(keys)
    assert set(np.unique(labels).tolist()) == {2, NULL}
    assert abs(float(jnp.mean(labels == NULL)) - 0.1) < 0.02
    dropping, keeping = keys[int(jnp.argmax(labels == NULL))], keys[int(jnp.argmax(labels == 2))]
    cond, null = net(X, 1.0, label=2), net(X, 1.0)
    np.testing.assert_array_equal(net(X, 1.0, label=2, key=dropping), null)  # a key (training): dropped
    np.testing.assert_array_equal(net(X, 1.0, label=2, key=keeping), cond)
    assert float(jnp.abs(cond - null).max()) > 1e-4  # no key (evaluation): the label is used
    # probability 0 never drops, probability 1 always (with a key), None stays the null class
    for p, expected in [(0.0, 2), (1.0, NULL)]:
        shaped = eqx.filter_eval_shape(std, class_dropout=p)
        assert int(shaped._label(2, jr.key(0))) == expected and int(shaped._label(2, None)) == 2
    assert int(net._label(None, jr.key(0))) == NULL


def test_jit_vmap_grad_compose():
    net = randomized(std(), jr.key(13))
    x = jr.normal(jr.key(14), (4, 3, 8, 8))
    c = jnp.linspace(0.0, 900.0, 4)
    y = jnp.array([0, 1, 2, 0])
    keys = jr.split(jr.key(15), 4)

    def batched(model, x, c, y, keys):
        return jax.vmap(lambda xi, ci, yi, ki: model(xi, ci, label=yi, key=ki))(x, c, y, keys)

    eager = jnp.stack([net(x[i], c[i], label=y[i], key=keys[i]) for i in range(4)])
    np.testing.assert_allclose(eqx.filter_jit(batched)(net, x, c, y, keys), eager, atol=1e-5, rtol=1e-5)

    # gradient in the parameters and the input at once, under jit; checked against a finite difference
    # along a random direction, computed with the (already compiled) batched forward
    fwd = eqx.filter_jit(batched)
    loss = lambda model, x: jnp.mean(batched(model, x, c, y, keys) ** 2)
    g_net, g_x = eqx.filter_jit(eqx.filter_grad(lambda pair: loss(*pair)))((net, x))
    assert g_x.shape == x.shape and float(jnp.abs(g_x).max()) > 0
    grads = jax.tree.leaves((g_net, g_x))
    assert all(bool(jnp.all(jnp.isfinite(a))) for a in grads)
    params, static = eqx.partition((net, x), eqx.is_inexact_array)
    direction = eqx.filter(randomized((net, x), jr.key(16), scale=1.0), eqx.is_inexact_array)
    analytic = sum(jnp.vdot(a, d) for a, d in zip(grads, jax.tree.leaves(direction), strict=True))
    eps = 1e-3

    def loss_at(s):
        model, xs = eqx.combine(jax.tree.map(lambda a, d: a + s * d, params, direction), static)
        return jnp.mean(fwd(model, xs, c, y, keys) ** 2)

    numeric = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
    np.testing.assert_allclose(numeric, analytic, rtol=2e-2)


def test_remat_same_output_and_gradient():
    base = randomized(std(), jr.key(16))
    remat = randomized(std(remat=True), jr.key(16))
    assert remat.remat and not base.remat
    loss = lambda m: jnp.sum(jnp.sin(m(X, 5.0, label=1)))
    np.testing.assert_allclose(remat(X, 5.0, label=1), base(X, 5.0, label=1), atol=1e-6)
    g0, g1 = eqx.filter_jit(eqx.filter_grad(loss))(base), eqx.filter_jit(eqx.filter_grad(loss))(remat)
    for a, b in zip(jax.tree.leaves(g0), jax.tree.leaves(g1), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def test_bfloat16_compute_close_to_float32():
    f32 = randomized(std(), jr.key(18), scale=0.1)
    bf16 = randomized(nets.DtypePolicy(std(), "bfloat16"), jr.key(18), scale=0.1)
    assert bf16.compute_dtype == "bfloat16"
    a, b = f32(X, 250.0, label=1), bf16(X, 250.0, label=1)
    assert b.dtype == jnp.float32
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(eqx.filter(bf16, eqx.is_inexact_array)))
    rel = float(jnp.linalg.norm(a - b) / jnp.linalg.norm(a))
    assert 0 < rel < 3e-2, rel
    g = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum(m(X, 250.0, label=1) ** 2)))(bf16)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(g))
    with pytest.raises(ValueError, match="compute_dtype"):
        nets.DtypePolicy(std(), "int8")


def _scan_lengths(jaxpr) -> list[int]:
    """Lengths of every scan in a jaxpr, looking inside nested jaxprs (pjit, custom_jvp, ...)."""
    out = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "scan":
            out.append(eqn.params["length"])
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            out.extend(_scan_lengths(sub))
    return out


def test_blocks_scanned_over_depth():
    """Depth is a scan length: the program for 28 layers is the size of the one for 4 (timing: tools/)."""
    sizes = {}
    for depth in (4, 28):
        net = randomized(std(depth=depth), jr.key(20))
        assert net.blocks.attn.qkv.weight.shape == (depth, 48, 16)
        params, static = eqx.partition(net, eqx.is_array)

        def fwd(params, x, static=static):
            return eqx.combine(params, static)(x, 1.0, label=1)

        assert _scan_lengths(jax.make_jaxpr(fwd)(params, X).jaxpr) == [depth]
        sizes[depth] = len(jax.jit(fwd).lower(params, X).as_text())
    assert sizes[28] / sizes[4] < 1.05, sizes
    assert bool(jnp.all(jnp.isfinite(net(X, 1.0, label=1))))  # depth 28 runs


def _cfg(**kw):
    base = dict(name="dit", image_size=16, num_channels=3, patch_size=4, hidden_size=16, depth=2, num_heads=2)
    base.update(kw)
    return ConfigDict({k: v for k, v in base.items() if v is not None})


def test_build_from_config():
    cfg = _cfg(num_classes=10, remat=True, compute_dtype="bfloat16", learn_sigma=True)
    net = eqx.filter_eval_shape(nets.build, cfg, jr.key(0))  # abstract build: shapes only, no compile
    assert isinstance(net, nets.DtypePolicy) and isinstance(net.net, DiT) and net.compute_dtype == "bfloat16"
    assert net.remat and net.out_channels == 6  # the policy reads through to the DiT
    # a preset fills depth / hidden / heads
    for preset, (depth, hidden, heads) in {"S": (12, 384, 6), "XL": (28, 1152, 16)}.items():
        cfg = _cfg(preset=preset, hidden_size=None, depth=None, num_heads=None)
        shaped = eqx.filter_eval_shape(nets.build, cfg, jr.key(0))
        assert (shaped.depth, shaped.hidden_size, shaped.num_heads) == (depth, hidden, heads)
    over = eqx.filter_eval_shape(nets.build, _cfg(preset="B/8", depth=3, hidden_size=None, num_heads=None), jr.key(0))
    assert (over.depth, over.hidden_size, over.num_heads, over.patch_size) == (3, 768, 12, 4)  # explicit wins


@pytest.mark.parametrize(
    "overrides, field",
    [
        (dict(patch_size=3), "patch_size"),
        (dict(image_size=18, patch_size=4), "patch_size"),
        (dict(num_heads=3), "num_heads"),
        (dict(preset="M", hidden_size=None, depth=None, num_heads=None), "preset"),
        (dict(preset="S/x", hidden_size=None, depth=None, num_heads=None), "preset"),
        (dict(compute_dtype="int8"), "compute_dtype"),
        (dict(hidden_size=18, num_heads=2), "hidden_size"),
        (dict(image_size=None), "image_size"),
        (dict(num_channels=0), "num_channels"),
        (dict(patch_size=2, depth=2.5), "depth"),
        (dict(mlp_ratio="4"), "mlp_ratio"),
        (dict(hiden_size=32), "hiden_size"),  # a field no backbone has: refused, the valid ones listed
        (dict(depth=0), "depth"),
        (dict(class_dropout=1.5), "class_dropout"),
        (dict(num_classes=-1), "num_classes"),
    ],
)
def test_bad_config_raises(overrides, field):
    with pytest.raises(ValueError, match=field):
        nets.build(_cfg(**overrides), jr.key(0))


def test_wrong_input_shape():
    with pytest.raises(ValueError, match="shape"):
        tiny(16, 3)(jnp.zeros((3, 8, 8)), 1.0)


def test_paper_parameter_counts():
    """DiT-S/2 and DiT-XL/2 on 256x256 images (32x32x4 latents, 1000 classes, learned sigma): 33M and 675M."""

    def count(preset):
        cfg = ConfigDict(
            dict(name="dit", preset=preset, image_size=32, num_channels=4, num_classes=1000, learn_sigma=True)
        )
        return n_params(eqx.filter_eval_shape(nets.build, cfg, jr.key(0)))

    assert abs(count("S/2") / 33e6 - 1) < 0.01
    assert abs(count("XL/2") / 675e6 - 1) < 0.001


def test_cifar_config_builds():
    path = Path(__file__).resolve().parents[2] / "configs" / "models" / "dit_cifar.py"
    spec = importlib.util.spec_from_file_location("dit_cifar", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cfg = module.get_config()
    cfg.image_size = 32  # the run code fills it in from the data
    shaped = eqx.filter_eval_shape(nets.build, cfg, jr.key(0))
    assert (shaped.depth, shaped.hidden_size, shaped.patch_size, shaped.image_size) == (12, 384, 2, (32, 32))
    out = jax.eval_shape(lambda m, x: m(x, 1.0, label=3), shaped, jax.ShapeDtypeStruct((3, 32, 32), jnp.float32))
    assert out.shape == (3, 32, 32)
