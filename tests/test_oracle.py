"""The Gaussian-mixture oracle against independent densities (numpy/scipy) and autodiff.

The reference log density of a perturbed mixture is written out here from the closed forms,
p_t = sum_k w_k N(a mu_k, (a^2 s_k^2 + std^2) I), with a(t), std(t) from the closed forms, so no
test compares the oracle against itself.
"""

import itertools
import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.special
import scipy.stats

from scoresde import oracle
from scoresde import sde as sdes


def ref_log_prob(x, weights, means, stds):
    """log sum_k w_k N(x; mu_k, s_k^2 I), elementwise in numpy float64 via scipy."""
    x = np.asarray(x, np.float64)
    comps = [
        np.log(w) + np.reshape(scipy.stats.multivariate_normal(mu, s**2 * np.eye(len(mu))).logpdf(x), x.shape[:-1])
        for w, mu, s in zip(weights, means, stds, strict=True)
    ]
    return scipy.special.logsumexp(np.stack(comps, -1), axis=-1)


def jnp_log_prob(x, a, std, weights, means, stds):
    """One point's log density of a x_0 + std z, x_0 from the mixture, written in jnp for jax.grad."""
    var = a**2 * stds**2 + std**2
    d = x.shape[-1]
    logits = jnp.log(weights) - 0.5 * d * jnp.log(2 * jnp.pi * var) - jnp.sum((x - a * means) ** 2, -1) / (2 * var)
    return jax.nn.logsumexp(logits)


# per-point gradient in x of jnp_log_prob, batched over (x, a, std)
GRAD_LOG_PROB = jax.jit(jax.vmap(jax.grad(jnp_log_prob), in_axes=(0, 0, 0, None, None, None)))


def ref_marginal(s, t):
    """(a, std) of x_t = a x_0 + std z from the closed forms, numpy float64."""
    t = np.asarray(t, np.float64)
    if isinstance(s, sdes.VESDE):
        return np.ones_like(t), s.sigma_min * (s.sigma_max / s.sigma_min) ** t
    m = -0.25 * t**2 * (s.beta_max - s.beta_min) - 0.5 * t * s.beta_min
    std = 1 - np.exp(2 * m) if isinstance(s, sdes.SubVPSDE) else np.sqrt(1 - np.exp(2 * m))
    return np.exp(m), std


def make_mixture(dim, seed=0, k=3):
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.full(k, 2.0))
    mu = rng.normal(size=(k, dim)) * (2.0 / math.sqrt(dim))
    s = rng.uniform(0.3, 0.8, size=k)
    return w, mu, s


def test_log_prob_matches_scipy(key):
    w, mu, s = make_mixture(2)
    gm = oracle.GaussianMixture(w, mu, s)
    x = np.asarray(jr.normal(key, (50, 2)) * 2.0)
    np.testing.assert_allclose(gm.log_prob(jnp.asarray(x)), ref_log_prob(x, w, mu, s), rtol=1e-5, atol=1e-5)
    r_ref = np.exp(
        np.stack(
            [
                np.log(wk) + scipy.stats.multivariate_normal(m, sk**2 * np.eye(2)).logpdf(x)
                for wk, m, sk in zip(w, mu, s, strict=True)
            ],
            -1,
        )
        - ref_log_prob(x, w, mu, s)[:, None]
    )
    np.testing.assert_allclose(gm.responsibilities(jnp.asarray(x)), r_ref, atol=1e-5)
    assert gm.dim == 2


def test_log_prob_scalar_stds_and_high_dim(key):
    mu = np.random.default_rng(1).normal(size=(4, 16)) * 0.5
    gm = oracle.GaussianMixture([0.1, 0.2, 0.3, 0.4], mu, 0.7)
    x = np.asarray(jr.normal(key, (20, 16)))
    np.testing.assert_allclose(
        gm.log_prob(jnp.asarray(x)), ref_log_prob(x, [0.1, 0.2, 0.3, 0.4], mu, [0.7] * 4), rtol=1e-5
    )


@pytest.mark.parametrize("dim", [2, 16])
def test_score_is_grad_of_log_density(dim, key):
    w, mu, s = make_mixture(dim, seed=dim)
    gm = oracle.GaussianMixture(w, mu, s)
    x = jr.normal(key, (40, dim)) * 1.5
    ref = GRAD_LOG_PROB(x, jnp.ones(40), jnp.zeros(40), jnp.asarray(w), jnp.asarray(mu), jnp.asarray(s))
    np.testing.assert_allclose(gm.score(x), ref, rtol=1e-4, atol=1e-4)


