"""Score-matching objectives against independent computations.

Three kinds of evidence, none comparing the library with itself:
* each loss, recomputed in numpy from the very draws it made (a recording score function sees
  x_t and t; z follows from x_t = a x_0 + std z with a, std from the closed forms);
* for a single Gaussian the loss at the exact score has a closed-form expectation (below), which
  the loss must hit within a few Monte Carlo standard errors, and every objective is lower at the
  oracle score than at perturbed ones (same key, so the comparison is deterministic);
* sliced, variance-reduced sliced and exact score matching agree in expectation.

Closed form used for DSM at the exact score of data N(mu, s0^2 I): with v = a^2 s0^2 + std^2,
std s*(x_t) + z = (a^2 s0^2 / v) z - (std a s0 / v) xi, per dimension N(0, c) with c = a^2 s0^2 / v,
so |std s* + z|^2 = c chi^2_D; the likelihood-weighted term is (g^2 / std^2) times that.
"""

import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.integrate

from scoresde import objectives as obj
from scoresde import oracle
from scoresde import sde as sdes

EPS = 1e-5
VE, VP, SUBVP = sdes.VESDE(), sdes.VPSDE(), sdes.SubVPSDE()


def ref_coeffs(s, t):
    """(a, std, g) from the closed forms, numpy float64."""
    t = np.asarray(t, np.float64)
    if isinstance(s, sdes.VESDE):
        sig = s.sigma_min * (s.sigma_max / s.sigma_min) ** t
        return np.ones_like(t), sig, sig * np.sqrt(2 * np.log(s.sigma_max / s.sigma_min))
    beta = s.beta_min + t * (s.beta_max - s.beta_min)
    m = -0.25 * t**2 * (s.beta_max - s.beta_min) - 0.5 * t * s.beta_min
    if isinstance(s, sdes.SubVPSDE):
        return np.exp(m), 1 - np.exp(2 * m), np.sqrt(beta * (1 - np.exp(4 * m)))
    return np.exp(m), np.sqrt(1 - np.exp(2 * m)), np.sqrt(beta)


