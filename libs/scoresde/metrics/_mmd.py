"""Maximum mean discrepancy with a Gaussian kernel (unbiased estimate of MMD^2)."""

import jax.numpy as jnp
from jaxtyping import Array, Float


def _sqdist(a, b):
    return jnp.sum(a**2, 1)[:, None] + jnp.sum(b**2, 1)[None] - 2 * a @ b.T


def mmd(x: Float[Array, "n D"], y: Float[Array, "m D"], *, bandwidth: float = 1.0) -> Float[Array, ""]:
    """Unbiased MMD^2 with k(a, b) = exp(-|a - b|^2 / (2 bandwidth^2)); O(n m) memory."""
    x, y = x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1)
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise ValueError("mmd needs at least 2 points in each set")
    g = lambda a, b: jnp.exp(-_sqdist(a, b) / (2 * bandwidth**2))  # noqa: E731
    n, m = x.shape[0], y.shape[0]
    kxx = (jnp.sum(g(x, x)) - n) / (n * (n - 1))
    kyy = (jnp.sum(g(y, y)) - m) / (m * (m - 1))
    return kxx + kyy - 2 * jnp.mean(g(x, y))
