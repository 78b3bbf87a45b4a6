"""NCSNv2 score network (Song & Ermon 2020) at the reference CIFAR-10 settings; use it as `config.model`.

Reference: ermongroup/ncsnv2 configs/cifar10.yml with models/ncsnv2.py (`NCSNv2`): ngf 128, 232 noise
levels geometric from sigma_1 = 50 to sigma_232 = 0.01, ELU, InstanceNorm++ (not conditioned on the
level), output divided by sigma, inputs in [0, 1] mapped to 2x - 1 inside the network (the `ncsnv2`
defaults). The reference trains with batch 128, Adam lr 1e-4 for 300k iterations with EMA 0.999, and
samples by annealed Langevin dynamics with step_lr 6.2e-6, 5 steps per level and a final denoising step.

The network divides its output by c: conditioning="sigma", parameterization="score"; the ladder fields
are for the objective and the sampler (the network itself does not read them).
"""

import ml_collections

from configs.models.fields import model_config


def get_config() -> ml_collections.ConfigDict:
    return model_config(
        "ncsnv2",
        num_channels=3,
        num_classes=0,
        dropout=0.0,
        num_scales=232,
        sigma_max=50.0,
        sigma_min=0.01,
        centered=False,
        conditioning="sigma",
        parameterization="score",
    )
