"""score_sde's U-Nets: NCSN++ / DDPM++ (one class, `NCSNpp`) and the DDPM baseline (`DDPM`).

Architecture follows yang-song/score_sde models/ncsnpp.py and models/ddpm.py. Differences in
the interface, not in the network:
- the network is unbatched, `net(x, c, *, key=None, label=None)` with x of shape (C, H, W);
- it embeds the scalar `c` it is given. score_sde's NCSN++ takes sigma and embeds log(sigma)
  with Fourier features; here the caller passes the condition (`conditioning='log_sigma'` in
  `score_fn_from_net`). Positional embeddings expect DDPM-style times (`conditioning='t999'`);
- no input rescaling (score_sde maps [0, 1] data to [-1, 1] inside the net when
  `data.centered=False`; here the net sees the data exactly as the training code scales it), and
  no `scale_by_sigma` inside the net (the wrapper's `scale_by_sigma` parameterisation does it);
- optional class labels: a learned embedding (num_classes + 1 rows, the last one a null class
  for classifier-free guidance) added to the time embedding;
- dropout only when a key is passed.
"""

from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from .._checks import check_choice
from ._embeddings import GaussianFourierEmbedding, sinusoidal_embedding
from ._registry import register, require
from ._unet_layers import (
    ACTIVATIONS,
    AttnBlock,
    Combine,
    Conv2d,
    Dense,
    Downsample,
    ResnetBlockBigGAN,
    ResnetBlockDDPM,
    Upsample,
    activation,
    conv3x3,
    group_norm,
    skip_add,
)

RESBLOCK_TYPES = ("ddpm", "biggan")
EMBEDDING_TYPES = ("fourier", "positional")
PROGRESSIVE = ("none", "output_skip", "residual")
PROGRESSIVE_INPUT = ("none", "input_skip", "residual")
PROGRESSIVE_COMBINE = ("sum", "cat")