SDES = {"ve": sdes.VESDE(), "vp": sdes.VPSDE(), "subvp": sdes.SubVPSDE()}


@pytest.mark.parametrize("dim", [2, 16])
@pytest.mark.parametrize("name", list(SDES))
def test_score_fn_is_grad_of_perturbed_log_density(name, dim, key):
    s = SDES[name]
    w, mu, sd = make_mixture(dim, seed=dim + 1)
    gm = oracle.GaussianMixture(w, mu, sd)
    t = np.array([1e-3, 0.02, 0.1, 0.3, 0.6, 1.0])
    a, std = ref_marginal(s, t)
    kx, kz = jr.split(key)
    # points from the perturbed law itself, so every component matters somewhere
    x0 = gm.sample(kx, t.size)
    x = jnp.asarray(a[:, None] * np.asarray(x0) + std[:, None] * np.asarray(jr.normal(kz, x0.shape)), jnp.float32)
    args = (jnp.asarray(w), jnp.asarray(mu), jnp.asarray(sd))
    ref = GRAD_LOG_PROB(x, jnp.asarray(a, jnp.float32), jnp.asarray(std, jnp.float32), *args)
    got = gm.score_fn(s)(x, jnp.asarray(t, jnp.float32))
    # Scores scale like (x - a mu) / var per point (var from 1e-2 to 2500 here): compare
    # var * score, which is O(|x| + |mu|), so every time is checked to the same relative accuracy.
    var = (a**2 * sd.min() ** 2 + std**2)[:, None]
    np.testing.assert_allclose(
        var * np.asarray(got), var * np.asarray(ref), rtol=1e-4, atol=1e-4 * (1 + float(np.abs(x).max()))
    )
    # and the exact marginal p_t is the perturbed mixture, as a density
    for i in (0, 3, 5):
        lp = gm.marginal(s, float(t[i])).log_prob(x[i : i + 1])
        np.testing.assert_allclose(
            lp, ref_log_prob(x[i : i + 1], w, a[i] * mu, np.sqrt(a[i] ** 2 * sd**2 + std[i] ** 2)), rtol=1e-4, atol=1e-4
        )


def test_sigma_score_fn_is_grad_of_smoothed_density(key):
    w, mu, sd = make_mixture(3, seed=5)
    gm = oracle.GaussianMixture(w, mu, sd)
    sigmas = np.array([0.01, 0.1, 1.0, 5.0])
    x = jr.normal(key, (4, 3)) * 2
    args = (jnp.asarray(w), jnp.asarray(mu), jnp.asarray(sd))
    ref = GRAD_LOG_PROB(x, jnp.ones(4), jnp.asarray(sigmas, jnp.float32), *args)
    np.testing.assert_allclose(gm.sigma_score_fn()(x, jnp.asarray(sigmas, jnp.float32)), ref, rtol=1e-4, atol=1e-5)
    # a point mass (std 0) smoothed by sigma is N(mu, sigma^2): score (mu - x)/sigma^2
    delta = oracle.GaussianMixture([1.0], [[1.0, -2.0, 0.5]], 0.0)
    np.testing.assert_allclose(
        delta.sigma_score_fn()(x, jnp.asarray(sigmas, jnp.float32)),
        (np.array([1.0, -2.0, 0.5]) - np.asarray(x)) / sigmas[:, None] ** 2,
        rtol=1e-4,
    )


def test_sampling_reproduces_weights_means_and_covariance(key):
    w = np.array([0.5, 0.3, 0.2])
    mu = np.array([[-3.0, 0.0], [3.0, 1.0], [0.0, 4.0]])
    sd = np.array([0.5, 1.0, 0.3])
    gm = oracle.GaussianMixture(w, mu, sd)
    n = 100_000
    x, lab = gm.sample_with_labels(key, n)
    x, lab = np.asarray(x), np.asarray(lab)
    assert x.shape == (n, 2) and lab.shape == (n,)
    freq = np.bincount(lab, minlength=3) / n
    np.testing.assert_array_less(np.abs(freq - w), 5 * np.sqrt(w * (1 - w) / n))
    for k in range(3):
        xk = x[lab == k]
        nk = len(xk)
        np.testing.assert_allclose(xk.mean(0), mu[k], atol=5 * sd[k] / np.sqrt(nk))
        np.testing.assert_allclose(np.cov(xk.T), sd[k] ** 2 * np.eye(2), atol=5 * sd[k] ** 2 * np.sqrt(2 / nk))
    # sample() (no labels): overall mean and covariance of the mixture
    y = np.asarray(gm.sample(jr.fold_in(key, 1), n))
    mean = w @ mu
    cov = sum(wk * (sk**2 * np.eye(2) + np.outer(m - mean, m - mean)) for wk, m, sk in zip(w, mu, sd, strict=True))
    np.testing.assert_array_less(np.abs(y.mean(0) - mean), 5 * np.sqrt(np.diag(cov) / n))
    np.testing.assert_allclose(np.cov(y.T), cov, atol=5 * np.max(np.diag(cov)) * np.sqrt(2 / n) * 2)
    # the labels agree with the nearest mean (modes are > 6 std apart)
    nearest = np.argmin(((x[:, None] - mu[None]) ** 2).sum(-1) / sd**2, axis=1)
    assert np.mean(nearest == lab) > 0.999


