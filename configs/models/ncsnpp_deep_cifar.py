"""NCSN++ deep (VE, continuous): score_sde's CIFAR-10 NCSN++ with 8 residual blocks per resolution.

About 107.59 M parameters (score_sde configs/ve/cifar10_ncsnpp_deep_continuous.py; FID 2.20).
"""

import ml_collections

from configs.models import ncsnpp_cifar


def get_config() -> ml_collections.ConfigDict:
    model = ncsnpp_cifar.get_config()
    model.num_res_blocks = 8
    return model
