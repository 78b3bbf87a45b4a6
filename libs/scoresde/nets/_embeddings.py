"""Embeddings of the scalar noise condition (time, sigma or log sigma) shared by the backbones."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float


def sinusoidal_embedding(c: Float[Array, ""], dim: int, *, max_period: float = 10000.0) -> Float[Array, " dim"]:
    """DDPM / Transformer positional embedding of a scalar: [sin(c w_k), cos(c w_k)], w_k geometric."""
    half = dim // 2
    freqs = jnp.exp(-math.log(max_period) * jnp.arange(half) / max(half - 1, 1))
    args = c * freqs
    emb = jnp.concatenate([jnp.sin(args), jnp.cos(args)])
    return jnp.pad(emb, (0, dim - 2 * half))


class GaussianFourierEmbedding(eqx.Module):
    """Random Fourier features [sin(2 pi c W), cos(2 pi c W)], W ~ N(0, scale^2), fixed (not trained).

    score_sde's NCSN++ uses scale 16 on log(sigma). W is kept out of the gradient with
    `jax.lax.stop_gradient`, so optimisers leave it unchanged.
    """

    W: Float[Array, " half"]

    def __init__(self, dim: int, scale: float = 16.0, *, key):
        self.W = scale * jr.normal(key, (dim // 2,))

    def __call__(self, c: Float[Array, ""]) -> Float[Array, " dim"]:
        w = jax.lax.stop_gradient(self.W)
        args = 2 * jnp.pi * c * w
        return jnp.concatenate([jnp.sin(args), jnp.cos(args)])