@pytest.mark.parametrize(
    "weights,means,match",
    [
        ([0.5, -0.1, 0.6], np.zeros((3, 2)), "weights"),
        ([0.5, 0.4], np.zeros((2, 2)), "weights must sum to 1"),
        ([0.5, 0.6], np.zeros((2, 2)), "weights must sum to 1"),
        ([0.5, 0.5], np.zeros((3, 2)), "weights"),
        ([[0.5, 0.5]], np.zeros((2, 2)), "weights"),
        ([0.5, 0.5], np.zeros(2), "means"),
        (np.array([1.5, -0.5]), np.zeros((2, 2)), "weights"),
        (jnp.array([1.5, -0.5]), np.zeros((2, 2)), "weights"),
        (jnp.array([0.3, 0.3]), np.zeros((2, 2)), "weights must sum to 1"),
    ],
)
def test_bad_weights_raise(weights, means, match):
    with pytest.raises(ValueError, match=match):
        oracle.GaussianMixture(weights, means, 1.0)


def test_negative_stds_raise():
    with pytest.raises(ValueError, match="stds"):
        oracle.GaussianMixture([0.5, 0.5], np.zeros((2, 2)), [1.0, -1.0])


def test_marginal_under_jit_and_vmap(key):
    """The oracle works on traced times (weights stay checked only when concrete)."""
    gm = oracle.two_mode_mixture()
    s = sdes.VPSDE()
    x = jr.normal(key, (5, 2))
    t = jnp.linspace(0.1, 1.0, 5)
    lp = jax.jit(jax.vmap(lambda ti, xi: gm.marginal(s, ti).log_prob(xi[None])[0]))(t, x)
    a, std = ref_marginal(s, np.asarray(t))
    ref = [
        ref_log_prob(
            np.asarray(x[i : i + 1]),
            [0.8, 0.2],
            a[i] * np.array([[5.0, 5.0], [-5.0, -5.0]]),
            np.sqrt(a[i] ** 2 + std[i] ** 2) * np.ones(2),
        )[0]
        for i in range(5)
    ]
    np.testing.assert_allclose(lp, ref, rtol=1e-5)


def test_grid_mixture_preset():
    gm = oracle.grid_mixture()
    assert gm.means.shape == (25, 2)
    expected = {(float(a), float(b)) for a, b in itertools.product([-4, -2, 0, 2, 4], repeat=2)}
    assert {tuple(map(float, m)) for m in np.asarray(gm.means)} == expected
    np.testing.assert_allclose(gm.weights, np.full(25, 1 / 25), rtol=1e-6)
    np.testing.assert_allclose(gm.stds, np.full(25, 0.05), rtol=1e-6)
    small = oracle.grid_mixture(n_per_side=3, spacing=1.0, std=0.2)
    assert {tuple(map(float, m)) for m in np.asarray(small.means)} == set(itertools.product([-1.0, 0.0, 1.0], repeat=2))
    np.testing.assert_allclose(small.stds, 0.2, rtol=1e-6)


def test_two_mode_mixture_preset():
    gm = oracle.two_mode_mixture()
    np.testing.assert_allclose(gm.weights, [0.8, 0.2], rtol=1e-6)
    np.testing.assert_allclose(gm.means, [[5.0, 5.0], [-5.0, -5.0]])
    np.testing.assert_allclose(gm.stds, [1.0, 1.0])
    gm3 = oracle.two_mode_mixture(dim=3)
    np.testing.assert_allclose(gm3.means, [[5.0] * 3, [-5.0] * 3])
