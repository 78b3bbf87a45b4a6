"""The DDPM baseline U-Net (Ho et al. 2020) at score_sde's CIFAR-10 settings (configs/vp/ddpm/cifar10.py).

About 35.22 M parameters.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    model = ml_collections.ConfigDict()
    model.name = "ddpm"
    model.image_size = 32
    model.num_channels = 3
    model.num_classes = 0
    model.nf = 128
    model.ch_mult = (1, 2, 2, 2)
    model.num_res_blocks = 2
    model.attn_resolutions = (16,)
    model.dropout = 0.1
    model.resamp_with_conv = True
    model.nonlinearity = "swish"
    # DDPM conditions on the integer step (999 t) and predicts the noise: score = -net / std.
    model.conditioning = "t999"
    model.parameterization = "eps"
    return model