def _resolutions(image_size: int, ch_mult: Sequence[int], attn_resolutions: Sequence[int]) -> list[int]:
    """Feature-map sizes per level, after checking image_size, ch_mult and attn_resolutions agree."""
    if len(ch_mult) < 1 or any(int(m) < 1 for m in ch_mult):
        raise ValueError(f"ch_mult must be a non-empty sequence of positive ints, got {tuple(ch_mult)}")
    if image_size < 1 or image_size % 2 ** (len(ch_mult) - 1):
        raise ValueError(
            f"ch_mult={tuple(ch_mult)} has {len(ch_mult)} levels, so image_size must be divisible by "
            f"2**{len(ch_mult) - 1} = {2 ** (len(ch_mult) - 1)}; got image_size={image_size}"
        )
    resolutions = [image_size // 2**i for i in range(len(ch_mult))]
    bad = [r for r in attn_resolutions if r not in resolutions]
    if bad:
        raise ValueError(
            f"attn_resolutions={tuple(attn_resolutions)} includes {bad}, not among the resolutions {resolutions} "
            f"of image_size={image_size} with ch_mult={tuple(ch_mult)}"
        )
    return resolutions


class _Keys:
    """A stream of keys folded in from one key (one per module at init, one per residual block for
    dropout); None throughout when no key was given."""

    def __init__(self, key):
        self.key, self.i = key, 0

    def next(self):
        if self.key is None:
            return None
        self.i += 1
        return jr.fold_in(self.key, self.i)


def _check_input(x, channels: int, levels: int):
    if x.ndim != 3 or x.shape[0] != channels:
        raise ValueError(f"expected x of shape ({channels}, H, W), got {x.shape}")
    f = 2 ** (levels - 1)
    if x.shape[1] % f or x.shape[2] % f:
        raise ValueError(f"H and W must be divisible by {f} for {levels} resolution levels, got {x.shape[1:]}")


class NCSNpp(eqx.Module):
    """NCSN++ / DDPM++ U-Net (Song et al. 2021), unbatched: (C, H, W) and a scalar c -> (C, H, W).

    NCSN++ (VE): Fourier embedding, BigGAN blocks with FIR [1, 3, 3, 1], progressive_input
    'residual'. DDPM++ (VP): positional embedding, BigGAN blocks without FIR, no progressive
    paths. Both use skip_rescale and init_scale 0 at the CIFAR-10 settings.
    """

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
    out_norm: eqx.nn.GroupNorm | None
    out_conv: Conv2d | None
    nf: int = eqx.field(static=True)
    channels: int = eqx.field(static=True)
    num_levels: int = eqx.field(static=True)
    embedding_type: str = eqx.field(static=True)
    conditional: bool = eqx.field(static=True)
    progressive: str = eqx.field(static=True)
    progressive_input: str = eqx.field(static=True)
    skip_rescale: bool = eqx.field(static=True)
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
        fir_kernel: Sequence[float | int] = (1.0, 3.0, 3.0, 1.0),
        skip_rescale: bool = True,
        resblock_type: str = "biggan",
        progressive: str = "none",
        progressive_input: str = "residual",
        progressive_combine: str = "sum",
        init_scale: float = 0.0,
        embedding_type: str = "fourier",
        fourier_scale: float = 16.0,
        nonlinearity: str = "swish",
        num_classes: int = 0,
        key,
    ):
        check_choice("resblock_type", resblock_type, RESBLOCK_TYPES)
        check_choice("embedding_type", embedding_type, EMBEDDING_TYPES)
        check_choice("progressive", progressive, PROGRESSIVE)
        check_choice("progressive_input", progressive_input, PROGRESSIVE_INPUT)
        check_choice("progressive_combine", progressive_combine, PROGRESSIVE_COMBINE)
        check_choice("nonlinearity", nonlinearity, ACTIVATIONS)
        if nf < 1 or channels < 1 or num_res_blocks < 1:
            raise ValueError(f"nf, channels, num_res_blocks must be >= 1, got {nf}, {channels}, {num_res_blocks}")
        ch_mult = tuple(int(m) for m in ch_mult)
        attn_resolutions = tuple(int(r) for r in attn_resolutions)
        fir_kernel = tuple(float(v) for v in fir_kernel)
        resolutions = _resolutions(image_size, ch_mult, attn_resolutions)
        levels = len(ch_mult)
        keys = _Keys(key)

        self.nf, self.channels, self.num_levels = nf, channels, levels
        self.embedding_type, self.conditional = embedding_type, bool(conditional)
        self.progressive, self.progressive_input = progressive, progressive_input
        self.skip_rescale, self.act = bool(skip_rescale), nonlinearity

        # Noise-level embedding -> 4 nf.
        if embedding_type == "fourier":
            self.fourier = GaussianFourierEmbedding(2 * nf, fourier_scale, key=keys.next())
            embed_dim = 2 * nf
        else:
            self.fourier = None
            embed_dim = nf
        if conditional:
            self.temb_dense = (Dense(embed_dim, 4 * nf, key=keys.next()), Dense(4 * nf, 4 * nf, key=keys.next()))
        else:
            self.temb_dense = None
        self.label_embed = eqx.nn.Embedding(num_classes + 1, 4 * nf, key=keys.next()) if num_classes else None
        temb_dim = 4 * nf if (conditional or num_classes) else None

        def attn(ch):
            return AttnBlock(ch, skip_rescale=skip_rescale, init_scale=init_scale, key=keys.next())

        def resblock(in_ch, out_ch=None, up=False, down=False):
            if resblock_type == "ddpm":
                return ResnetBlockDDPM(
                    in_ch,
                    out_ch,
                    temb_dim=temb_dim,
                    dropout=dropout,
                    skip_rescale=skip_rescale,
                    init_scale=init_scale,
                    act=nonlinearity,
                    key=keys.next(),
                )
            return ResnetBlockBigGAN(
                in_ch,
                out_ch,
                temb_dim=temb_dim,
                up=up,
                down=down,
                dropout=dropout,
                fir=fir,
                fir_kernel=fir_kernel,
                skip_rescale=skip_rescale,
                init_scale=init_scale,
                act=nonlinearity,
                key=keys.next(),
            )

        resample = {"with_conv": resamp_with_conv, "fir": fir, "fir_kernel": fir_kernel}

        # Downsampling path.
        self.conv_in = conv3x3(channels, nf, key=keys.next())
        hs_c = [nf]
        in_ch = nf
        input_pyramid_ch = channels
        down_blocks, down_attn, downsamplers, pyramid_down, combiners = [], [], [], [], []
        for lvl in range(levels):
            blocks, attns = [], []
            for _ in range(num_res_blocks):
                out_ch = nf * ch_mult[lvl]
                blocks.append(resblock(in_ch, out_ch))
                in_ch = out_ch
                attns.append(attn(in_ch) if resolutions[lvl] in attn_resolutions else None)
                hs_c.append(in_ch)
            down_blocks.append(tuple(blocks))
            down_attn.append(tuple(attns))
            if lvl == levels - 1:
                continue
            if resblock_type == "ddpm":
                downsamplers.append(Downsample(in_ch, key=keys.next(), **resample))
            else:
                downsamplers.append(resblock(in_ch, down=True))
            if progressive_input == "input_skip":
                pyramid_down.append(Downsample(input_pyramid_ch, fir=fir, fir_kernel=fir_kernel, key=keys.next()))
                combiners.append(Combine(input_pyramid_ch, in_ch, progressive_combine, key=keys.next()))
                if progressive_combine == "cat":
                    in_ch *= 2
            elif progressive_input == "residual":
                pyramid_down.append(
                    Downsample(input_pyramid_ch, in_ch, with_conv=True, fir=fir, fir_kernel=fir_kernel, key=keys.next())
                )
                combiners.append(None)
                input_pyramid_ch = in_ch
            else:
                pyramid_down.append(None)
                combiners.append(None)
            hs_c.append(in_ch)
        self.down_blocks, self.down_attn = tuple(down_blocks), tuple(down_attn)
        self.downsamplers, self.pyramid_down, self.combiners = (
            tuple(downsamplers),
            tuple(pyramid_down),
            tuple(combiners),
        )

        # Middle.
        in_ch = hs_c[-1]
        self.mid = (resblock(in_ch), attn(in_ch), resblock(in_ch))

        # Upsampling path (levels in reverse order).
        pyramid_ch = 0
        up_blocks, up_attn, pyramid_up, pyramid_norm, pyramid_conv, upsamplers = [], [], [], [], [], []
        for lvl in reversed(range(levels)):
            blocks = []
            for _ in range(num_res_blocks + 1):
                out_ch = nf * ch_mult[lvl]
                blocks.append(resblock(in_ch + hs_c.pop(), out_ch))
                in_ch = out_ch
            up_blocks.append(tuple(blocks))
            up_attn.append(attn(in_ch) if resolutions[lvl] in attn_resolutions else None)
            p_up = p_norm = p_conv = None
            if progressive == "output_skip":
                if lvl != levels - 1:
                    p_up = Upsample(pyramid_ch, fir=fir, fir_kernel=fir_kernel, key=keys.next())
                p_norm = group_norm(in_ch)
                p_conv = conv3x3(in_ch, channels, init_scale=init_scale, key=keys.next())
                pyramid_ch = channels
            elif progressive == "residual":
                if lvl == levels - 1:
                    p_norm = group_norm(in_ch)
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
        assert not hs_c
        self.up_blocks, self.up_attn, self.upsamplers = tuple(up_blocks), tuple(up_attn), tuple(upsamplers)
        self.pyramid_up, self.pyramid_norm, self.pyramid_conv = (
            tuple(pyramid_up),
            tuple(pyramid_norm),
            tuple(pyramid_conv),
        )

        if progressive == "output_skip":
            self.out_norm = self.out_conv = None
        else:
            self.out_norm = group_norm(in_ch)
            self.out_conv = conv3x3(in_ch, channels, init_scale=init_scale, key=keys.next())

    def _temb(self, c, label):
        if self.embedding_type == "fourier":
            temb = self.fourier(c)
        else:
            temb = sinusoidal_embedding(c, self.nf)
        if self.temb_dense is not None:
            d0, d1 = self.temb_dense
            temb = d1(activation(self.act)(d0(temb)))
        else:
            temb = None
        if self.label_embed is not None and label is not None:
            lab = self.label_embed(label)
            temb = lab if temb is None else temb + lab
        return temb

    def __call__(
        self, x: Float[Array, " C H W"], c: Float[Array, ""] | float, *, key=None, label=None
    ) -> Float[Array, " C H W"]:
        _check_input(x, self.channels, self.num_levels)
        act = activation(self.act)
        c = jnp.asarray(c, dtype=x.dtype)
        temb = self._temb(c, label)
        keys = _Keys(key)
        levels = self.num_levels

        input_pyramid = x if self.progressive_input != "none" else None
        hs = [self.conv_in(x)]
        for lvl in range(levels):
            for block, attn in zip(self.down_blocks[lvl], self.down_attn[lvl], strict=True):
                h = block(hs[-1], temb, key=keys.next())
                if attn is not None:
                    h = attn(h)
                hs.append(h)
            if lvl == levels - 1:
                continue
            h = self.downsamplers[lvl](hs[-1], temb, key=keys.next())
            if self.progressive_input == "input_skip":
                input_pyramid = self.pyramid_down[lvl](input_pyramid)
                h = self.combiners[lvl](input_pyramid, h)
            elif self.progressive_input == "residual":
                input_pyramid = skip_add(self.pyramid_down[lvl](input_pyramid), h, self.skip_rescale)
                h = input_pyramid
            hs.append(h)

        block0, attn, block1 = self.mid
        h = block0(hs[-1], temb, key=keys.next())
        h = attn(h)
        h = block1(h, temb, key=keys.next())

        pyramid = None
        for j, lvl in enumerate(reversed(range(levels))):
            for block in self.up_blocks[j]:
                h = block(jnp.concatenate([h, hs.pop()], axis=0), temb, key=keys.next())
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
            if self.upsamplers[j] is not None:
                h = self.upsamplers[j](h, temb, key=keys.next())
        assert not hs

        if self.progressive == "output_skip":
            return pyramid
        return self.out_conv(act(self.out_norm(h)))


