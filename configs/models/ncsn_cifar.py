"""NCSN v1 score network (Song & Ermon 2019) at the reference CIFAR-10 settings; use it as `config.model`.

Reference: ermongroup/ncsn configs/anneal.yml (CIFAR-10 lines) with models/cond_refinenet_dilated.py:
ngf 128, 10 noise levels geometric from sigma_1 = 1 to sigma_10 = 0.01, ELU, conditional InstanceNorm++,
inputs in [0, 1] mapped to 2x - 1 inside the network. The reference trains with batch 128, Adam lr 1e-3
for 200k iterations, and samples by annealed Langevin dynamics with eps = 2e-5 and T = 100 steps per level.

The network takes c = sigma (nearest level of this ladder), so pair it with conditioning="sigma",
parameterization="score", and the same ladder (geometric_sigmas(sigma_max, sigma_min, num_scales)) in the
NCSN objective and the sampler.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    model = ml_collections.ConfigDict()
    model.name = "ncsn"
    model.image_size = 32
    model.num_channels = 3
    model.ngf = 128
    model.num_scales = 10
    model.sigma_max = 1.0
    model.sigma_min = 0.01
    model.normalization = "InstanceNorm++"
    model.nonlinearity = "elu"
    model.centered = False  # data in [0, 1]; the network applies 2x - 1 like the reference
    model.conditioning = "sigma"
    model.parameterization = "score"
    return model
