"""PF-ODE log-likelihood against analytic mixture densities."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from scoresde import likelihood, oracle
from scoresde import sde as sdes

MIX = oracle.GaussianMixture(np.array([0.7, 0.3]), np.array([[1.5, 1.0], [-1.5, -0.5]]), np.array([0.5, 0.3]))
CENTRED = oracle.GaussianMixture(np.array([0.5, 0.5]), np.array([[0.3, 0.0], [-0.3, 0.0]]), np.array([0.4, 0.4]))


@pytest.mark.parametrize("sde", [sdes.VESDE(), sdes.VPSDE(), sdes.SubVPSDE()], ids=["ve", "vp", "subvp"])
def test_exact_divergence_matches_analytic_log_density(sde):
    x = MIX.sample(jax.random.key(1), 32)
    p_T = MIX.marginal(sde, sde.T)
    logp, nfe = jax.jit(lambda x, k: likelihood.log_prob(sde, MIX.score_fn(sde), x, k, prior_logp=p_T.log_prob))(
        x, jax.random.key(0)
    )
    assert float(jnp.max(jnp.abs(logp - MIX.log_prob(x)))) < 0.01
    assert 20 < int(nfe) < 1000


@pytest.mark.parametrize("sde", [sdes.VESDE(), sdes.VPSDE()], ids=["ve", "vp"])
def test_default_gaussian_prior_when_prior_mismatch_is_small(sde):
    # A mixture centred at 0 has p_T within ~1e-3 nats of the SDE's Gaussian prior.
    x = CENTRED.sample(jax.random.key(2), 32)
    logp, _ = likelihood.log_prob(sde, CENTRED.score_fn(sde), x, jax.random.key(0))
    assert float(jnp.max(jnp.abs(logp - CENTRED.log_prob(x)))) < 0.01


def test_hutchinson_is_unbiased_within_its_standard_error():
    sde = sdes.VPSDE()
    x = MIX.sample(jax.random.key(3), 16)
    p_T = MIX.marginal(sde, sde.T)
    true = MIX.log_prob(x)

    @jax.jit
    def estimate(k):
        lp, _ = likelihood.log_prob(
            sde, MIX.score_fn(sde), x, k, divergence="hutchinson", probe="gaussian", prior_logp=p_T.log_prob
        )
        return lp - true

    errs = jax.lax.map(estimate, jax.random.split(jax.random.key(4), 24))  # (24, 16)
    mean_err = float(jnp.mean(errs))
    se = float(jnp.std(errs) / np.sqrt(errs.size))
    assert float(jnp.std(errs)) > 1e-3  # the estimator is really stochastic
    assert abs(mean_err) < 3 * se + 2e-3


def test_more_probes_reduce_variance():
    sde = sdes.VPSDE()
    x = MIX.sample(jax.random.key(5), 64)

    def spread(n_probes):
        lp, _ = likelihood.log_prob(
            sde, MIX.score_fn(sde), x, jax.random.key(6), divergence="hutchinson", n_probes=n_probes
        )
        return float(jnp.std(lp - MIX.log_prob(x)))

    assert spread(8) < 0.6 * spread(1)


def test_fixed_step_solve_agrees_with_adaptive():
    sde = sdes.VPSDE()
    x = MIX.sample(jax.random.key(7), 16)
    adaptive, _ = likelihood.log_prob(sde, MIX.score_fn(sde), x, jax.random.key(0))
    fixed, nfe = likelihood.log_prob(sde, MIX.score_fn(sde), x, jax.random.key(0), solver="heun", n_steps=400)
    assert int(nfe) == 800
    assert float(jnp.max(jnp.abs(adaptive - fixed))) < 0.01


def test_bits_per_dim_of_uniform_model_is_eight():
    # A standard-normal "data" law is its own p_T under VP when a(t) x_0 + std z keeps N(0, I):
    # the PF-ODE is then the identity in law, and bpd has a closed form.
    sde = sdes.VPSDE()
    normal = oracle.GaussianMixture(np.array([1.0]), np.zeros((1, 3)), np.array([1.0]))
    x = jnp.round(jax.random.uniform(jax.random.key(8), (8, 3)) * 255) / 255
    k = jax.random.key(9)
    bpd, _ = likelihood.bits_per_dim(sde, normal.score_fn(sde), x, k)
    u = likelihood.dequantize(x, jax.random.split(k)[0])
    y = 2 * u - 1
    expected = -(normal.log_prob(y) + 3 * np.log(2.0)) / (3 * np.log(2.0)) + 8
    np.testing.assert_allclose(bpd, expected, atol=1e-3)


def test_bad_inputs_name_the_argument():
    sde = sdes.VPSDE()
    x = MIX.sample(jax.random.key(0), 4)
    with pytest.raises(ValueError, match="divergence"):
        likelihood.log_prob(sde, MIX.score_fn(sde), x, jax.random.key(0), divergence="skilling")
    with pytest.raises(ValueError, match="eps"):
        likelihood.log_prob(sde, MIX.score_fn(sde), x, jax.random.key(0), eps=1.5)
    with pytest.raises(ValueError, match="n_probes"):
        likelihood.log_prob(sde, MIX.score_fn(sde), x, jax.random.key(0), divergence="hutchinson", n_probes=0)
    with pytest.raises(ValueError, match="x must"):
        likelihood.bits_per_dim(sde, MIX.score_fn(sde), 2.0 * jnp.ones((2, 2)), jax.random.key(0))
