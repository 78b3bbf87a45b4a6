"""An MLP score network for low-dimensional data, conditioned on a time embedding."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from ._embeddings import sinusoidal_embedding


class MLP(eqx.Module):
    """x (D,) (or any shape with D entries) and a scalar condition c -> same shape: hidden layers (SiLU).

    The embedding of c is added to every hidden layer through its own linear map, so that
    deep MLPs keep the conditioning. Optional class labels get a learned embedding too.
    """

    inp: eqx.nn.Linear
    hidden: tuple[eqx.nn.Linear, ...]
    cond: tuple[eqx.nn.Linear, ...]
    out: eqx.nn.Linear
    label_embed: eqx.nn.Embedding | None
    emb_dim: int = eqx.field(static=True)
    dropout: float = eqx.field(static=True)

    def __init__(
        self,
        dim: int,
        *,
        width: int = 256,
        depth: int = 3,
        emb_dim: int = 64,
        num_classes: int = 0,
        dropout: float = 0.0,
        key,
    ):
        if dim < 1 or width < 1 or depth < 1:
            raise ValueError(f"MLP needs dim, width, depth >= 1, got dim={dim}, width={width}, depth={depth}")
        keys = jr.split(key, 2 * depth + 3)
        self.inp = eqx.nn.Linear(dim, width, key=keys[0])
        self.hidden = tuple(eqx.nn.Linear(width, width, key=k) for k in keys[1:depth])
        self.cond = tuple(eqx.nn.Linear(emb_dim, width, key=k) for k in keys[depth : 2 * depth])
        self.out = eqx.nn.Linear(width, dim, key=keys[-1])
        self.label_embed = eqx.nn.Embedding(num_classes + 1, emb_dim, key=keys[-2]) if num_classes else None
        self.emb_dim = emb_dim
        self.dropout = dropout

    def __call__(
        self, x: Float[Array, "*shape"], c: Float[Array, ""], *, key=None, label=None
    ) -> Float[Array, "*shape"]:
        """x of any shape with `dim` entries (images are flattened and the output reshaped back)."""
        shape = x.shape
        x = x.reshape(-1)
        emb = sinusoidal_embedding(c, self.emb_dim)
        if self.label_embed is not None and label is not None:
            emb = emb + self.label_embed(label)
        layers = (self.inp, *self.hidden)
        keys = [None] * len(layers) if key is None else list(jr.split(key, len(layers)))
        h = x
        for layer, cond, k in zip(layers, self.cond, keys, strict=True):
            h = jax.nn.silu(layer(h) + cond(emb))
            if k is not None and self.dropout > 0:
                keep = jr.bernoulli(k, 1 - self.dropout, h.shape)
                h = jnp.where(keep, h / (1 - self.dropout), 0.0)
        return self.out(h).reshape(shape)
