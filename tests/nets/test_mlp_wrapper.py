"""The score wrapper's parameterisations against exact mixture scores, and the MLP backbone."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ml_collections import ConfigDict

from scoresde import nets, oracle
from scoresde import sde as sdes

MIX = oracle.GaussianMixture(np.array([0.6, 0.4]), np.array([[1.0, -1.0], [-2.0, 0.5]]), np.array([0.4, 0.7]))


class _OracleNet(eqx.Module):
    """An unbatched 'network' whose output is whatever quantity a parameterisation expects."""

    sde: sdes.AbstractSDE
    kind: str = eqx.field(static=True)

    def __call__(self, x, c, *, key=None, label=None):
        sde, xb = self.sde, x[None]
        if self.kind == "edm":
            # c = log(sigma) / 4 and x is c_in * x_hat; return F with c_skip x_hat + c_out F = E[x_0 | x_hat]
            sigma = jnp.exp(4 * c)
            x_hat = x * jnp.sqrt(sigma**2 + 0.25)
            t = sde.t_from_sigma(sigma)[None]
            a, _ = sde.marginal(t)
            d = sde.denoise(a[:, None] * x_hat[None], t, MIX.score_fn(sde)(a[:, None] * x_hat[None], t))[0]
            c_skip, c_out = 0.25 / (sigma**2 + 0.25), sigma * 0.5 / jnp.sqrt(sigma**2 + 0.25)
            return (d - c_skip * x_hat) / c_out
        t = c[None]
        s = MIX.score_fn(sde)(xb, t)[0]
        _, std = sde.marginal(t)
        return {"score": s, "eps": -std[0] * s, "scale_by_sigma": std[0] * s}[self.kind]


@pytest.mark.parametrize("kind", ["score", "eps", "scale_by_sigma", "edm"])
@pytest.mark.parametrize("sde", [sdes.VPSDE(), sdes.VESDE()], ids=["vp", "ve"])
def test_parameterisations_recover_the_exact_score(sde, kind):
    x = MIX.sample(jax.random.key(0), 6) * 1.3
    t = jnp.linspace(0.05, 0.9, 6)
    fn = nets.score_fn_from_net(
        _OracleNet(sde, kind), sde, parameterization=kind, conditioning="edm" if kind == "edm" else "t"
    )
    np.testing.assert_allclose(fn(x, t), MIX.score_fn(sde)(x, t), rtol=2e-3, atol=2e-3)


def test_noise_conditions():
    vp, t = sdes.VPSDE(), jnp.array([0.1, 0.5])
    np.testing.assert_allclose(nets.noise_condition(vp, t, "t999"), 999 * t)
    np.testing.assert_allclose(nets.noise_condition(vp, t, "log_sigma"), jnp.log(vp.sigma(t)), rtol=1e-6)
    with pytest.raises(ValueError, match="conditioning"):
        nets.noise_condition(vp, t, "index")


def test_mlp_registry_shapes_jit_vmap_grad():
    net = nets.build(ConfigDict(dict(name="mlp", dim=3, width=32, depth=2)), jax.random.key(0))
    fn = nets.score_fn_from_net(net, sdes.VPSDE(), parameterization="score", conditioning="t")
    x, t = jnp.ones((5, 3)), jnp.full((5,), 0.3)
    assert jax.jit(fn)(x, t).shape == (5, 3)

    def loss(model):
        return jnp.sum(
            nets.score_fn_from_net(model, sdes.VPSDE(), parameterization="score", conditioning="t")(x, t) ** 2
        )

    grads = eqx.filter_grad(loss)(net)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree_util.tree_leaves(eqx.filter(grads, eqx.is_array)))
    # the output depends on the condition
    assert not np.allclose(fn(x, t), fn(x, t + 0.4))


def test_mlp_dropout_only_with_key():
    net = nets.MLP(2, width=64, depth=3, dropout=0.5, key=jax.random.key(1))
    x, c = jnp.ones(2), jnp.array(0.2)
    np.testing.assert_array_equal(net(x, c), net(x, c))
    a, b = net(x, c, key=jax.random.key(2)), net(x, c, key=jax.random.key(3))
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(a, net(x, c, key=jax.random.key(2)))


def test_build_errors_name_the_field():
    with pytest.raises(ValueError, match="model.name"):
        nets.build(ConfigDict(dict(name="resnet9000")), jax.random.key(0))
    with pytest.raises(ValueError, match="model.dim"):
        nets.build(ConfigDict(dict(name="mlp")), jax.random.key(0))
    with pytest.raises(ValueError, match="parameterization"):
        nets.score_fn_from_net(None, sdes.VPSDE(), parameterization="v", conditioning="t")
    with pytest.raises(TypeError, match="conditioning"):  # no silent default: both must be said
        nets.score_fn_from_net(None, sdes.VPSDE(), parameterization="eps")


def test_bf16_policy_keeps_f32_parameters_and_output():
    cfg = ConfigDict(dict(name="mlp", dim=3, width=32, depth=2, compute_dtype="bfloat16"))
    net = nets.build(cfg, jax.random.key(0))
    ref = nets.build(ConfigDict(dict(name="mlp", dim=3, width=32, depth=2)), jax.random.key(0))
    x, c = jnp.linspace(-1, 1, 3), jnp.float32(0.3)
    out = net(x, c)
    assert out.dtype == jnp.float32
    assert all(p.dtype == jnp.float32 for p in jax.tree_util.tree_leaves(eqx.filter(net, eqx.is_inexact_array)))
    np.testing.assert_allclose(out, ref(x, c), rtol=0.05, atol=0.05)
    assert not np.array_equal(np.asarray(out), np.asarray(ref(x, c)))  # it really computed in bf16
    with pytest.raises(ValueError, match="model.compute_dtype"):
        nets.build(ConfigDict(dict(name="mlp", dim=3, compute_dtype="int8")), jax.random.key(0))