class Recorder:
    """A score function that remembers its inputs (the losses call it once, un-jitted)."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, x, t):
        self.calls.append((np.asarray(x, np.float64), np.asarray(t, np.float64)))
        return self.fn(x, t)


def linear_score(x, t):
    """A fixed, non-oracle score that depends on x and t, for any data shape."""
    tb = t.reshape(t.shape + (1,) * (x.ndim - 1))
    return -x / (1.0 + tb) + 0.3 * jnp.sin(x) - 0.2


def np_linear_score(x, t):
    tb = t.reshape(t.shape + (1,) * (x.ndim - 1))
    return -x / (1.0 + tb) + 0.3 * np.sin(x) - 0.2


def flat_sum(a, reduce_mean):
    a = a.reshape(a.shape[0], -1)
    return a.mean(1) if reduce_mean else a.sum(1)


def assert_uniform(t, lo, hi):
    """t ~ U(lo, hi): range and mean within 5 standard errors."""
    assert t.min() >= lo and t.max() <= hi
    se = (hi - lo) / math.sqrt(12 * t.size)
    assert abs(t.mean() - (lo + hi) / 2) < 5 * se


def assert_std_normal(z):
    z = z.ravel()
    assert abs(z.mean()) < 5 / math.sqrt(z.size)
    assert abs(z.std() - 1) < 5 / math.sqrt(2 * z.size)


MIX = oracle.GaussianMixture([0.6, 0.4], [[1.0, 1.0], [-1.0, -0.5]], [0.5, 0.8])
X0 = MIX.sample(jr.key(123), 4096)


# ---- losses recomputed from their own draws ----------------------------------------


@pytest.mark.parametrize("reduce_mean", [False, True])
@pytest.mark.parametrize("likelihood_weighting", [False, True])
@pytest.mark.parametrize("name", ["ve", "vp", "subvp"])
def test_dsm_loss_equals_formula_on_its_draws(name, likelihood_weighting, reduce_mean, key):
    s = {"ve": VE, "vp": VP, "subvp": SUBVP}[name]
    x0 = jr.normal(jr.key(5), (2048, 2, 3)) + 0.5
    rec = Recorder(linear_score)
    loss = obj.dsm_loss(s, rec, x0, key, likelihood_weighting=likelihood_weighting, reduce_mean=reduce_mean, eps=1e-3)
    ((xt, t),) = rec.calls
    assert_uniform(t, 1e-3, 1.0)
    a, std, g = (c[:, None, None] for c in ref_coeffs(s, t))
    z = (xt - a * np.asarray(x0, np.float64)) / std
    assert_std_normal(z)
    resid = np_linear_score(xt, t) + z / std
    lam = (g**2 if likelihood_weighting else std**2)[:, 0, 0]
    ref = np.mean(lam * flat_sum(resid**2, reduce_mean))
    assert float(loss) == pytest.approx(ref, rel=1e-3)


@pytest.mark.parametrize("reduce_mean", [False, True])
def test_ncsn_loss_equals_formula_on_its_draws(reduce_mean, key):
    sigmas = obj.geometric_sigmas(1.0, 0.01, 10)
    np.testing.assert_allclose(sigmas, 10.0 ** -(np.arange(10) * 2 / 9), rtol=1e-12)
    x0 = jr.normal(jr.key(6), (4000, 3))
    rec = Recorder(linear_score)
    loss = obj.ncsn_loss(rec, sigmas, x0, key, reduce_mean=reduce_mean)
    ((xt, sig),) = rec.calls
    # one level per sample, drawn uniformly from the given levels
    idx = np.argmin(np.abs(sig[:, None] - sigmas[None]), axis=1)
    np.testing.assert_allclose(sig, sigmas[idx], rtol=1e-6)
    counts = np.bincount(idx, minlength=10)
    assert np.all(np.abs(counts - 400) < 5 * math.sqrt(400 * 0.9))
    z = (xt - np.asarray(x0, np.float64)) / sig[:, None]
    assert_std_normal(z)
    # 1/2 sigma^2 |s + (x~ - x)/sigma^2|^2
    per = (
        0.5
        * sig**2
        * flat_sum((np_linear_score(xt, sig) + (xt - np.asarray(x0)) / sig[:, None] ** 2) ** 2, reduce_mean)
    )
    assert float(loss) == pytest.approx(per.mean(), rel=1e-3)


@pytest.mark.parametrize("n_timesteps", [None, 7])
@pytest.mark.parametrize("reduce_mean", [True, False])
def test_ddpm_loss_equals_formula_on_its_draws(n_timesteps, reduce_mean, key):
    x0 = jr.normal(jr.key(7), (2048, 2, 2))
    rec = Recorder(linear_score)
    loss = obj.ddpm_loss(VP, rec, x0, key, n_timesteps=n_timesteps, reduce_mean=reduce_mean)
    ((xt, t),) = rec.calls
    if n_timesteps is None:
        assert_uniform(t, EPS, 1.0)
    else:
        k = t * n_timesteps
        np.testing.assert_allclose(k, np.round(k), atol=1e-4)
        np.testing.assert_array_equal(np.unique(np.round(k)), np.arange(1, n_timesteps + 1))
    a, std, _ = (c[:, None, None] for c in ref_coeffs(VP, t))
    z = (xt - a * np.asarray(x0, np.float64)) / std
    assert_std_normal(z)
    ref = np.mean(flat_sum((np_linear_score(xt, t) - z) ** 2, reduce_mean))
    assert float(loss) == pytest.approx(ref, rel=1e-3)


# ---- closed-form value at the exact score (single Gaussian) ------------------------

MU, S0, D = np.array([1.0, -2.0]), 0.7, 2
GAUSS = oracle.GaussianMixture([1.0], [MU], S0)


def _c(s, t, likelihood_weighting):
    """Per-dimension variance of the weighted residual at the exact score (module docstring)."""
    a, std, g = ref_coeffs(s, t)
    c = a**2 * S0**2 / (a**2 * S0**2 + std**2)
    return c * g**2 / std**2 if likelihood_weighting else c


def _expect_and_se(values_c, probs, n, reduce_mean, factor=1.0):
    """Mean and standard error of factor * c chi^2_D (/D if reduce_mean) for c drawn from values/probs."""
    m1 = np.sum(probs * values_c) * D
    m2 = np.sum(probs * values_c**2) * (D**2 + 2 * D)
    scale = factor / (D if reduce_mean else 1)
    return scale * m1, scale * math.sqrt((m2 - m1**2) / n)


@pytest.mark.parametrize(
    "name,likelihood_weighting,reduce_mean",
    [
        ("ve", False, False),
        ("ve", True, False),
        ("ve", False, True),
        ("vp", False, False),
        ("vp", False, True),
        ("subvp", False, False),
    ],
)
def test_dsm_at_exact_score_matches_closed_form(name, likelihood_weighting, reduce_mean, key):
    s = {"ve": VE, "vp": VP, "subvp": SUBVP}[name]
    n = 20_000
    x0 = GAUSS.sample(jr.key(8), n)
    loss = obj.dsm_loss(
        s, GAUSS.score_fn(s), x0, key, likelihood_weighting=likelihood_weighting, reduce_mean=reduce_mean
    )
    # E_t over U(eps, 1) of c(t) and c(t)^2 by quadrature (uniform density 1/(1 - eps))
    w = 1 / (1 - EPS)
    m1 = (
        w
        * scipy.integrate.quad(lambda t: _c(s, t, likelihood_weighting), EPS, 1, limit=200, points=[1e-3, 1e-2, 0.1])[0]
    )
    m2 = (
        w
        * scipy.integrate.quad(
            lambda t: _c(s, t, likelihood_weighting) ** 2, EPS, 1, limit=200, points=[1e-3, 1e-2, 0.1]
        )[0]
    )
    scale = 1 / (D if reduce_mean else 1)
    expect = scale * D * m1
    se = scale * math.sqrt((m2 * (D**2 + 2 * D) - (m1 * D) ** 2) / n)
    assert abs(float(loss) - expect) < 5 * se, (float(loss), expect, se)


def test_ncsn_at_exact_score_matches_closed_form(key):
    sigmas = obj.geometric_sigmas(1.0, 0.01, 10)
    n = 20_000
    x0 = GAUSS.sample(jr.key(9), n)
    loss = obj.ncsn_loss(GAUSS.sigma_score_fn(), sigmas, x0, key)
    c = S0**2 / (S0**2 + sigmas**2)
    expect, se = _expect_and_se(c, np.full(10, 0.1), n, False, factor=0.5)
    assert abs(float(loss) - expect) < 5 * se, (float(loss), expect, se)


@pytest.mark.parametrize("n_timesteps", [None, 10])
def test_ddpm_at_exact_eps_matches_closed_form(n_timesteps, key):
    n = 20_000
    x0 = GAUSS.sample(jr.key(10), n)
    score = GAUSS.score_fn(VP)

    def eps_fn(x, t):
        return -VP.marginal(t)[1][:, None] * score(x, t)

    loss = obj.ddpm_loss(VP, eps_fn, x0, key, n_timesteps=n_timesteps)
    if n_timesteps is None:
        grid = np.linspace(EPS, 1, 20_001)
        c, p = _c(VP, grid, False), np.full(grid.size, 1 / grid.size)
    else:
        c, p = _c(VP, np.arange(1, 11) / 10, False), np.full(10, 0.1)
    expect, se = _expect_and_se(c, p, n, True)
    assert abs(float(loss) - expect) < 5 * se, (float(loss), expect, se)


# ---- the exact score minimises every objective ------------------------------------


def _perturbations(fn):
    return {
        "scaled 0.8": lambda x, t: 0.8 * fn(x, t),
        "scaled 1.2": lambda x, t: 1.2 * fn(x, t),
        "offset": lambda x, t: fn(x, t) + jnp.array([0.3, -0.2]),
    }


@pytest.mark.parametrize("reduce_mean", [False, True])
@pytest.mark.parametrize("likelihood_weighting", [False, True])
@pytest.mark.parametrize("name", ["ve", "vp"])
def test_dsm_minimised_at_oracle(name, likelihood_weighting, reduce_mean, key):
    s = {"ve": VE, "vp": VP}[name]
    kw = dict(likelihood_weighting=likelihood_weighting, reduce_mean=reduce_mean)
    oracle_score = MIX.score_fn(s)
    best = float(obj.dsm_loss(s, oracle_score, X0, key, **kw))
    for label, fn in _perturbations(oracle_score).items():
        assert float(obj.dsm_loss(s, fn, X0, key, **kw)) > best, label


def test_ncsn_minimised_at_oracle(key):
    sigmas = obj.geometric_sigmas(1.0, 0.01, 10)
    oracle_score = MIX.sigma_score_fn()
    for reduce_mean in (False, True):
        best = float(obj.ncsn_loss(oracle_score, sigmas, X0, key, reduce_mean=reduce_mean))
        for label, fn in _perturbations(oracle_score).items():
            assert float(obj.ncsn_loss(fn, sigmas, X0, key, reduce_mean=reduce_mean)) > best, label


@pytest.mark.parametrize("n_timesteps", [None, 1000])
def test_ddpm_minimised_at_oracle_eps(n_timesteps, key):
    score = MIX.score_fn(VP)

    def eps_fn(x, t):
        return -VP.marginal(t)[1][:, None] * score(x, t)

    best = float(obj.ddpm_loss(VP, eps_fn, X0, key, n_timesteps=n_timesteps))
    for label, fn in _perturbations(eps_fn).items():
        assert float(obj.ddpm_loss(VP, fn, X0, key, n_timesteps=n_timesteps)) > best, label


def _data_score(fn=MIX.score):
    return {
        "oracle": fn,
        "scaled 0.8": lambda x: 0.8 * fn(x),
        "scaled 1.2": lambda x: 1.2 * fn(x),
        "offset": lambda x: fn(x) + jnp.array([0.3, -0.2]),
    }


@pytest.mark.parametrize("probe", ["gaussian", "rademacher"])
@pytest.mark.parametrize("variance_reduction", [False, True])
def test_sliced_score_matching_minimised_at_oracle(variance_reduction, probe, key):
    fns = _data_score()
    vals = {
        k: float(
            obj.sliced_score_matching(f, X0, key, n_projections=2, variance_reduction=variance_reduction, probe=probe)
        )
        for k, f in fns.items()
    }
    for label in ("scaled 0.8", "scaled 1.2", "offset"):
        assert vals[label] > vals["oracle"], (label, vals)


def test_exact_score_matching_minimised_at_oracle_and_equal_to_fisher_gap():
    """J(s) - J(s*) = 1/2 E|s - s*|^2 (Hyvarinen), exactly on a fixed sample, up to E[tr + |s*|^2] noise."""
    fns = _data_score()
    vals = {k: float(jax.jit(lambda y, f=f: obj.exact_score_matching(f, y))(X0)) for k, f in fns.items()}
    s_star = np.asarray(MIX.score(X0), np.float64)
    for label in ("scaled 0.8", "scaled 1.2", "offset"):
        assert vals[label] > vals["oracle"], label
    # offset b: J(s* + b) - J(s*) = b . mean(s*) + |b|^2 / 2, exactly on the sample
    b = np.array([0.3, -0.2])
    assert vals["offset"] - vals["oracle"] == pytest.approx(b @ s_star.mean(0) + 0.5 * b @ b, rel=1e-3, abs=1e-4)


# ---- independent values of the sliced / exact estimators ------------------------------

W = np.array([[0.8, -0.5, 0.3], [1.2, -0.4, 0.0], [-0.7, 0.6, 1.1]])
BIAS = np.array([0.1, -0.3, 0.2])


def tanh_score(x):
    return jnp.tanh(x @ jnp.asarray(W.T, jnp.float32) + jnp.asarray(BIAS, jnp.float32))


def np_exact_sm(x):
    """E[tr ds/dx + |s|^2/2] for s = tanh(W x + b): ds/dx = diag(1 - s^2) W."""
    s = np.tanh(x @ W.T + BIAS)
    return np.mean(np.sum((1 - s**2) * np.diag(W), 1) + 0.5 * np.sum(s**2, 1))


def test_exact_score_matching_value():
    x = np.asarray(jr.normal(jr.key(11), (64, 3)), np.float64)
    got = float(jax.jit(obj.exact_score_matching, static_argnums=0)(tanh_score, jnp.asarray(x, jnp.float32)))
    assert got == pytest.approx(np_exact_sm(x), rel=1e-5)
    # the Gaussian's exact score: tr = -D/s0^2, |s|^2 = |x - mu|^2/s0^4
    xg = np.asarray(GAUSS.sample(jr.key(12), 256), np.float64)
    ref = -D / S0**2 + 0.5 * np.mean(np.sum((xg - MU) ** 2, 1)) / S0**4
    got = jax.jit(lambda y: obj.exact_score_matching(GAUSS.score, y))(jnp.asarray(xg, jnp.float32))
    assert float(got) == pytest.approx(ref, rel=1e-4)


@pytest.mark.parametrize("probe", ["gaussian", "rademacher"])
@pytest.mark.parametrize("variance_reduction", [False, True])
def test_sliced_agrees_with_exact_in_expectation(variance_reduction, probe):
    x = jr.normal(jr.key(13), (64, 3))
    exact = np_exact_sm(np.asarray(x, np.float64))

    @jax.jit
    def estimate(k):
        return obj.sliced_score_matching(
            tanh_score, x, k, n_projections=256, variance_reduction=variance_reduction, probe=probe
        )

    est = np.array([float(estimate(jr.key(100 + i))) for i in range(16)])
    se = est.std(ddof=1) / math.sqrt(est.size)
    assert se > 0
    assert abs(est.mean() - exact) < 5 * se + 1e-5, (est.mean(), exact, se)


def test_draw_probes_moments(key):
    g = np.asarray(obj.draw_probes(key, (20_000, 3), "gaussian"))
    r = np.asarray(obj.draw_probes(key, (20_000, 3), "rademacher"))
    assert set(np.unique(r)) == {-1.0, 1.0}
    for v in (g, r):
        # E[v v^T] = I, entries with standard error <= sqrt(3 / n)
        np.testing.assert_allclose(v.T @ v / v.shape[0], np.eye(3), atol=5 * math.sqrt(3 / v.shape[0]))
    assert obj.draw_probes(key, (2, 3), "rademacher", jnp.bfloat16).dtype == jnp.bfloat16


def test_sliced_score_matching_low_precision_data(key):
    """Probes follow x's dtype, so jax.jvp accepts them for bf16 data."""
    x = jr.normal(jr.key(14), (32, 3))
    # Rademacher probes are the same +-1 in any dtype, so the two estimates differ by rounding only.
    lo = obj.sliced_score_matching(tanh_score, x.astype(jnp.bfloat16), key, n_projections=4, probe="rademacher")
    hi = obj.sliced_score_matching(tanh_score, x, key, n_projections=4, probe="rademacher")
    assert jnp.isfinite(lo)
    assert float(lo) == pytest.approx(float(hi), rel=2e-2, abs=1e-2)


