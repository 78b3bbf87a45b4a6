"""The DDPM baseline U-Net (Ho et al. 2020) at score_sde's CIFAR-10 settings (configs/vp/ddpm/cifar10.py).

Those are the `ddpm` defaults; DDPM conditions on the integer step (999 t) and predicts the noise:
score = -net / std. About 35.22 M parameters.
"""

import ml_collections

from configs.models.fields import model_config


def get_config() -> ml_collections.ConfigDict:
    return model_config(
        "ddpm",
        num_channels=3,
        num_classes=0,
        dropout=0.1,
        centered=True,
        conditioning="t999",
        parameterization="eps",
    )
