"""DiT-S/2 for 32x32x3 images (CIFAR-10), class-conditional with classifier-free guidance.

Why S/2: a 32x32 input with patch 2 gives 16 x 16 = 256 tokens, exactly the token grid of the
paper's ImageNet-256 models (32x32x4 latents, patch 2), where patch 2 beat patch 4 and 8 clearly
at equal model size (Peebles & Xie 2023, Fig. 6; FID falls as Gflops rise). S (12 layers, width
384, 6 heads, ~33M parameters) is the width that a CIFAR-sized budget can train; DiT-S/4
(`--config.model.patch_size=4`, 64 tokens) costs about 4x fewer FLOPs per step and is the choice
for quick CPU runs. Preset S with patch 2 is the `dit` default; depth / hidden_size / num_heads
override the preset when set (e.g. --config.model.depth=6).

The reference model feeds the timestep embedding integer DDPM steps (0..999), so condition on
`t999` (or log sigma), not on t in [0, 1].
"""

import ml_collections

from configs.models.fields import model_config


def get_config() -> ml_collections.ConfigDict:
    return model_config(
        "dit",
        num_channels=3,
        num_classes=10,  # + 1 null class (row 10) for classifier-free guidance
        class_dropout=0.1,
        dropout=0.0,  # DiT has no dropout; named because the training code reads it
        centered=True,
        compute_dtype="float32",  # 'bfloat16' on accelerators (parameters stay float32)
        parameterization="eps",
        conditioning="t999",
    )
