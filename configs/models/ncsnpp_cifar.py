"""NCSN++ (VE, continuous) at score_sde's CIFAR-10 settings (configs/ve/cifar10_ncsnpp_continuous.py).

Those settings are the `ncsnpp` defaults (nets/_builders.py), so this config names only how score_sde
uses the network: data in [0, 1] mapped to 2x - 1 inside, Fourier features of log sigma, output / sigma.
About 62.76 M parameters (62.69 M with a positional embedding, as in score_sde's VP NCSN++ config).
"""

import ml_collections

from configs.models.fields import model_config


def get_config() -> ml_collections.ConfigDict:
    return model_config(
        "ncsnpp",
        num_channels=3,
        num_classes=0,
        dropout=0.1,  # the default; named because the training code reads it
        centered=False,
        conditioning="log_sigma",
        parameterization="scale_by_sigma",
    )
