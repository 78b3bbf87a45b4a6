"""The layer set every backbone is built from: one Dense, one Conv2d (with FIR up/down), GroupNorm and
InstanceNorm++, attention through `jax.nn.dot_product_attention`, noise and position embeddings."""

from ._attention import MultiHeadAttention, PixelAttention, attention
from ._conv import (
    DEFAULT_FIR,
    Conv2d,
    downsample_2d,
    naive_downsample_2d,
    naive_upsample_2d,
    setup_kernel,
    upfirdn2d,
    upsample_2d,
)
from ._dense import Dense
from ._embeddings import GaussianFourierEmbedding, sincos_2d_position_embedding, sinusoidal_embedding, timestep_features
from ._init import ddpm_init, normal, torch_default_init, uniform, xavier_uniform
from ._misc import ACTIVATIONS, activation, dropout, skip_add
from ._norm import ConditionalInstanceNormPlus, GroupNorm, InstanceNormPlus, layer_norm, score_sde_groups

__all__ = [
    "Dense",
    "Conv2d",
    "DEFAULT_FIR",
    "upfirdn2d",
    "upsample_2d",
    "downsample_2d",
    "naive_upsample_2d",
    "naive_downsample_2d",
    "setup_kernel",
    "GroupNorm",
    "InstanceNormPlus",
    "ConditionalInstanceNormPlus",
    "layer_norm",
    "score_sde_groups",
    "attention",
    "PixelAttention",
    "MultiHeadAttention",
    "sinusoidal_embedding",
    "timestep_features",
    "GaussianFourierEmbedding",
    "sincos_2d_position_embedding",
    "ddpm_init",
    "torch_default_init",
    "xavier_uniform",
    "uniform",
    "normal",
    "activation",
    "ACTIVATIONS",
    "dropout",
    "skip_add",
]
