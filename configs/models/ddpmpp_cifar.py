"""DDPM++ (VP, continuous) at score_sde's CIFAR-10 settings (configs/vp/cifar10_ddpmpp_continuous.py).

NCSN++ code without FIR or progressive input and with a positional embedding; about 61.80 M parameters.
"""

import ml_collections

from configs.models import ncsnpp_cifar


def get_config() -> ml_collections.ConfigDict:
    model = ncsnpp_cifar.get_config()
    model.name = "ddpmpp"
    model.fir = False
    model.progressive_input = "none"
    model.embedding_type = "positional"
    # How score_sde uses this network with the VP / sub-VP SDE: condition on 999 t, score = -net / std.
    model.conditioning = "t999"
    model.parameterization = "eps"
    return model
