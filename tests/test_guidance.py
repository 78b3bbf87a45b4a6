"""Conditional sampling against the analytic conditionals of Gaussian mixtures."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from scoresde import guidance, metrics, oracle, solvers
from scoresde import sde as sdes

# Four modes on the corners of a square; given x1 = 3 only the two right-hand modes remain,
# with conditional weights 0.8 / 0.2 on x2 = +3 / -3 (the marginal of x2 is 0.5 / 0.5).
SQUARE = oracle.GaussianMixture(
    np.array([0.4, 0.1, 0.1, 0.4]), np.array([[3.0, 3.0], [3.0, -3.0], [-3.0, 3.0], [-3.0, -3.0]]), np.full(4, 0.5)
)


def _conditional_weight_up(c):
    lw = np.log(np.asarray(SQUARE.weights)) - (c - np.asarray(SQUARE.means)[:, 0]) ** 2 / (2 * 0.25)
    r = np.exp(lw - lw.max())
    r /= r.sum()
    return r[0] + r[2]


@pytest.mark.parametrize("sde", [sdes.VPSDE(), sdes.VESDE()], ids=["vp", "ve"])
def test_inpainting_matches_analytic_conditional(sde):
    n, c = 4000, 3.0
    x_known = jnp.tile(jnp.array([[c, 0.0]]), (n, 1))
    mask = jnp.tile(jnp.array([[True, False]]), (n, 1))
    x, nfe = jax.jit(
        lambda k: guidance.inpaint(sde, SQUARE.score_fn(sde), k, x_known, mask, n_steps=500, n_corrector=5)
    )(jax.random.key(0))
    assert nfe == 500 * 6
    np.testing.assert_array_equal(np.asarray(x[:, 0]), c)
    up = float(jnp.mean(x[:, 1] > 0))
    # binomial standard error ~0.006; replacement alone (no corrector) is biased to ~0.67
    assert abs(up - _conditional_weight_up(c)) < 0.035
    # within each conditional mode x2 ~ N(+-3, 0.5^2)
    x2 = np.asarray(x[:, 1])
    assert abs(np.std(x2[x2 > 0]) - 0.5) < 0.05
    assert abs(np.mean(x2[x2 > 0]) - 3.0) < 0.05


def test_classifier_guidance_with_exact_classifier_samples_one_component():
    # With labels = components, log p(y | x_t) is the exact responsibility under p_t, and
    # guidance at scale 1 gives the exact conditional score of component y.
    sde = sdes.VPSDE()
    mix = oracle.GaussianMixture(np.array([0.7, 0.3]), np.array([[1.0, 1.0], [-1.0, -1.0]]), np.array([0.6, 0.6]))
    label = 1

    def log_prob_y(x, t):
        mt = mix.marginal(sde, t[0])  # the samplers give every sample the same t
        return jax.nn.log_softmax(mt.component_log_probs(x), axis=-1)[:, label]

    score = guidance.classifier_guided_score(mix.score_fn(sde), log_prob_y, scale=1.0)
    x, _ = jax.jit(lambda k: solvers.reverse_sde(sde, score, k, (3000, 2), n_steps=200))(jax.random.key(1))
    target = oracle.GaussianMixture(np.array([1.0]), np.asarray(mix.means)[label : label + 1], np.array([0.6]))
    ref = target.sample(jax.random.key(2), 3000)
    ref2 = target.sample(jax.random.key(3), 3000)
    swd = float(metrics.sliced_wasserstein(x, ref, jax.random.key(4)))
    base = float(metrics.sliced_wasserstein(ref2, ref, jax.random.key(4)))
    assert swd < 2.0 * base + 0.01


def test_classifier_free_guidance_interpolates_conditional_and_unconditional():
    sde = sdes.VPSDE()
    mix = oracle.GaussianMixture(np.array([0.5, 0.5]), np.array([[2.0, 0.0], [-2.0, 0.0]]), np.array([0.5, 0.5]))
    comps = [
        oracle.GaussianMixture(np.array([1.0]), np.asarray(mix.means)[k : k + 1], np.array([0.5])) for k in range(2)
    ]
    null = 2

    def cond_score(x, t, y):
        per = jnp.stack([c.score_fn(sde)(x, t) for c in comps] + [mix.score_fn(sde)(x, t)])  # (3, B, D)
        return jnp.take_along_axis(per, y[None, :, None], axis=0)[0]

    x = jax.random.normal(jax.random.key(0), (5, 2))
    t = jnp.full((5,), 0.4)
    labels = jnp.zeros(5, int)
    s_c = comps[0].score_fn(sde)(x, t)
    s_u = mix.score_fn(sde)(x, t)
    guided = jax.jit(lambda w: guidance.classifier_free_score(cond_score, labels, w, null)(x, t))
    np.testing.assert_allclose(guided(0.0), s_c, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(guided(-1.0), s_u, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(guided(2.0), 3 * s_c - 2 * s_u, rtol=1e-5, atol=1e-5)


def test_inpaint_rejects_mismatched_mask():
    sde = sdes.VPSDE()
    with pytest.raises(ValueError, match="mask"):
        guidance.inpaint(sde, SQUARE.score_fn(sde), jax.random.key(0), jnp.zeros((4, 2)), jnp.zeros((4, 3), bool))