# ---- bad inputs ---------------------------------------------------------------------


@pytest.mark.parametrize("eps", [0.0, -1e-3, 1.0, 1.5, float("nan")])
def test_eps_outside_unit_interval_raises(eps, key):
    x0 = jnp.ones((4, 2))
    with pytest.raises(ValueError, match="eps"):
        obj.dsm_loss(VP, linear_score, x0, key, eps=eps)
    with pytest.raises(ValueError, match="eps"):
        obj.ddpm_loss(VP, linear_score, x0, key, eps=eps)


@pytest.mark.parametrize("sigmas", [[0.1, 1.0], [1.0, 1.0, 0.5], [1.0, 0.5, 0.7], [1.0, 0.0], [1.0, -0.5], []])
def test_ncsn_rejects_non_decreasing_sigmas(sigmas, key):
    with pytest.raises(ValueError, match="sigmas"):
        obj.ncsn_loss(linear_score, np.array(sigmas), jnp.ones((4, 2)), key)


def test_geometric_sigmas_rejects_bad_range():
    with pytest.raises(ValueError, match="sigma_max"):
        obj.geometric_sigmas(0.01, 1.0, 10)
    with pytest.raises(ValueError, match="sigma_min"):
        obj.geometric_sigmas(1.0, 0.0, 10)


