"""Self-attention through `jax.nn.dot_product_attention`: over the pixels of an image (U-Nets) and over
tokens with several heads (DiT). The softmax runs in float32 whatever the compute dtype."""

import math

import equinox as eqx
import jax
import jax.random as jr
from jaxtyping import Array, Float

from ._dense import Dense
from ._norm import GroupNorm


def attention(q: Float[Array, "T N D"], k: Float[Array, "S N D"], v: Float[Array, "S N D"]) -> Float[Array, "T N D"]:
    """Softmax(q k^T / sqrt(D)) v per head; q, k, v are (tokens, heads, head_dim)."""
    return jax.nn.dot_product_attention(q, k, v, scale=1.0 / math.sqrt(q.shape[-1]))


class PixelAttention(eqx.Module):
    """Single-head attention over the H*W pixels (DDPM's AttnBlock, score_sde's AttnBlockpp).

    GroupNorm, per-pixel q, k, v projections, attention, an output projection (init scale
    `init_scale`, 0 meaning 1e-10), and the residual sum (divided by sqrt 2 if `skip_rescale`).
    """

    norm: GroupNorm
    q: Dense
    k: Dense
    v: Dense
    out: Dense
    skip_rescale: bool = eqx.field(static=True)

    def __init__(self, channels: int, *, groups: int, skip_rescale: bool = False, init_scale: float = 0.0, key):
        kq, kk, kv, ko = jr.split(key, 4)
        self.norm = GroupNorm(channels, groups)
        # score_sde's NIN layers initialise with scale 0.1 (the output projection with init_scale).
        self.q = Dense(channels, channels, scale=0.1, key=kq)
        self.k = Dense(channels, channels, scale=0.1, key=kk)
        self.v = Dense(channels, channels, scale=0.1, key=kv)
        self.out = Dense(channels, channels, scale=init_scale, key=ko)
        self.skip_rescale = bool(skip_rescale)

    def __call__(self, x: Float[Array, "H W C"]) -> Float[Array, "H W C"]:
        h, w, c = x.shape
        y = self.norm(x).reshape(h * w, 1, c)
        a = attention(self.q(y), self.k(y), self.v(y)).reshape(h, w, c)
        out = x + self.out(a)
        return out / math.sqrt(2.0) if self.skip_rescale else out


class MultiHeadAttention(eqx.Module):
    """Multi-head self-attention on tokens (T, D): one qkv projection (timm's Attention layout), heads, proj."""

    qkv: Dense
    proj: Dense
    num_heads: int = eqx.field(static=True)

    def __init__(self, dim: int, num_heads: int, *, key):
        k1, k2 = jr.split(key)
        self.qkv = Dense(dim, 3 * dim, init="xavier", key=k1)
        self.proj = Dense(dim, dim, init="xavier", key=k2)
        self.num_heads = int(num_heads)

    def __check_init__(self):
        d = self.proj.weight.shape[0]
        if self.num_heads < 1 or d % self.num_heads:
            raise ValueError(f"num_heads={self.num_heads} must divide the width {d}")

    def __call__(self, x: Float[Array, "T D"]) -> Float[Array, "T D"]:
        t, d = x.shape
        qkv = self.qkv(x).reshape(t, 3, self.num_heads, d // self.num_heads)
        out = attention(qkv[:, 0], qkv[:, 1], qkv[:, 2])
        return self.proj(out.reshape(t, d))
