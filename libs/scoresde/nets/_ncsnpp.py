"""NCSN++ / DDPM++ (Song et al. 2021): score_sde's `NCSNpp`, unbatched: (C, H, W) and a scalar c -> (C, H, W).

Proven equal to score_sde_pytorch models/ncsnpp.py (and score_sde's Flax version for the FIR
up-convolutions that the PyTorch port cannot run) on the reference's own random weights; see
tests/interop/ and tests/data/reference/README.md. Differences at the interface only:
- unbatched, `net(x, c, *, key=None, label=None)`; dropout only when a key is passed;
- the caller passes the condition c: log(sigma) for the Fourier embedding (the reference takes sigma
  and takes the log inside), the DDPM step 999 t (or an integer step) for the positional one;
- no `scale_by_sigma` inside: the score wrapper divides by sigma (parameterization='scale_by_sigma');
- `centered=False` maps data in [0, 1] to 2x - 1 first, as the reference does for data.centered=False;
- optional class labels: a learned embedding (num_classes + 1 rows, the last the null class for
  classifier-free guidance) added to the noise embedding.
"""

from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int

from .._checks import check_choice
from ._unet_blocks import (
    Combine,
    Downsample,
    KeyStream,
    ResnetBlockBigGAN,
    ResnetBlockDDPM,
    Upsample,
    centre,
    check_input,
    conv3x3,
    resolutions,
)
from .layers import (
    ACTIVATIONS,
    DEFAULT_FIR,
    Conv2d,
    Dense,
    GaussianFourierEmbedding,
    GroupNorm,
    PixelAttention,
    activation,
    score_sde_groups,
    sinusoidal_embedding,
    skip_add,
)

RESBLOCK_TYPES = ("ddpm", "biggan")
EMBEDDING_TYPES = ("fourier", "positional")
PROGRESSIVE = ("none", "output_skip", "residual")
PROGRESSIVE_INPUT = ("none", "input_skip", "residual")
PROGRESSIVE_COMBINE = ("sum", "cat")


