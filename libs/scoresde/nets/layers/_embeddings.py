"""Embeddings of the scalar noise condition and of patch positions; computed in float32.

- `sinusoidal_embedding`: DDPM's [sin(c w_k), cos(c w_k)], w_k = 10000^(-k / (half - 1));
- `timestep_features`: DiT / GLIDE's [cos(c w_k), sin(c w_k)], w_k = 10000^(-k / half);
- `GaussianFourierEmbedding`: NCSN++'s fixed random Fourier features [sin(2 pi c W), cos(2 pi c W)];
- `sincos_2d_position_embedding`: MAE / DiT's fixed 2-D position table.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ._init import normal


def sinusoidal_embedding(c: Float[ArrayLike, ""], dim: int, *, max_period: float = 10000.0) -> Float[Array, " dim"]:
    """DDPM's positional embedding of a scalar (zero-padded to odd `dim`)."""
    half = dim // 2
    freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / max(half - 1, 1))
    args = jnp.asarray(c, jnp.float32) * freqs
    return jnp.pad(jnp.concatenate([jnp.sin(args), jnp.cos(args)]), (0, dim - 2 * half))


def timestep_features(c: Float[ArrayLike, ""], dim: int = 256, *, max_period: float = 10000.0) -> Float[Array, " dim"]:
    """DiT's sinusoidal timestep features (cosines first; zero-padded to odd `dim`)."""
    half = dim // 2
    freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)
    args = jnp.asarray(c, jnp.float32) * freqs
    return jnp.pad(jnp.concatenate([jnp.cos(args), jnp.sin(args)]), (0, dim - 2 * half))


class GaussianFourierEmbedding(eqx.Module):
    """Random Fourier features [sin(2 pi c W), cos(2 pi c W)], W ~ N(0, scale^2), fixed (not trained).

    NCSN++ embeds log(sigma) with scale 16. W is kept out of the gradient with
    `jax.lax.stop_gradient`, so optimisers leave it unchanged.
    """

    W: Float[Array, " half"]

    def __init__(self, dim: int, scale: float = 16.0, *, key):
        self.W = normal(key, (dim // 2,), scale)

    def __call__(self, c: Float[ArrayLike, ""]) -> Float[Array, " dim"]:
        w = jax.lax.stop_gradient(self.W).astype(jnp.float32)
        args = 2 * jnp.pi * jnp.asarray(c, jnp.float32) * w
        return jnp.concatenate([jnp.sin(args), jnp.cos(args)])


def _sincos_1d(dim: int, pos: np.ndarray) -> np.ndarray:
    """(len(pos), dim): [sin(p w_k), cos(p w_k)], w_k = 10000^(-2k/dim)."""
    omega = 1.0 / 10000.0 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
    out = np.outer(pos.reshape(-1).astype(np.float64), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d_position_embedding(dim: int, grid_h: int, grid_w: int) -> np.ndarray:
    """(grid_h * grid_w, dim) fixed position table of a row-major patch grid (MAE / DiT layout).

    The first dim/2 channels encode the column index, the last dim/2 the row index; dim % 4 == 0.
    """
    if dim % 4:
        raise ValueError(f"hidden_size={dim} must be divisible by 4 for the 2-D sin-cos position embedding")
    rows, cols = np.meshgrid(np.arange(grid_h), np.arange(grid_w), indexing="ij")
    return np.concatenate([_sincos_1d(dim // 2, cols), _sincos_1d(dim // 2, rows)], axis=1).astype(np.float32)
