"""DDPM++ (VP, continuous) at score_sde's CIFAR-10 settings (configs/vp/cifar10_ddpmpp_continuous.py).

NCSN++ code without FIR or progressive input and with a positional embedding; about 61.80 M parameters.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    model = ml_collections.ConfigDict()
    model.name = "ddpmpp"
    model.image_size = 32
    model.num_channels = 3
    model.num_classes = 0
    model.nf = 128
    model.ch_mult = (1, 2, 2, 2)
    model.num_res_blocks = 4
    model.attn_resolutions = (16,)
    model.dropout = 0.1
    model.resamp_with_conv = True
    model.conditional = True
    model.fir = False
    model.fir_kernel = (1, 3, 3, 1)
    model.skip_rescale = True
    model.resblock_type = "biggan"
    model.progressive = "none"
    model.progressive_input = "none"
    model.progressive_combine = "sum"
    model.init_scale = 0.0
    model.embedding_type = "positional"
    model.fourier_scale = 16.0
    model.nonlinearity = "swish"
    # How score_sde uses this network with the VP / sub-VP SDE: condition on 999 t, score = -net / std.
    model.conditioning = "t999"
    model.parameterization = "eps"
    return model