class NCSNpp(eqx.Module):
    """NCSN++ / DDPM++ U-Net. NCSN++ (VE): Fourier embedding, BigGAN blocks with FIR [1, 3, 3, 1],
    progressive_input 'residual'. DDPM++ (VP): positional embedding, BigGAN blocks without FIR."""

    fourier: GaussianFourierEmbedding | None
    temb_dense: tuple[Dense, Dense] | None
    label_embed: eqx.nn.Embedding | None
    conv_in: Conv2d
    down_blocks: tuple
    down_attn: tuple
    downsamplers: tuple
    pyramid_down: tuple
    combiners: tuple
    mid: tuple
    up_blocks: tuple
    up_attn: tuple
    pyramid_up: tuple
    pyramid_norm: tuple
    pyramid_conv: tuple
    upsamplers: tuple
    out_norm: GroupNorm | None
    out_conv: Conv2d | None
    nf: int = eqx.field(static=True)
    channels: int = eqx.field(static=True)
    num_levels: int = eqx.field(static=True)
    resblock_type: str = eqx.field(static=True)
    embedding_type: str = eqx.field(static=True)
    progressive: str = eqx.field(static=True)
    progressive_input: str = eqx.field(static=True)
    progressive_combine: str = eqx.field(static=True)
    skip_rescale: bool = eqx.field(static=True)
    centered: bool = eqx.field(static=True)
    act: str = eqx.field(static=True)

    def __init__(
        self,
        *,
        image_size: int,
        channels: int = 3,
        nf: int = 128,
        ch_mult: Sequence[int] = (1, 2, 2, 2),
        num_res_blocks: int = 4,
        attn_resolutions: Sequence[int] = (16,),
        dropout: float = 0.1,
        resamp_with_conv: bool = True,
        conditional: bool = True,
        fir: bool = True,
        fir_kernel: Sequence[float | int] = DEFAULT_FIR,
        skip_rescale: bool = True,
        resblock_type: str = "biggan",
        progressive: str = "none",
        progressive_input: str = "residual",
        progressive_combine: str = "sum",
        init_scale: float = 0.0,
        embedding_type: str = "fourier",
        fourier_scale: float = 16.0,
        nonlinearity: str = "swish",
        centered: bool = False,
        num_classes: int = 0,
        key,
    ):
        self.nf, self.channels, self.num_levels = int(nf), int(channels), len(ch_mult)
        self.resblock_type, self.embedding_type = resblock_type, embedding_type
        self.progressive, self.progressive_input = progressive, progressive_input
        self.progressive_combine, self.skip_rescale = progressive_combine, bool(skip_rescale)
        self.centered, self.act = bool(centered), nonlinearity
        self.__check_init__()  # the choices steer construction below: check them first
        if num_res_blocks < 1 or num_classes < 0:
            raise ValueError(f"num_res_blocks must be >= 1 and num_classes >= 0, got {num_res_blocks}, {num_classes}")
        ch_mult = tuple(int(m) for m in ch_mult)
        attn_resolutions = tuple(int(r) for r in attn_resolutions)
        fir_kernel = tuple(float(v) for v in fir_kernel)
        res = resolutions(image_size, ch_mult, attn_resolutions)
        levels = len(ch_mult)
        keys = KeyStream(key)
        g = score_sde_groups

        if embedding_type == "fourier":
            self.fourier = GaussianFourierEmbedding(2 * nf, fourier_scale, key=keys.next())
            embed_dim = 2 * nf
        else:
            self.fourier, embed_dim = None, nf
        self.temb_dense = None
        if conditional:
            self.temb_dense = (Dense(embed_dim, 4 * nf, key=keys.next()), Dense(4 * nf, 4 * nf, key=keys.next()))
        self.label_embed = eqx.nn.Embedding(num_classes + 1, 4 * nf, key=keys.next()) if num_classes else None
        temb_dim = 4 * nf if (conditional or num_classes) else None

        def attn(ch):
            return PixelAttention(ch, groups=g(ch), skip_rescale=skip_rescale, init_scale=init_scale, key=keys.next())

        def resblock(in_ch, out_ch=None, up=False, down=False):
            common = dict(groups=g, temb_dim=temb_dim, dropout=dropout, skip_rescale=skip_rescale)
            common.update(init_scale=init_scale, act=nonlinearity, key=keys.next())
            if resblock_type == "ddpm":
                return ResnetBlockDDPM(in_ch, out_ch, **common)
            return ResnetBlockBigGAN(in_ch, out_ch, up=up, down=down, fir=fir, fir_kernel=fir_kernel, **common)

        resample = {"with_conv": resamp_with_conv, "fir": fir, "fir_kernel": fir_kernel}

        self.conv_in = conv3x3(channels, nf, key=keys.next())
        hs_c, in_ch, pyramid_ch = [nf], nf, channels
        down_blocks, down_attn, downsamplers, pyramid_down, combiners = [], [], [], [], []
        for lvl in range(levels):
            blocks, attns = [], []
            for _ in range(num_res_blocks):
                blocks.append(resblock(in_ch, nf * ch_mult[lvl]))
                in_ch = nf * ch_mult[lvl]
                attns.append(attn(in_ch) if res[lvl] in attn_resolutions else None)
                hs_c.append(in_ch)
            down_blocks.append(tuple(blocks))
            down_attn.append(tuple(attns))
            if lvl == levels - 1:
                continue
            if resblock_type == "ddpm":
                downsamplers.append(Downsample(in_ch, key=keys.next(), **resample))
            else:
                downsamplers.append(resblock(in_ch, down=True))
            p_down = comb = None
            if progressive_input == "input_skip":
                p_down = Downsample(pyramid_ch, fir=fir, fir_kernel=fir_kernel, key=keys.next())
                comb = Combine(pyramid_ch, in_ch, progressive_combine, key=keys.next())
                in_ch = 2 * in_ch if progressive_combine == "cat" else in_ch
            elif progressive_input == "residual":
                p_down = Downsample(pyramid_ch, in_ch, with_conv=True, fir=fir, fir_kernel=fir_kernel, key=keys.next())
                pyramid_ch = in_ch
            pyramid_down.append(p_down)
            combiners.append(comb)
            hs_c.append(in_ch)
        self.down_blocks, self.down_attn = tuple(down_blocks), tuple(down_attn)
        self.downsamplers, self.pyramid_down, self.combiners = (
            tuple(downsamplers),
            tuple(pyramid_down),
            tuple(combiners),
        )

        in_ch = hs_c[-1]
        self.mid = (resblock(in_ch), attn(in_ch), resblock(in_ch))

        pyramid_ch = 0
        up_blocks, up_attn, pyramid_up, pyramid_norm, pyramid_conv, upsamplers = [], [], [], [], [], []
        for lvl in reversed(range(levels)):
            blocks = []
            for _ in range(num_res_blocks + 1):
                blocks.append(resblock(in_ch + hs_c.pop(), nf * ch_mult[lvl]))
                in_ch = nf * ch_mult[lvl]
            up_blocks.append(tuple(blocks))
            up_attn.append(attn(in_ch) if res[lvl] in attn_resolutions else None)
            p_up = p_norm = p_conv = None
            if progressive == "output_skip":
                if lvl != levels - 1:
                    p_up = Upsample(pyramid_ch, fir=fir, fir_kernel=fir_kernel, key=keys.next())
                p_norm = GroupNorm(in_ch, g(in_ch))
                p_conv = conv3x3(in_ch, channels, scale=init_scale, key=keys.next())
                pyramid_ch = channels
            elif progressive == "residual":
                if lvl == levels - 1:
                    p_norm = GroupNorm(in_ch, g(in_ch))
                    p_conv = conv3x3(in_ch, in_ch, key=keys.next())
                else:
                    p_up = Upsample(pyramid_ch, in_ch, with_conv=True, fir=fir, fir_kernel=fir_kernel, key=keys.next())
                pyramid_ch = in_ch
            pyramid_up.append(p_up)
            pyramid_norm.append(p_norm)
            pyramid_conv.append(p_conv)
            if lvl == 0:
                upsamplers.append(None)
            elif resblock_type == "ddpm":
                upsamplers.append(Upsample(in_ch, key=keys.next(), **resample))
            else:
                upsamplers.append(resblock(in_ch, up=True))
        self.up_blocks, self.up_attn, self.upsamplers = tuple(up_blocks), tuple(up_attn), tuple(upsamplers)
        self.pyramid_up, self.pyramid_norm, self.pyramid_conv = (
            tuple(pyramid_up),
            tuple(pyramid_norm),
            tuple(pyramid_conv),
        )

        self.out_norm = self.out_conv = None
        if progressive != "output_skip":
            self.out_norm = GroupNorm(in_ch, g(in_ch))
            self.out_conv = conv3x3(in_ch, channels, scale=init_scale, key=keys.next())

    def __check_init__(self):
        check_choice("resblock_type", self.resblock_type, RESBLOCK_TYPES)
        check_choice("embedding_type", self.embedding_type, EMBEDDING_TYPES)
        check_choice("progressive", self.progressive, PROGRESSIVE)
        check_choice("progressive_input", self.progressive_input, PROGRESSIVE_INPUT)
        check_choice("progressive_combine", self.progressive_combine, PROGRESSIVE_COMBINE)
        check_choice("nonlinearity", self.act, ACTIVATIONS)
        if self.nf < 1 or self.channels < 1 or self.num_levels < 1:
            raise ValueError(
                f"nf, channels and len(ch_mult) must be >= 1, got {self.nf}, {self.channels}, {self.num_levels}"
            )

    def _temb(self, c, label, dtype):
        temb = self.fourier(c) if self.fourier is not None else sinusoidal_embedding(c, self.nf)
        temb = temb.astype(dtype)
        if self.temb_dense is not None:
            d0, d1 = self.temb_dense
            temb = d1(activation(self.act)(d0(temb)))
        else:
            temb = None
        if self.label_embed is not None and label is not None:
            lab = self.label_embed(label).astype(dtype)
            temb = lab if temb is None else temb + lab
        return temb

    def __call__(
        self, x: Float[Array, "C H W"], c: Float[ArrayLike, ""], *, key=None, label: Int[ArrayLike, ""] | None = None
    ) -> Float[Array, "C H W"]:
        check_input(x, self.channels, self.num_levels)
        act = activation(self.act)
        temb = self._temb(c, label, x.dtype)
        keys = KeyStream(key)
        levels = self.num_levels
        x = centre(x, self.centered).transpose(1, 2, 0)  # the layers work on channels-last (H, W, C) images

        input_pyramid = x if self.progressive_input != "none" else None
        hs = [self.conv_in(x)]
        for lvl in range(levels):
            for block, attn in zip(self.down_blocks[lvl], self.down_attn[lvl], strict=True):
                h = block(hs[-1], temb, key=keys.next())
                hs.append(h if attn is None else attn(h))
            if lvl == levels - 1:
                continue
            down = self.downsamplers[lvl]
            h = down(hs[-1]) if isinstance(down, Downsample) else down(hs[-1], temb, key=keys.next())
            if self.progressive_input == "input_skip":
                input_pyramid = self.pyramid_down[lvl](input_pyramid)
                h = self.combiners[lvl](input_pyramid, h)
            elif self.progressive_input == "residual":
                input_pyramid = skip_add(self.pyramid_down[lvl](input_pyramid), h, self.skip_rescale)
                h = input_pyramid
            hs.append(h)

        block0, attn, block1 = self.mid
        h = block1(attn(block0(hs[-1], temb, key=keys.next())), temb, key=keys.next())

        pyramid = None
        for j, lvl in enumerate(reversed(range(levels))):
            for block in self.up_blocks[j]:
                h = block(jnp.concatenate([h, hs.pop()], axis=-1), temb, key=keys.next())
            if self.up_attn[j] is not None:
                h = self.up_attn[j](h)
            if self.progressive == "output_skip":
                out = self.pyramid_conv[j](act(self.pyramid_norm[j](h)))
                pyramid = out if lvl == levels - 1 else self.pyramid_up[j](pyramid) + out
            elif self.progressive == "residual":
                if lvl == levels - 1:
                    pyramid = self.pyramid_conv[j](act(self.pyramid_norm[j](h)))
                else:
                    pyramid = skip_add(self.pyramid_up[j](pyramid), h, self.skip_rescale)
                    h = pyramid
            up = self.upsamplers[j]
            if up is not None:
                h = up(h) if isinstance(up, Upsample) else up(h, temb, key=keys.next())

        out = pyramid if self.progressive == "output_skip" else self.out_conv(act(self.out_norm(h)))
        return out.transpose(2, 0, 1)
