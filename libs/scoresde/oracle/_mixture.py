"""Isotropic Gaussian mixtures with exact densities and exact perturbed scores.

A mixture p_0 = sum_k w_k N(mu_k, s_k^2 I) stays a mixture under any of our SDEs:
p_t = sum_k w_k N(a mu_k, (a^2 s_k^2 + std^2) I). That gives exact scores at every t,
against which every sampler, objective and likelihood estimator is tested.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, Int

from .._checks import check_range, is_concrete
from .._typing import Key, Scalar, ScoreFn
from ..sde import AbstractProcess


class GaussianMixture(eqx.Module):
    """sum_k weights[k] N(means[k], stds[k]^2 I) over R^D."""

    weights: Float[Array, " K"]
    means: Float[Array, "K D"]
    stds: Float[Array, " K"]

    def __init__(self, weights, means, stds):
        w = jnp.asarray(weights, float)
        mu = jnp.asarray(means, float)
        s = jnp.broadcast_to(jnp.asarray(stds, float), w.shape)
        if w.ndim != 1 or mu.ndim != 2 or mu.shape[0] != w.shape[0]:
            raise ValueError(f"weights must be (K,) and means (K, D); got weights {w.shape}, means {mu.shape}")
        # Check every concrete input (Python, numpy or jax arrays); traced ones (under jit) pass.
        if is_concrete(weights):
            check_range("weights", np.asarray(weights, float), 0.0, None)
            if not np.isclose(np.sum(np.asarray(weights, float)), 1.0, atol=1e-5):
                raise ValueError(f"weights must sum to 1, got {float(np.sum(np.asarray(weights, float)))}")
        if is_concrete(stds):
            check_range("stds", np.asarray(stds, float), 0.0, None)
        self.weights, self.means, self.stds = w, mu, s

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def perturbed(self, a: Scalar, std: Scalar) -> "GaussianMixture":
        """The law of a x + std z for x from this mixture."""
        return GaussianMixture(self.weights, a * self.means, jnp.sqrt(a**2 * self.stds**2 + std**2))

    def sample(self, key: Key, n: int) -> Float[Array, "n D"]:
        kc, kz = jr.split(key)
        comp = jr.choice(kc, self.weights.shape[0], (n,), p=self.weights)
        return self.means[comp] + self.stds[comp, None] * jr.normal(kz, (n, self.dim))

    def sample_with_labels(self, key: Key, n: int) -> tuple[Float[Array, "n D"], Int[Array, " n"]]:
        kc, kz = jr.split(key)
        comp = jr.choice(kc, self.weights.shape[0], (n,), p=self.weights)
        return self.means[comp] + self.stds[comp, None] * jr.normal(kz, (n, self.dim)), comp

    def component_log_probs(self, x: Float[Array, "n D"]) -> Float[Array, "n K"]:
        """log w_k + log N(x; mu_k, s_k^2 I) for every point and component."""
        d = self.dim
        sq = jnp.sum((x[:, None, :] - self.means[None]) ** 2, axis=-1)
        var = self.stds**2
        return jnp.log(self.weights) - 0.5 * d * jnp.log(2 * jnp.pi * var) - sq / (2 * var)

    def log_prob(self, x: Float[Array, "n D"]) -> Float[Array, " n"]:
        return jax.nn.logsumexp(self.component_log_probs(x), axis=-1)

    def responsibilities(self, x: Float[Array, "n D"]) -> Float[Array, "n K"]:
        return jax.nn.softmax(self.component_log_probs(x), axis=-1)

    def score(self, x: Float[Array, "n D"]) -> Float[Array, "n D"]:
        """grad_x log p(x) = sum_k r_k(x) (mu_k - x) / s_k^2."""
        r = self.responsibilities(x)
        diff = self.means[None] - x[:, None, :]
        return jnp.sum((r / self.stds**2)[..., None] * diff, axis=1)

    # ---- scores of perturbed marginals ---------------------------------------------
    def score_at(self, x: Float[Array, "n D"], a: Float[Array, " n"], std: Float[Array, " n"]) -> Float[Array, "n D"]:
        """Score of the law of a x_0 + std z at x, with per-point (a, std)."""
        d = self.dim
        var = a[:, None] ** 2 * self.stds[None] ** 2 + std[:, None] ** 2  # (n, K)
        mu = a[:, None, None] * self.means[None]  # (n, K, D)
        diff = mu - x[:, None, :]
        logits = jnp.log(self.weights) - 0.5 * d * jnp.log(2 * jnp.pi * var) - jnp.sum(diff**2, -1) / (2 * var)
        r = jax.nn.softmax(logits, axis=-1)
        return jnp.sum((r / var)[..., None] * diff, axis=1)

    def score_fn(self, sde: AbstractProcess) -> ScoreFn:
        """The exact batched score (x, t) -> grad log p_t(x) of the SDE's perturbed marginal."""

        def fn(x: Float[Array, "n D"], t: Float[Array, " n"]) -> Float[Array, "n D"]:
            a, std = sde.marginal(t)
            return self.score_at(x, a, std)

        return fn

    def sigma_score_fn(self) -> ScoreFn:
        """Exact batched score (x, sigma) -> grad log (p * N(0, sigma^2 I))(x), NCSN's noise levels."""

        def fn(x: Float[Array, "n D"], sigma: Float[Array, " n"]) -> Float[Array, "n D"]:
            return self.score_at(x, jnp.ones_like(sigma), sigma)

        return fn

    def marginal(self, sde: AbstractProcess, t: Scalar) -> "GaussianMixture":
        """The exact law p_t of x_t under the SDE."""
        a, std = sde.marginal(t)
        return self.perturbed(a, std)
