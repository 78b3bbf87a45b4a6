"""Normalisations: GroupNorm (U-Nets), InstanceNorm++ and its noise-conditional form (RefineNets),
LayerNorm without affine parameters (DiT). Statistics are computed in float32 whatever the compute dtype."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, Int

from ._init import normal


def score_sde_groups(channels: int) -> int:
    """score_sde's NCSN++ / DDPM++ group count: min(C // 4, 32) (DDPM itself always uses 32)."""
    return max(min(channels // 4, 32), 1)


def _stats(x: Array, axes) -> tuple[Array, Array]:
    x32 = x.astype(jnp.float32)
    mean = x32.mean(axes, keepdims=True)
    var = jnp.square(x32 - mean).mean(axes, keepdims=True)
    return mean, var


class GroupNorm(eqx.Module):
    """GroupNorm of an (H, W, C) image with a per-channel affine map (PyTorch's nn.GroupNorm)."""

    weight: Float[Array, " C"]
    bias: Float[Array, " C"]
    groups: int = eqx.field(static=True)
    eps: float = eqx.field(static=True)

    def __init__(self, channels: int, groups: int, *, eps: float = 1e-6):
        self.weight, self.bias = jnp.ones((channels,)), jnp.zeros((channels,))
        self.groups, self.eps = int(groups), float(eps)

    def __check_init__(self):
        c = self.weight.shape[0]
        if self.groups < 1 or c % self.groups:
            raise ValueError(
                f"GroupNorm with {self.groups} groups does not divide C = {c} channels; choose widths "
                "(nf, ch_mult) whose channel counts are multiples of the group count"
            )

    def __call__(self, x: Float[Array, "H W C"]) -> Float[Array, "H W C"]:
        # Two passes of per-channel sums folded into groups on the (C,) vectors: the image itself is
        # never reshaped into groups, so XLA keeps it in the convolutions' layout (no transposes).
        h, w, c = x.shape
        per = c // self.groups
        x32 = x.astype(jnp.float32)

        def group_mean(v):  # (C,) channel sums -> (C,) mean of each channel's group
            return jnp.repeat(v.reshape(self.groups, per).sum(1) / (per * h * w), per)

        d = x32 - group_mean(x32.sum((0, 1)))
        scale = jax.lax.rsqrt(group_mean(jnp.square(d).sum((0, 1))) + self.eps) * self.weight
        return (d * scale).astype(x.dtype) + self.bias


def layer_norm(x: Float[Array, "*batch D"], eps: float = 1e-6) -> Float[Array, "*batch D"]:
    """LayerNorm over the last axis without affine parameters."""
    mean, var = _stats(x, -1)
    return ((x.astype(jnp.float32) - mean) * jax.lax.rsqrt(var + eps)).astype(x.dtype)


def _instance_norm_plus(x: Float[Array, "H W C"], eps: float) -> tuple[Array, Array]:
    """Per-channel instance norm of x (biased variance), and the channel means standardised across
    channels with the unbiased variance (torch.var), as NCSNv2's InstanceNorm++."""
    mean, var = _stats(x, (0, 1))
    h = ((x.astype(jnp.float32) - mean) * jax.lax.rsqrt(var + eps)).astype(x.dtype)
    means = mean[0, 0]
    spread = jnp.var(means, ddof=1)
    means_plus = ((means - jnp.mean(means)) * jax.lax.rsqrt(spread + eps)).astype(x.dtype)
    return h, means_plus


def _check_two_channels(c: int) -> None:
    if c < 2:
        raise ValueError(f"InstanceNorm++ needs at least 2 channels (an unbiased variance across them), got {c}")


class InstanceNormPlus(eqx.Module):
    """InstanceNorm++ (NCSNv2): gamma (IN(x) + alpha standardised-means) + beta, one value per channel.

    gamma, alpha ~ N(1, 0.02^2), beta = 0 at initialisation, as in the reference.
    """

    alpha: Float[Array, " C"]
    gamma: Float[Array, " C"]
    beta: Float[Array, " C"]
    eps: float = eqx.field(static=True)

    def __init__(self, channels: int, *, eps: float = 1e-5, key):
        k1, k2 = jr.split(key)
        self.alpha = 1.0 + normal(k1, (channels,), 0.02)
        self.gamma = 1.0 + normal(k2, (channels,), 0.02)
        self.beta = jnp.zeros((channels,))
        self.eps = float(eps)

    def __check_init__(self):
        _check_two_channels(self.gamma.shape[0])

    def __call__(self, x: Float[Array, "H W C"], level: Int[Array, ""] | None = None) -> Float[Array, "H W C"]:
        h, means_plus = _instance_norm_plus(x, self.eps)
        return self.gamma * (h + self.alpha * means_plus) + self.beta


class ConditionalInstanceNormPlus(eqx.Module):
    """Conditional InstanceNorm++ (NCSN v1): gamma, alpha, beta looked up per noise level.

    `embed` has one row per level, [gamma | alpha | beta] of C values each (the reference's
    nn.Embedding); gamma, alpha start at N(1, 0.02^2), beta at 0.
    """

    embed: Float[Array, "L F"]
    eps: float = eqx.field(static=True)

    def __init__(self, channels: int, num_levels: int, *, eps: float = 1e-5, key):
        scales = 1.0 + normal(key, (num_levels, 2 * channels), 0.02)
        self.embed = jnp.concatenate([scales, jnp.zeros((num_levels, channels))], axis=1)
        self.eps = float(eps)

    def __check_init__(self):
        if self.embed.shape[1] % 3:
            raise ValueError(f"ConditionalInstanceNormPlus embed must be (levels, 3 C), got {self.embed.shape}")
        _check_two_channels(self.embed.shape[1] // 3)

    def __call__(self, x: Float[Array, "H W C"], level: Int[Array, ""] | None = None) -> Float[Array, "H W C"]:
        if level is None:
            raise ValueError("ConditionalInstanceNormPlus needs a noise-level index")
        gamma, alpha, beta = jnp.split(self.embed[level], 3)
        h, means_plus = _instance_norm_plus(x, self.eps)
        return gamma * (h + alpha * means_plus) + beta
