"""DDPM++ deep (VP / sub-VP, continuous): DDPM++ with 8 residual blocks per resolution.

About 106.63 M parameters (score_sde configs/subvp/cifar10_ddpmpp_deep_continuous.py; 2.99 bits/dim).
"""

import ml_collections

from configs.models import ddpmpp_cifar


def get_config() -> ml_collections.ConfigDict:
    model = ddpmpp_cifar.get_config()
    model.num_res_blocks = 8
    return model
