"""NCSN v1 score network (Song & Ermon 2019) at the reference CIFAR-10 settings; use it as `config.model`.

Reference: ermongroup/ncsn configs/anneal.yml (CIFAR-10 lines) with models/cond_refinenet_dilated.py:
ngf 128, 10 noise levels geometric from sigma_1 = 1 to sigma_10 = 0.01, ELU, conditional InstanceNorm++,
inputs in [0, 1] mapped to 2x - 1 inside the network (the `ncsn` defaults). The reference trains with
batch 128, Adam lr 1e-3 for 200k iterations, and samples by annealed Langevin dynamics with eps = 2e-5
and T = 100 steps per level.

The network takes c = sigma (nearest level of this ladder): conditioning="sigma", parameterization=
"score", and the same ladder (geometric_sigmas(sigma_max, sigma_min, num_scales)) in the NCSN
objective and the sampler (the run config copies it into config.sde).
"""

import ml_collections

from configs.models.fields import model_config


def get_config() -> ml_collections.ConfigDict:
    return model_config(
        "ncsn",
        num_channels=3,
        num_classes=0,
        dropout=0.0,  # the RefineNets have no dropout; named because the training code reads it
        num_scales=10,
        sigma_max=1.0,
        sigma_min=0.01,
        centered=False,
        conditioning="sigma",
        parameterization="score",
    )
