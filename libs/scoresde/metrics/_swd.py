"""Sliced Wasserstein distance between two point clouds (equal or unequal sizes)."""

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from .._checks import check_positive_int
from .._typing import Key


def sliced_wasserstein(
    x: Float[Array, "n D"], y: Float[Array, "m E"], key: Key, *, n_projections: int = 256, n_quantiles: int = 512
) -> Float[Array, ""]:
    """sqrt(E_theta W_2^2(theta^T x, theta^T y)) over random unit directions theta.

    1-D W_2 is computed between quantile functions at `n_quantiles` levels, so n != m works.
    """
    check_positive_int("n_projections", n_projections)
    x, y = x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    theta = jr.normal(key, (n_projections, x.shape[1]))
    theta = theta / jnp.linalg.norm(theta, axis=1, keepdims=True)
    q = (jnp.arange(n_quantiles) + 0.5) / n_quantiles

    def one(th):
        return jnp.mean((jnp.quantile(x @ th, q) - jnp.quantile(y @ th, q)) ** 2)

    return jnp.sqrt(jnp.mean(jax.lax.map(one, theta)))
