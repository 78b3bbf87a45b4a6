"""Kernel (empirical) scores against the Gaussian-mixture oracle with zero-width components."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from scoresde import oracle


def _as_mixture(y, sigma):
    m = y.shape[0]
    return oracle.GaussianMixture(np.full(m, 1.0 / m), y, np.zeros(m)).perturbed(1.0, sigma)


@pytest.mark.parametrize("chunk, query_chunk", [(1024, 1024), (7, 5)])
def test_empirical_score_and_log_prob_are_the_mixture_oracle(chunk, query_chunk):
    y = jax.random.normal(jax.random.key(0), (53, 3)) * 2.0
    x = jax.random.normal(jax.random.key(1), (23, 3)) * 2.0
    sigma = 0.7
    mix = _as_mixture(y, sigma)
    s = oracle.empirical_score(x, y, sigma, chunk_size=chunk, query_chunk=query_chunk)
    np.testing.assert_allclose(s, mix.score(x), rtol=2e-4, atol=2e-4)
    lp = oracle.empirical_log_prob(x, y, sigma, chunk_size=chunk, query_chunk=query_chunk)
    np.testing.assert_allclose(lp, mix.log_prob(x), rtol=1e-4, atol=1e-3)
    d = oracle.empirical_denoiser(x, y, sigma, chunk_size=chunk, query_chunk=query_chunk)
    np.testing.assert_allclose(d, x + sigma**2 * mix.score(x), rtol=2e-4, atol=2e-4)


def test_per_point_sigmas_images_and_the_sigma_score_fn():
    y = jax.random.normal(jax.random.key(2), (40, 1, 2, 2))
    x = jax.random.normal(jax.random.key(3), (9, 1, 2, 2))
    sig = jnp.linspace(0.3, 2.0, 9)
    fn = oracle.empirical_sigma_score_fn(y, chunk_size=16, query_chunk=4)
    s = jax.jit(fn)(x, sig)
    assert s.shape == x.shape
    for i in (0, 8):
        ref = _as_mixture(y.reshape(40, 4), float(sig[i])).score(x[i : i + 1].reshape(1, 4))
        np.testing.assert_allclose(s[i].reshape(1, 4), ref, rtol=2e-4, atol=2e-4)


def test_bad_inputs_raise_one_clear_error():
    x = jnp.zeros((3, 2))
    with pytest.raises(ValueError, match="at least one sample"):
        oracle.empirical_score(x, jnp.zeros((0, 2)), 1.0)
    with pytest.raises(ValueError, match="same data shape"):
        oracle.empirical_score(x, jnp.zeros((4, 3)), 1.0)
    with pytest.raises(ValueError, match="chunk_size"):
        oracle.empirical_score(x, jnp.zeros((4, 2)), 1.0, chunk_size=0)
