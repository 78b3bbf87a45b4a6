"""Backbone zoo: unbatched equinox networks net(x, c, *, key=None, label=None) and the score wrapper."""

from . import _builders, _dit, _gan, _refinenet, _unet  # noqa: F401  (importing registers the backbones)
from ._embeddings import GaussianFourierEmbedding, sinusoidal_embedding
from ._gan import GANMLP, DCGANDiscriminator, DCGANGenerator, SpectralNorm, update_spectral_norms
from ._mlp import MLP
from ._registry import available, build, register
from ._wrapper import count_params, noise_condition, score_fn_from_net, sigma_score_fn_from_net

__all__ = [
    "MLP",
    "GANMLP",
    "DCGANGenerator",
    "DCGANDiscriminator",
    "SpectralNorm",
    "update_spectral_norms",
    "GaussianFourierEmbedding",
    "sinusoidal_embedding",
    "build",
    "register",
    "available",
    "score_fn_from_net",
    "sigma_score_fn_from_net",
    "noise_condition",
    "count_params",
]
