"""An MLP score network for low-dimensional data, conditioned on a time embedding (`mlp`)."""

import equinox as eqx
import jax
import jax.random as jr
from jaxtyping import Array, Float

from .layers import Dense, dropout, sinusoidal_embedding


class MLP(eqx.Module):
    """x (D,) (or any shape with D entries) and a scalar condition c -> same shape: hidden layers (SiLU).

    The embedding of c is added to every hidden layer through its own linear map, so that
    deep MLPs keep the conditioning. Optional class labels get a learned embedding too.
    """

    inp: Dense
    hidden: tuple[Dense, ...]
    cond: tuple[Dense, ...]
    out: Dense
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
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        keys = jr.split(key, 2 * depth + 3)
        self.inp = Dense(dim, width, init="torch", key=keys[0])
        self.hidden = tuple(Dense(width, width, init="torch", key=k) for k in keys[1:depth])
        self.cond = tuple(Dense(emb_dim, width, init="torch", key=k) for k in keys[depth : 2 * depth])
        self.out = Dense(width, dim, init="torch", key=keys[-1])
        self.label_embed = eqx.nn.Embedding(num_classes + 1, emb_dim, key=keys[-2]) if num_classes else None
        self.emb_dim = emb_dim
        self.dropout = dropout

    def __call__(
        self, x: Float[Array, "*shape"], c: Float[Array, ""], *, key=None, label=None
    ) -> Float[Array, "*shape"]:
        """x of any shape with `dim` entries (images are flattened and the output reshaped back)."""
        shape = x.shape
        x = x.reshape(-1)
        emb = sinusoidal_embedding(c, self.emb_dim).astype(x.dtype)
        if self.label_embed is not None and label is not None:
            emb = emb + self.label_embed(label).astype(x.dtype)
        layers = (self.inp, *self.hidden)
        keys = [None] * len(layers) if key is None else list(jr.split(key, len(layers)))
        h = x
        for layer, cond, k in zip(layers, self.cond, keys, strict=True):
            h = dropout(jax.nn.silu(layer(h) + cond(emb)), self.dropout, k)
        return self.out(h).reshape(shape)
