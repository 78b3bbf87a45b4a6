"""Backbone zoo: unbatched equinox networks net(x, c, *, key=None, label=None) and the score wrapper.

One model per module (`_ncsnpp`, `_ddpm`, `_ncsn`, `_ncsnv2`, `_dit`, `_mlp`, `_gan`), built from one
layer set (`nets.layers`); `build(config.model, key)` constructs any of them by name with complete
defaults (`_builders`), and `score_fn_from_config` turns one into the score it was trained as.
"""

from . import _builders, layers  # noqa: F401  (importing _builders registers the backbones)
from ._config import Spec
from ._ddpm import DDPM
from ._dit import DiT, dit_preset
from ._gan import GANMLP, DCGANDiscriminator, DCGANGenerator, SpectralNorm, update_spectral_norms
from ._mlp import MLP
from ._ncsn import CondRefineNetDilated
from ._ncsnpp import NCSNpp
from ._ncsnv2 import NCSNv2
from ._policy import DtypePolicy
from ._registry import available, build, config_fields, register, spec
from ._wrapper import (
    count_params,
    noise_condition,
    score_fn_from_config,
    score_fn_from_net,
    sigma_score_fn_from_config,
    sigma_score_fn_from_net,
)
from .layers import GaussianFourierEmbedding, sinusoidal_embedding

__all__ = [
    "NCSNpp",
    "DDPM",
    "CondRefineNetDilated",
    "NCSNv2",
    "DiT",
    "dit_preset",
    "MLP",
    "GANMLP",
    "DCGANGenerator",
    "DCGANDiscriminator",
    "SpectralNorm",
    "update_spectral_norms",
    "DtypePolicy",
    "Spec",
    "GaussianFourierEmbedding",
    "sinusoidal_embedding",
    "layers",
    "build",
    "register",
    "available",
    "spec",
    "config_fields",
    "score_fn_from_config",
    "sigma_score_fn_from_config",
    "score_fn_from_net",
    "sigma_score_fn_from_net",
    "noise_condition",
    "count_params",
]
