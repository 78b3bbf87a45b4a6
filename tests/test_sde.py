"""Forward SDEs (VE, VP, sub-VP) against their closed forms and a Monte Carlo simulation.

Every reference is computed independently of the library: closed forms written out in numpy
(float64) from the papers' formulas, an Euler-Maruyama simulation of dx = f(t) x dt + g(t) dW,
scipy's Gaussian log density, and jax.grad of the closed forms.
"""

import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.stats

from scoresde import sde as sdes

# ---- independent closed forms (numpy, float64): a(t), std(t), f(t), g(t) of VE, VP, sub-VP ----


def ref_coeffs(s, t):
    """(f, g, a, std) of `s` at times t, written out from the design document."""
    t = np.asarray(t, np.float64)
    if isinstance(s, sdes.VESDE):
        sig = s.sigma_min * (s.sigma_max / s.sigma_min) ** t
        g = sig * np.sqrt(2 * np.log(s.sigma_max / s.sigma_min))
        return np.zeros_like(t), g, np.ones_like(t), sig
    beta = s.beta_min + t * (s.beta_max - s.beta_min)
    m = -0.25 * t**2 * (s.beta_max - s.beta_min) - 0.5 * t * s.beta_min
    f = -0.5 * beta
    if isinstance(s, sdes.SubVPSDE):
        g = np.sqrt(beta * (1 - np.exp(-2 * s.beta_min * t - (s.beta_max - s.beta_min) * t**2)))
        return f, g, np.exp(m), 1 - np.exp(2 * m)
    return f, np.sqrt(beta), np.exp(m), np.sqrt(1 - np.exp(2 * m))


SDES = {
    "ve": sdes.VESDE(),
    "ve_small": sdes.VESDE(sigma_min=0.05, sigma_max=5.0),
    "vp": sdes.VPSDE(),
    "vp_other": sdes.VPSDE(beta_min=0.5, beta_max=10.0),
    "subvp": sdes.SubVPSDE(),
}
PARAMS = pytest.mark.parametrize("name", list(SDES))
T_GRID = np.array([1e-4, 1e-3, 0.01, 0.1, 0.3, 0.5, 0.77, 1.0])


