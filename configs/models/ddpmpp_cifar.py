"""DDPM++ (VP, continuous) at score_sde's CIFAR-10 settings (configs/vp/cifar10_ddpmpp_continuous.py).

NCSN++ code without FIR or progressive input and with a positional embedding (the `ddpmpp` defaults);
centred data, condition on 999 t, score = -net / std. About 61.80 M parameters.
"""

import ml_collections

from configs.models.fields import model_config


def get_config() -> ml_collections.ConfigDict:
    return model_config(
        "ddpmpp",
        num_channels=3,
        num_classes=0,
        dropout=0.1,
        centered=True,
        conditioning="t999",
        parameterization="eps",
    )
