"""Mode statistics for mixtures: per-component weights, high-quality fraction, modes covered."""

import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from ..oracle import GaussianMixture


def nearest_mode(x: Float[Array, "n D"], means: Float[Array, "K D"]) -> tuple[Int[Array, " n"], Float[Array, " n"]]:
    """Index of and distance to the nearest mode."""
    d2 = jnp.sum((x[:, None, :] - means[None]) ** 2, -1)
    idx = jnp.argmin(d2, axis=1)
    return idx, jnp.sqrt(jnp.take_along_axis(d2, idx[:, None], 1)[:, 0])


def mode_weights(x: Float[Array, "n D"], mixture: GaussianMixture) -> Float[Array, " K"]:
    """Fraction of samples per component, each sample split by its exact responsibilities."""
    return jnp.mean(mixture.responsibilities(x), axis=0)


def mode_quality(x: Float[Array, "n D"], mixture: GaussianMixture, *, n_std: float = 4.0, min_count: int = 1):
    """(% of samples within n_std stds of their nearest mode, number of modes with >= min_count such samples)."""
    idx, dist = nearest_mode(x, mixture.means)
    good = dist <= n_std * mixture.stds[idx]
    counts = jnp.zeros(mixture.means.shape[0]).at[idx].add(good)
    return 100.0 * jnp.mean(good), jnp.sum(counts >= min_count)