@PARAMS
def test_coefficients_match_design_formulas(name):
    s = SDES[name]
    f, g, a, std = ref_coeffs(s, T_GRID)
    t = jnp.asarray(T_GRID, jnp.float32)
    a_lib, std_lib = s.marginal(t)
    np.testing.assert_allclose(s.drift_coeff(t), f, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(s.diffusion(t), g, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(a_lib, a, rtol=1e-5)
    np.testing.assert_allclose(std_lib, std, rtol=1e-5)
    np.testing.assert_allclose(s.sigma(t), std / a, rtol=1e-5)
    assert s.T == 1.0


# ---- Monte Carlo of the forward SDE --------------------------------------------------


def _simulate_moments(s, x0, n_paths, n_steps, key):
    """Euler-Maruyama of dx = f(t) x dt + g(t) dW from x(0) = a(0) x0 + std(0) z.

    Coefficients are evaluated at the midpoint of each step, which removes the O(dt) bias of
    the left-point rule on VE's exponentially growing g^2 (about 0.9% of the variance otherwise).
    Starting from the t = 0 marginal handles VE's std(0) = sigma_min convention.
    Returns per-step path means (n_steps, D) and variances pooled over the D dimensions.
    """
    dt = s.T / n_steps
    a0, std0 = s.marginal(jnp.zeros(()))
    k0, kw = jr.split(key)
    x = a0 * x0 + std0 * jr.normal(k0, (n_paths, x0.shape[0]))

    def step(x, k):
        tm = (k + 0.5) * dt
        f, g = s.drift_coeff(tm), s.diffusion(tm)
        x = x + f * x * dt + g * jnp.sqrt(dt) * jr.normal(jr.fold_in(kw, k), x.shape)
        return x, (jnp.mean(x, 0), jnp.mean(jnp.var(x, 0)))

    _, (means, variances) = jax.lax.scan(step, x, jnp.arange(n_steps))
    return means, variances


@PARAMS
def test_marginal_matches_euler_maruyama_monte_carlo(name):
    s = SDES[name]
    n_paths, n_steps, dim = 40_000, 1000, 2
    x0 = jnp.array([1.5, -0.5])
    sim = jax.jit(lambda k: _simulate_moments(s, x0, n_paths, n_steps, k))
    means, variances = (np.asarray(v) for v in sim(jr.key(1)))
    for t in (0.05, 0.25, 0.5, 1.0):
        i = round(t * n_steps) - 1
        _, _, a, std = ref_coeffs(s, t)
        a_lib, std_lib = (float(v) for v in s.marginal(jnp.asarray(t)))
        # Mean: MC standard error std/sqrt(n); 5 SE plus 0.5% for the O(dt) scheme bias.
        se_mean = std_lib / math.sqrt(n_paths)
        np.testing.assert_allclose(means[i], a_lib * np.asarray(x0), atol=5 * se_mean + 5e-3 * abs(a_lib) * 1.5)
        # Std: relative SE of a sample std is 1/sqrt(2 n), n = paths x dims; 5 SE + 0.5% bias.
        rel = math.sqrt(variances[i]) / std_lib - 1
        assert abs(rel) < 5 / math.sqrt(2 * n_paths * dim) + 5e-3, (t, rel)
        # and the library agrees with the closed form the simulation is checked against.
        assert a_lib == pytest.approx(a, rel=1e-5) and std_lib == pytest.approx(std, rel=1e-5)


# ---- identities, via jax.grad ------------------------------------------------------


@PARAMS
def test_log_mean_derivative_is_drift(name):
    s = SDES[name]
    t = jnp.asarray(T_GRID[2:], jnp.float32)
    dlog_a = jax.vmap(jax.grad(lambda u: jnp.log(s.marginal(u)[0])))(t)
    np.testing.assert_allclose(dlog_a, ref_coeffs(s, T_GRID[2:])[0], rtol=1e-4, atol=1e-6)


@PARAMS
def test_variance_derivative_is_lyapunov(name):
    """d/dt std^2 = 2 f std^2 + g^2, the variance ODE of a linear SDE."""
    s = SDES[name]
    t = jnp.asarray(T_GRID[2:], jnp.float32)
    dvar = jax.vmap(jax.grad(lambda u: s.marginal(u)[1] ** 2))(t)
    f, g, _, std = ref_coeffs(s, T_GRID[2:])
    # Both sides are differences of O(g^2) terms (and jax's expm1 derivative is computed as
    # expm1 + 1), so float32 cancellation error scales with g^2, not with the result.
    np.testing.assert_array_less(
        np.abs(dvar - (2 * f * std**2 + g**2)), 2e-4 * np.abs(2 * f * std**2 + g**2) + 1e-6 * g**2
    )


@PARAMS
def test_t_from_sigma_inverts_sigma(name):
    s = SDES[name]
    t = np.linspace(1e-3, 1.0, 60)
    _, _, a, std = ref_coeffs(s, t)
    np.testing.assert_allclose(s.t_from_sigma(jnp.asarray(std / a, jnp.float32)), t, rtol=1e-4)
    np.testing.assert_allclose(s.t_from_sigma(s.sigma(jnp.asarray(t, jnp.float32))), t, rtol=1e-4)


@PARAMS
def test_prior_logp_is_gaussian_log_density(name, key):
    s = SDES[name]
    expected_std = s.sigma_max if isinstance(s, sdes.VESDE) else 1.0
    assert s.prior_std() == expected_std
    x = np.asarray(jr.normal(key, (5, 2, 3)), np.float64) * expected_std * 1.3
    ref = scipy.stats.norm.logpdf(x, scale=expected_std).reshape(5, -1).sum(1)
    np.testing.assert_allclose(s.prior_logp(jnp.asarray(x, jnp.float32)), ref, rtol=1e-5)
    draws = s.prior_sample(key, (20_000, 2))
    assert float(jnp.std(draws)) == pytest.approx(expected_std, rel=5 / math.sqrt(2 * 40_000))


@PARAMS
def test_perturb_and_derived_drifts(name, key):
    s = SDES[name]
    kx, kt, kp, ks = jr.split(key, 4)
    x = jr.normal(kx, (6, 3))
    t = jr.uniform(kt, (6,), minval=0.01, maxval=1.0)
    score = jr.normal(ks, (6, 3))
    f, g, a, std = (c[:, None] for c in ref_coeffs(s, np.asarray(t)))
    xn, sn = np.asarray(x), np.asarray(score)
    xt, z = s.perturb(x, t, key=kp)
    np.testing.assert_allclose(xt, a * xn + std * np.asarray(z), rtol=1e-5, atol=1e-5 * std.max())
    mean, std_lib = s.marginal_prob(x, t)
    np.testing.assert_allclose(mean, a * xn, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(std_lib, std[:, 0], rtol=1e-5)
    tol = dict(rtol=1e-4, atol=1e-4 * float(np.max(g**2)))
    np.testing.assert_allclose(s.drift(x, t), f * xn, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.reverse_drift(x, t, score), f * xn - g**2 * sn, **tol)
    np.testing.assert_allclose(s.ode_drift(x, t, score), f * xn - 0.5 * g**2 * sn, **tol)
    np.testing.assert_allclose(
        s.denoise(x, t, score), (xn + std**2 * sn) / a, rtol=1e-4, atol=1e-4 * float(np.max(std**2 / a))
    )


# ---- discretisations -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["ve", "ve_small"])
def test_ve_discretize_is_smld_chain(name):
    s = SDES[name]
    n = 50
    dt = 1.0 / n
    t = np.arange(2, n + 1) / n
    x = jnp.ones((t.size, 2))
    f, g = s.discretize(x, jnp.asarray(t, jnp.float32), dt)
    sig = lambda u: s.sigma_min * (s.sigma_max / s.sigma_min) ** u  # noqa: E731
    np.testing.assert_array_equal(f, 0.0)
    np.testing.assert_allclose(g, np.sqrt(sig(t) ** 2 - sig(t - dt) ** 2), rtol=1e-4)
    # The first step (t - dt = 0) adds the whole sigma(dt), as score_sde's sigma_0 = 0.
    _, g0 = s.discretize(x[:1], jnp.array([dt]), dt)
    np.testing.assert_allclose(g0, [sig(dt)], rtol=1e-5)


@pytest.mark.parametrize("name", ["vp", "vp_other"])
def test_vp_discretize_is_ddpm_step(name):
    s = SDES[name]
    n = 100
    dt = 1.0 / n
    t = np.arange(1, n + 1) / n
    x = jr.normal(jr.key(3), (n, 2))
    f, g = s.discretize(x, jnp.asarray(t, jnp.float32), dt)
    # exact DDPM step over [t - dt, t]: b_i = 1 - exp(-int beta) with beta linear, so the integral is dt beta(t - dt/2)
    b = -np.expm1(-dt * (s.beta_min + (t - dt / 2) * (s.beta_max - s.beta_min)))
    np.testing.assert_allclose(x + f, np.sqrt(1 - b)[:, None] * np.asarray(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g, np.sqrt(b), rtol=1e-5)
    # to first order it is score_sde's b_i = beta(t) dt
    b_first = (s.beta_min + t * (s.beta_max - s.beta_min)) * dt
    assert np.all(np.abs(b - b_first) <= b_first**2 / 2 + dt**2 * (s.beta_max - s.beta_min) / 2 + 1e-7)
    # the chain's alpha-bar prod(1 - b_i) equals a(1)^2 exactly
    log_abar = np.sum(np.log1p(-b))
    log_a2 = 2 * np.log(ref_coeffs(s, 1.0)[2])
    np.testing.assert_allclose(log_abar, log_a2, rtol=1e-6)
    # and b_i stays in (0, 1) however few the steps (beta(t) dt > 1 here)
    _, g_big = s.discretize(x[:1], jnp.ones((1,)), 0.5)
    assert 0 < float(g_big[0]) < 1


def test_subvp_discretize_is_euler_maruyama():
    s = SDES["subvp"]
    dt = 0.01
    t = np.array([0.05, 0.5, 1.0])
    x = jr.normal(jr.key(4), (3, 2))
    f, g = s.discretize(x, jnp.asarray(t, jnp.float32), dt)
    fr, gr, _, _ = ref_coeffs(s, t)
    np.testing.assert_allclose(f, fr[:, None] * np.asarray(x) * dt, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g, gr * np.sqrt(dt), rtol=1e-5)


# ---- construction ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,cls",
    [
        ("ve", sdes.VESDE),
        ("VP", sdes.VPSDE),
        ("subvp", sdes.SubVPSDE),
        ("sub-vp", sdes.SubVPSDE),
        ("sub_VP", sdes.SubVPSDE),
    ],
)
def test_get_sde_by_name(name, cls):
    assert type(sdes.get_sde(name)) is cls


def test_get_sde_passes_kwargs_and_rejects_unknown():
    s = sdes.get_sde("ve", sigma_min=0.1, sigma_max=7.0)
    assert (s.sigma_min, s.sigma_max) == (0.1, 7.0)
    assert sdes.get_sde("vp", beta_max=12.0).beta_max == 12.0
    with pytest.raises(ValueError, match="name='edm'"):
        sdes.get_sde("edm")


@pytest.mark.parametrize(
    "make,field",
    [
        (lambda: sdes.VESDE(sigma_min=1.0, sigma_max=0.5), "sigma_max"),
        (lambda: sdes.VESDE(sigma_min=2.0, sigma_max=2.0), "sigma_max"),
        (lambda: sdes.VESDE(sigma_min=0.0), "sigma_min"),
        (lambda: sdes.VESDE(sigma_min=-0.1), "sigma_min"),
        (lambda: sdes.VPSDE(beta_min=0.0), "beta_min"),
        (lambda: sdes.VPSDE(beta_min=-1.0), "beta_min"),
        (lambda: sdes.SubVPSDE(beta_min=0.0), "beta_min"),
        (lambda: sdes.VPSDE(beta_min=1.0, beta_max=0.5), "beta_max"),
        (lambda: sdes.SubVPSDE(beta_min=3.0, beta_max=3.0), "beta_max"),
    ],
)
def test_constructor_errors_name_the_field(make, field):
    with pytest.raises(ValueError, match=field):
        make()
