"""NCSNv2 score network (Song & Ermon 2020) at the reference CIFAR-10 settings; use it as `config.model`.

Reference: ermongroup/ncsnv2 configs/cifar10.yml with models/ncsnv2.py (`NCSNv2`): ngf 128, 232 noise
levels geometric from sigma_1 = 50 to sigma_232 = 0.01, ELU, InstanceNorm++ (not conditioned on the
level), output divided by sigma, inputs in [0, 1] mapped to 2x - 1 inside the network. The reference trains
with batch 128, Adam lr 1e-4 for 300k iterations with EMA 0.999, and samples by annealed Langevin dynamics
with step_lr 6.2e-6, 5 steps per level and a final denoising step.

The network divides its output by c, so pair it with conditioning="sigma" and parameterization="score";
the ladder fields below are for the objective and the sampler (the network itself does not read them).
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    model = ml_collections.ConfigDict()
    model.name = "ncsnv2"
    model.image_size = 32
    model.num_channels = 3
    model.ngf = 128
    model.num_scales = 232
    model.sigma_max = 50.0
    model.sigma_min = 0.01
    model.normalization = "InstanceNorm++"
    model.nonlinearity = "elu"
    model.centered = False  # data in [0, 1]; the network applies 2x - 1 like the reference
    model.conditioning = "sigma"
    model.parameterization = "score"
    return model