class DDPM(eqx.Module):
    """The DDPM U-Net of Ho et al. 2020 as in score_sde models/ddpm.py: (C, H, W), scalar t -> (C, H, W).

    Positional embedding of c (DDPM uses integer steps: condition on 999 t), DDPM residual blocks
    (no skip rescaling, last conv of each block initialised at ~0), attention at `attn_resolutions`
    and in the middle, nearest-neighbour upsampling and strided-conv downsampling.
    """

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
    out_norm: eqx.nn.GroupNorm
    out_conv: Conv2d
    nf: int = eqx.field(static=True)
    channels: int = eqx.field(static=True)
    num_levels: int = eqx.field(static=True)
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
        num_classes: int = 0,
        key,
    ):
        check_choice("nonlinearity", nonlinearity, ACTIVATIONS)
        if nf < 1 or channels < 1 or num_res_blocks < 1:
            raise ValueError(f"nf, channels, num_res_blocks must be >= 1, got {nf}, {channels}, {num_res_blocks}")
        ch_mult = tuple(int(m) for m in ch_mult)
        attn_resolutions = tuple(int(r) for r in attn_resolutions)
        resolutions = _resolutions(image_size, ch_mult, attn_resolutions)
        levels = len(ch_mult)
        keys = _Keys(key)
        self.nf, self.channels, self.num_levels, self.act = nf, channels, levels, nonlinearity

        self.temb_dense = (Dense(nf, 4 * nf, key=keys.next()), Dense(4 * nf, 4 * nf, key=keys.next()))
        self.label_embed = eqx.nn.Embedding(num_classes + 1, 4 * nf, key=keys.next()) if num_classes else None

        def resblock(in_ch, out_ch=None):
            return ResnetBlockDDPM(
                in_ch, out_ch, temb_dim=4 * nf, dropout=dropout, act=nonlinearity, init_scale=0.0, key=keys.next()
            )

        def attn(ch):
            return AttnBlock(ch, skip_rescale=False, init_scale=0.0, key=keys.next())

        self.conv_in = conv3x3(channels, nf, key=keys.next())
        hs_c = [nf]
        in_ch = nf
        down_blocks, down_attn, downsamplers = [], [], []
        for lvl in range(levels):
            blocks, attns = [], []
            for _ in range(num_res_blocks):
                out_ch = nf * ch_mult[lvl]
                blocks.append(resblock(in_ch, out_ch))
                in_ch = out_ch
                attns.append(attn(in_ch) if resolutions[lvl] in attn_resolutions else None)
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
                out_ch = nf * ch_mult[lvl]
                blocks.append(resblock(in_ch + hs_c.pop(), out_ch))
                in_ch = out_ch
            up_blocks.append(tuple(blocks))
            up_attn.append(attn(in_ch) if resolutions[lvl] in attn_resolutions else None)
            upsamplers.append(Upsample(in_ch, with_conv=resamp_with_conv, key=keys.next()) if lvl != 0 else None)
        assert not hs_c
        self.up_blocks, self.up_attn, self.upsamplers = tuple(up_blocks), tuple(up_attn), tuple(upsamplers)
        self.out_norm = group_norm(in_ch)
        self.out_conv = conv3x3(in_ch, channels, init_scale=0.0, key=keys.next())

    def __call__(
        self, x: Float[Array, " C H W"], c: Float[Array, ""] | float, *, key=None, label=None
    ) -> Float[Array, " C H W"]:
        _check_input(x, self.channels, self.num_levels)
        act = activation(self.act)
        d0, d1 = self.temb_dense
        temb = d1(act(d0(sinusoidal_embedding(jnp.asarray(c, dtype=x.dtype), self.nf))))
        if self.label_embed is not None and label is not None:
            temb = temb + self.label_embed(label)
        keys = _Keys(key)

        hs = [self.conv_in(x)]
        for lvl in range(self.num_levels):
            for block, attn in zip(self.down_blocks[lvl], self.down_attn[lvl], strict=True):
                h = block(hs[-1], temb, key=keys.next())
                if attn is not None:
                    h = attn(h)
                hs.append(h)
            if lvl != self.num_levels - 1:
                hs.append(self.downsamplers[lvl](hs[-1]))

        block0, attn, block1 = self.mid
        h = block1(attn(block0(hs[-1], temb, key=keys.next())), temb, key=keys.next())

        for j in range(self.num_levels):
            for block in self.up_blocks[j]:
                h = block(jnp.concatenate([h, hs.pop()], axis=0), temb, key=keys.next())
            if self.up_attn[j] is not None:
                h = self.up_attn[j](h)
            if self.upsamplers[j] is not None:
                h = self.upsamplers[j](h)
        assert not hs
        return self.out_conv(act(self.out_norm(h)))


