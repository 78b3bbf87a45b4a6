"""DiT-S/2 for 32x32x3 images (CIFAR-10), class-conditional with classifier-free guidance.

Why S/2: a 32x32 input with patch 2 gives 16 x 16 = 256 tokens, exactly the token grid of the
paper's ImageNet-256 models (32x32x4 latents, patch 2), where patch 2 beat patch 4 and 8 clearly
at equal model size (Peebles & Xie 2023, Fig. 6; FID falls as Gflops rise). S (12 layers, width
384, 6 heads, ~33M parameters) is the width that a CIFAR-sized budget can train; DiT-S/4
(`--config.model.patch_size=4`, 64 tokens) costs about 4x fewer FLOPs per step and is the choice
for quick CPU runs.

Use as the `model` entry of an experiment config:  config.model = dit_cifar.get_config().
The reference model feeds the timestep embedding integer DDPM steps (0..999), so condition on
`t999` (or log sigma), not on t in [0, 1].
"""

import ml_collections
from ml_collections.config_dict import placeholder


def get_config() -> ml_collections.ConfigDict:
    m = ml_collections.ConfigDict()
    m.name = "dit"
    m.image_size = 32
    m.num_channels = 3
    m.preset = "S"  # depth 12, hidden 384, 6 heads
    # set any of these to override the preset (placeholders: None unless given, e.g. --config.model.depth=6)
    m.depth = placeholder(int)
    m.hidden_size = placeholder(int)
    m.num_heads = placeholder(int)
    m.patch_size = 2
    m.mlp_ratio = 4.0
    m.num_classes = 10  # + 1 null class (row 10) for classifier-free guidance
    m.class_dropout = 0.1
    m.learn_sigma = False  # our objectives (DSM / eps) do not learn the variance
    m.remat = False
    m.compute_dtype = "float32"  # 'bfloat16' on accelerators (parameters stay float32)
    # how the score wrapper should use this net (read by the training code, ignored by nets.build)
    m.parameterization = "eps"
    m.conditioning = "t999"
    return m
