"""DGflow and DDLS (scoresde.refine) against exact density ratios between Gaussians."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import install_import_hook

with install_import_hook("scoresde.refine", "tests._typecheck.beartype_tower"):
    from scoresde import refine

from scoresde import metrics

M0, S0 = jnp.array([-1.0, 0.5]), 0.7  # generator: N(M0, S0^2 I)
M1, S1 = jnp.array([1.5, -1.0]), 0.4  # data: N(M1, S1^2 I)


def _log_normal(x, m, s):
    return -0.5 * jnp.sum((x - m) ** 2, -1) / s**2 - x.shape[-1] * jnp.log(s)


def exact_logit(x):
    """log p_data(x) - log p_gen(x) (up to the shared 2 pi constant)."""
    return _log_normal(x, M1, S1) - _log_normal(x, M0, S0)


def exact_grad(x):
    return -(x - M1) / S1**2 + (x - M0) / S0**2


def _c(f, d):
    return {"kl": np.ones_like(d), "js": 1 / (1 + np.exp(-d)), "logd": 1 / (1 + np.exp(d))}[f]


@pytest.mark.parametrize("f", refine.F_DIVERGENCES)
def test_one_step_follows_the_analytic_direction(f):
    x0 = M0 + S0 * jax.random.normal(jax.random.key(1), (64, 2))
    eta = 0.05
    x1, nfe = refine.dgflow(exact_logit, x0, f=f, step_size=eta, noise=0.0, n_steps=1)
    d = np.asarray(exact_logit(x0))
    want = np.asarray(x0) + eta * _c(f, d)[:, None] * np.asarray(exact_grad(x0))
    np.testing.assert_allclose(np.asarray(x1), want, rtol=1e-5, atol=1e-5)
    assert nfe == 1
    # the step raises the log-ratio to first order (it climbs d)
    assert np.all(np.asarray(exact_logit(x1)) >= d - 1e-4)


@pytest.mark.parametrize("f", refine.F_DIVERGENCES)
def test_latent_step_is_the_pulled_back_gradient(f):
    a = jnp.array([[1.0, 0.3, -0.2], [0.1, -0.8, 0.5]])  # G(z) = A z + b, latent dim 3
    b = jnp.array([0.2, -0.1])
    gen = lambda z: z @ a.T + b  # noqa: E731
    z0 = jax.random.normal(jax.random.key(2), (32, 3))
    z1, _ = refine.dgflow(exact_logit, z0, f=f, step_size=0.1, noise=0.0, n_steps=1, generator=gen)
    x0 = gen(z0)
    d = np.asarray(exact_logit(x0))
    want = np.asarray(z0) + 0.1 * _c(f, d)[:, None] * np.asarray(exact_grad(x0) @ a)
    np.testing.assert_allclose(np.asarray(z1), want, rtol=1e-5, atol=1e-5)


H = 0.15  # kernel bandwidth of the current-density estimate


def _current_ratio_logit(x):
    """log p_data - log rho_t, rho_t the current particles' density (a Gaussian KDE, particles held fixed).

    Compared against the data smoothed by the same kernel, so the fixed point is the data itself.
    """
    y = jax.lax.stop_gradient(x)
    d2 = jnp.sum((x[:, None] - y[None]) ** 2, -1)
    log_rho = jax.nn.logsumexp(-0.5 * d2 / H**2, axis=1) - jnp.log(x.shape[0]) - 2 * jnp.log(H)
    return _log_normal(x, M1, jnp.sqrt(S1**2 + H**2)) - log_rho


@pytest.mark.parametrize("f", refine.F_DIVERGENCES)
def test_flow_with_the_exact_ratio_converges_to_the_data(f):
    """KL and logD reach the data-vs-data SWD; JS gets there slower (c = sigmoid(d) vanishes where d << 0)."""
    k0, k1, k2 = jax.random.split(jax.random.key(3), 3)
    x0 = M1 + jnp.array([0.4, 0.3]) + S0 * jax.random.normal(k0, (600, 2))
    data = M1 + S1 * jax.random.normal(k1, (600, 2))
    other = M1 + S1 * jax.random.normal(k2, (600, 2))
    run = jax.jit(lambda x: refine.dgflow(_current_ratio_logit, x, f=f, step_size=0.02, noise=0.0, n_steps=150)[0])
    x = run(x0)
    key = jax.random.key(0)
    before = float(metrics.sliced_wasserstein(x0, data, key))
    after = float(metrics.sliced_wasserstein(x, data, key))
    floor = float(metrics.sliced_wasserstein(other, data, key))
    assert before > 5 * floor, (before, floor)
    if f == "js":
        assert after < 0.5 * before, (before, after, floor)
    else:
        assert after < 1.5 * floor, (before, after, floor)


def test_ddls_with_the_exact_ratio_samples_the_data():
    """G = identity on a N(0, I) prior: DDLS targets N(0, I) exp(d) = p_data."""
    logit = lambda x: _log_normal(x, M1, S1) - _log_normal(x, 0.0, 1.0)  # noqa: E731
    k0, k1, k2, k3 = jax.random.split(jax.random.key(4), 4)
    z0 = jax.random.normal(k0, (1000, 2))
    z, nfe = jax.jit(lambda z, k: refine.ddls(logit, z, generator=lambda v: v, step_size=0.01, n_steps=400, key=k))(
        z0, k1
    )
    data = M1 + S1 * jax.random.normal(k2, (1000, 2))
    other = M1 + S1 * jax.random.normal(k3, (1000, 2))
    key = jax.random.key(0)
    after = float(metrics.sliced_wasserstein(z, data, key))
    floor = float(metrics.sliced_wasserstein(other, data, key))
    assert after < 3.0 * floor, (after, floor)
    assert int(nfe) == 400


def test_deterministic_given_the_key_and_jittable():
    x0 = M0 + S0 * jax.random.normal(jax.random.key(5), (16, 2))
    run = jax.jit(lambda x, k: refine.dgflow(exact_logit, x, f="js", step_size=0.05, noise=0.1, n_steps=5, key=k)[0])
    a, b, c = run(x0, jax.random.key(7)), run(x0, jax.random.key(7)), run(x0, jax.random.key(8))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(a), np.asarray(c))
    x, _, path = refine.dgflow(exact_logit, x0, step_size=0.05, noise=0.0, n_steps=4, n_saves=5)
    assert path.shape == (5, 16, 2)
    np.testing.assert_allclose(np.asarray(path[0]), np.asarray(x0))
    np.testing.assert_allclose(np.asarray(path[-1]), np.asarray(x))


@pytest.mark.parametrize(
    "kwargs, needle",
    [({"f": "hellinger"}, "f='hellinger'"), ({"step_size": -0.1}, "eta"), ({"noise": -1.0}, "gamma")],
)
def test_bad_arguments_name_the_argument(kwargs, needle):
    x0 = jnp.zeros((4, 2))
    with pytest.raises(ValueError, match=needle):
        refine.dgflow(exact_logit, x0, **kwargs, key=jax.random.key(0))


def test_spectral_norm_matches_the_largest_singular_value():
    """The discriminators' spectral norm: power iterations reach the exact top singular value (numpy SVD)."""
    from scoresde import nets

    net = nets.GANMLP(2, (), width=16, depth=2, spectral_norm=True, key=jax.random.key(0))
    for _ in range(50):
        net = nets.update_spectral_norms(net)
    for layer in net.layers:
        w = np.asarray(layer.layer.weight)
        np.testing.assert_allclose(float(layer.sigma()), np.linalg.svd(w, compute_uv=False)[0], rtol=1e-4)
    grads = jax.grad(lambda m: m(jnp.ones(2)))(net)
    assert all(float(jnp.abs(g.u).max()) == 0.0 for g in grads.layers)  # u gets no gradient