# ----------------------------------------------------------------------------- registry

# score_sde's CIFAR-10 settings; a model config overrides any of them.
NCSNPP_DEFAULTS = dict(
    nf=128,
    ch_mult=(1, 2, 2, 2),
    num_res_blocks=4,
    attn_resolutions=(16,),
    dropout=0.1,
    resamp_with_conv=True,
    conditional=True,
    fir=True,
    fir_kernel=(1, 3, 3, 1),
    skip_rescale=True,
    resblock_type="biggan",
    progressive="none",
    progressive_input="residual",
    progressive_combine="sum",
    init_scale=0.0,
    embedding_type="fourier",
    fourier_scale=16.0,
    nonlinearity="swish",
    num_classes=0,
)
DDPMPP_DEFAULTS = {**NCSNPP_DEFAULTS, "fir": False, "progressive_input": "none", "embedding_type": "positional"}
DDPM_DEFAULTS = dict(
    nf=128,
    ch_mult=(1, 2, 2, 2),
    num_res_blocks=2,
    attn_resolutions=(16,),
    dropout=0.1,
    resamp_with_conv=True,
    nonlinearity="swish",
    num_classes=0,
)


def _get(cfg, field, default):
    value = cfg.get(field, None) if hasattr(cfg, "get") else getattr(cfg, field, None)
    return default if value is None else value


