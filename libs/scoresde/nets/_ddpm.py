"""The DDPM U-Net (Ho et al. 2020) as in score_sde models/ddpm.py: (C, H, W) and a scalar c -> (C, H, W).

Proven equal to score_sde_pytorch models/ddpm.py on its own random weights (tests/interop/).
Positional embedding of c (DDPM conditions on the integer step: c = 999 t), DDPM residual blocks
(no skip rescaling, the last conv of each block initialised at ~0), attention at `attn_resolutions`
and in the middle, nearest-neighbour upsampling and strided-conv downsampling; every GroupNorm
has 32 groups (so every width must be a multiple of 32). `centered=False` maps data in [0, 1] to
2x - 1 first; scale_by_sigma is the wrapper's job.
"""

from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int

from .._checks import check_choice
from ._unet_blocks import Downsample, KeyStream, ResnetBlockDDPM, Upsample, centre, check_input, conv3x3, resolutions
from .layers import ACTIVATIONS, Conv2d, Dense, GroupNorm, PixelAttention, activation, sinusoidal_embedding

DDPM_GROUPS = 32


def _groups(channels: int) -> int:
    return DDPM_GROUPS


class DDPM(eqx.Module):
    """DDPM U-Net; see the module docstring."""

    temb_dense: tuple[Dense, Dense]
    label_embed: eqx.nn.Embedding | None
    conv_in: Conv2d
    down_blocks: tuple
    down_attn: tuple
    downsamplers: tuple
    mid: tuple
    up_blocks: tuple
    up_attn: tuple
    upsamplers: tuple
    out_norm: GroupNorm
    out_conv: Conv2d
    nf: int = eqx.field(static=True)
    channels: int = eqx.field(static=True)
    num_levels: int = eqx.field(static=True)
    centered: bool = eqx.field(static=True)
    act: str = eqx.field(static=True)

    def __init__(
        self,
        *,
        image_size: int,
        channels: int = 3,
        nf: int = 128,
        ch_mult: Sequence[int] = (1, 2, 2, 2),
        num_res_blocks: int = 2,
        attn_resolutions: Sequence[int] = (16,),
        dropout: float = 0.1,
        resamp_with_conv: bool = True,
        nonlinearity: str = "swish",
        centered: bool = True,
        num_classes: int = 0,
        key,
    ):
        self.nf, self.channels, self.num_levels = int(nf), int(channels), len(ch_mult)
        self.centered, self.act = bool(centered), nonlinearity
        self.__check_init__()
        if num_res_blocks < 1 or num_classes < 0:
            raise ValueError(f"num_res_blocks must be >= 1 and num_classes >= 0, got {num_res_blocks}, {num_classes}")
        ch_mult = tuple(int(m) for m in ch_mult)
        attn_resolutions = tuple(int(r) for r in attn_resolutions)
        res = resolutions(image_size, ch_mult, attn_resolutions)
        levels = len(ch_mult)
        keys = KeyStream(key)

        self.temb_dense = (Dense(nf, 4 * nf, key=keys.next()), Dense(4 * nf, 4 * nf, key=keys.next()))
        self.label_embed = eqx.nn.Embedding(num_classes + 1, 4 * nf, key=keys.next()) if num_classes else None

        def resblock(in_ch, out_ch=None):
            return ResnetBlockDDPM(
                in_ch, out_ch, groups=_groups, temb_dim=4 * nf, dropout=dropout, act=nonlinearity, key=keys.next()
            )

        def attn(ch):
            return PixelAttention(ch, groups=DDPM_GROUPS, key=keys.next())

        self.conv_in = conv3x3(channels, nf, key=keys.next())
        hs_c, in_ch = [nf], nf
        down_blocks, down_attn, downsamplers = [], [], []
        for lvl in range(levels):
            blocks, attns = [], []
            for _ in range(num_res_blocks):
                blocks.append(resblock(in_ch, nf * ch_mult[lvl]))
                in_ch = nf * ch_mult[lvl]
                attns.append(attn(in_ch) if res[lvl] in attn_resolutions else None)
                hs_c.append(in_ch)
            down_blocks.append(tuple(blocks))
            down_attn.append(tuple(attns))
            if lvl != levels - 1:
                downsamplers.append(Downsample(in_ch, with_conv=resamp_with_conv, key=keys.next()))
                hs_c.append(in_ch)
        self.down_blocks, self.down_attn, self.downsamplers = tuple(down_blocks), tuple(down_attn), tuple(downsamplers)

        in_ch = hs_c[-1]
        self.mid = (resblock(in_ch), attn(in_ch), resblock(in_ch))

        up_blocks, up_attn, upsamplers = [], [], []
        for lvl in reversed(range(levels)):
            blocks = []
            for _ in range(num_res_blocks + 1):
                blocks.append(resblock(in_ch + hs_c.pop(), nf * ch_mult[lvl]))
                in_ch = nf * ch_mult[lvl]
            up_blocks.append(tuple(blocks))
            up_attn.append(attn(in_ch) if res[lvl] in attn_resolutions else None)
            upsamplers.append(Upsample(in_ch, with_conv=resamp_with_conv, key=keys.next()) if lvl != 0 else None)
        self.up_blocks, self.up_attn, self.upsamplers = tuple(up_blocks), tuple(up_attn), tuple(upsamplers)
        self.out_norm = GroupNorm(in_ch, DDPM_GROUPS)
        self.out_conv = conv3x3(in_ch, channels, scale=0.0, key=keys.next())

    def __check_init__(self):
        check_choice("nonlinearity", self.act, ACTIVATIONS)
        if self.nf < 1 or self.channels < 1 or self.num_levels < 1:
            raise ValueError(
                f"nf, channels and len(ch_mult) must be >= 1, got {self.nf}, {self.channels}, {self.num_levels}"
            )
        if self.nf % DDPM_GROUPS:
            raise ValueError(f"nf={self.nf} must be a multiple of {DDPM_GROUPS}: every DDPM GroupNorm has 32 groups")

    def __call__(
        self, x: Float[Array, "C H W"], c: Float[ArrayLike, ""], *, key=None, label: Int[ArrayLike, ""] | None = None
    ) -> Float[Array, "C H W"]:
        check_input(x, self.channels, self.num_levels)
        act = activation(self.act)
        d0, d1 = self.temb_dense
        temb = d1(act(d0(sinusoidal_embedding(c, self.nf).astype(x.dtype))))
        if self.label_embed is not None and label is not None:
            temb = temb + self.label_embed(label).astype(x.dtype)
        keys = KeyStream(key)

        hs = [self.conv_in(centre(x, self.centered).transpose(1, 2, 0))]  # channels-last inside
        for lvl in range(self.num_levels):
            for block, attn in zip(self.down_blocks[lvl], self.down_attn[lvl], strict=True):
                h = block(hs[-1], temb, key=keys.next())
                hs.append(h if attn is None else attn(h))
            if lvl != self.num_levels - 1:
                hs.append(self.downsamplers[lvl](hs[-1]))

        block0, attn, block1 = self.mid
        h = block1(attn(block0(hs[-1], temb, key=keys.next())), temb, key=keys.next())

        for j in range(self.num_levels):
            for block in self.up_blocks[j]:
                h = block(jnp.concatenate([h, hs.pop()], axis=-1), temb, key=keys.next())
            if self.up_attn[j] is not None:
                h = self.up_attn[j](h)
            if self.upsamplers[j] is not None:
                h = self.upsamplers[j](h)
        return self.out_conv(act(self.out_norm(h))).transpose(2, 0, 1)