@pytest.mark.parametrize("n", [0, -1, True])
def test_bad_counts_raise(n, key):
    x = jnp.ones((4, 3))
    with pytest.raises(ValueError, match="n_projections"):
        obj.sliced_score_matching(tanh_score, x, key, n_projections=n)
    with pytest.raises(ValueError, match="n_timesteps"):
        obj.ddpm_loss(VP, linear_score, x, key, n_timesteps=n)


def test_unknown_probe_raises(key):
    with pytest.raises(ValueError, match="probe"):
        obj.sliced_score_matching(tanh_score, jnp.ones((4, 3)), key, probe="uniform")
    with pytest.raises(ValueError, match="probe"):
        obj.draw_probes(key, (2, 3), "sphere")


# ---- jit and grad compose ------------------------------------------------------------


def _param_losses():
    """Losses of a tiny score model s_theta = theta[0] * base + theta[1]; each is quadratic in theta."""
    x3 = jr.normal(jr.key(15), (64, 3))
    sigmas = obj.geometric_sigmas(1.0, 0.01, 5)
    ve_score, vp_score = MIX.score_fn(VE), MIX.score_fn(VP)

    def data_fn(th):
        return lambda x: th[0] * tanh_score(x) - th[1] * x

    return {
        "dsm_ve": lambda th, k: obj.dsm_loss(VE, lambda x, t: th[0] * ve_score(x, t) + th[1], X0[:256], k),
        "dsm_vp_lik": lambda th, k: obj.dsm_loss(
            VP, lambda x, t: th[0] * vp_score(x, t) + th[1], X0[:256], k, likelihood_weighting=True, eps=1e-2
        ),
        "ncsn": lambda th, k: obj.ncsn_loss(
            lambda x, s: th[0] * MIX.sigma_score_fn()(x, s) + th[1], sigmas, X0[:256], k
        ),
        "ddpm": lambda th, k: obj.ddpm_loss(
            VP, lambda x, t: th[0] * linear_score(x, t) + th[1], X0[:256], k, n_timesteps=100
        ),
        "ssm": lambda th, k: obj.sliced_score_matching(data_fn(th), x3, k, n_projections=2),
        "ssm_vr": lambda th, k: obj.sliced_score_matching(
            data_fn(th), x3, k, variance_reduction=True, probe="rademacher"
        ),
        "exact": lambda th, k: obj.exact_score_matching(data_fn(th), x3),
    }


@pytest.mark.parametrize("name", list(_param_losses()))
def test_jit_and_grad_compose(name, key):
    value_and_grad = jax.jit(jax.value_and_grad(_param_losses()[name]))
    theta = jnp.array([0.9, 0.1])
    value, grad = value_and_grad(theta, key)
    grad = np.asarray(grad, np.float64)
    assert np.isfinite(float(value)) and np.all(np.isfinite(grad))
    # the loss is quadratic in theta, so central differences are exact up to float32 rounding
    h = 0.05
    fd = [
        (float(value_and_grad(theta + h * e, key)[0]) - float(value_and_grad(theta - h * e, key)[0])) / (2 * h)
        for e in np.eye(2)
    ]
    np.testing.assert_allclose(grad, fd, rtol=2e-3, atol=2e-4 * (1 + abs(float(value))))