def _kwargs(cfg, defaults: dict) -> dict:
    """The constructor arguments: config fields (score_sde names) over the defaults, coerced to their types."""
    kw = {field: _get(cfg, field, default) for field, default in defaults.items()}
    for field, value in kw.items():
        default = defaults[field]
        if isinstance(default, str):
            kw[field] = str(value).lower()
        elif isinstance(default, bool):
            kw[field] = bool(value)
        elif isinstance(default, float):
            kw[field] = float(value)
        elif isinstance(default, int):
            kw[field] = int(value)
        elif field == "fir_kernel":
            kw[field] = tuple(float(v) for v in value)
        else:
            kw[field] = tuple(int(v) for v in value)
    kw["image_size"] = int(require(cfg, "image_size"))
    kw["channels"] = int(_get(cfg, "num_channels", 3))
    return kw


def _prefix_field_errors(build):
    """Name the config field (model.<field>) in the error messages of a builder."""

    def wrapped(cfg, key):
        try:
            return build(cfg, key)
        except ValueError as e:
            msg = str(e)
            for field in (*NCSNPP_DEFAULTS, "image_size"):
                if msg.startswith(f"{field}="):
                    raise ValueError(f"model.{msg}") from None
            raise

    return wrapped


@register("ncsnpp")
@_prefix_field_errors
def _ncsnpp(cfg, key):
    return NCSNpp(**_kwargs(cfg, NCSNPP_DEFAULTS), key=key)


@register("ddpmpp")
@_prefix_field_errors
def _ddpmpp(cfg, key):
    return NCSNpp(**_kwargs(cfg, DDPMPP_DEFAULTS), key=key)


@register("ddpm")
@_prefix_field_errors
def _ddpm(cfg, key):
    return DDPM(**_kwargs(cfg, DDPM_DEFAULTS), key=key)
