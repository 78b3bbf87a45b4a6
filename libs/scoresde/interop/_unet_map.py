"""Weight maps of score_sde's U-Nets (NCSN++ / DDPM++ and DDPM) onto `nets.NCSNpp` and `nets.DDPM`.

Both reference implementations create the network's modules in the order the forward pass calls
them: score_sde_pytorch keeps them in one `all_modules` ModuleList (names `all_modules.<i>.<sub>`),
score_sde's Flax modules are named `<Class>_<n>` per class in call order (`ResnetBlockBigGANpp_3/
Conv_0/kernel`). `walk` lists our modules in that order; `torch_slots` and `flax_slots` name them.
"""

from collections.abc import Iterator

from ..nets import DDPM, NCSNpp
from ..nets._unet_blocks import Combine, Downsample, ResnetBlockBigGAN, ResnetBlockDDPM, Upsample
from ..nets.layers import Conv2d, Dense, GaussianFourierEmbedding, GroupNorm, PixelAttention
from ._assign import Slot


def walk(net) -> Iterator[tuple[str, object]]:
    """(kind, module) in the reference's creation order; kinds: fourier, dense, conv, groupnorm, block,
    attn, downsample, upsample, combine, and 'pyramid': the parameter-free resampler of the output_skip /
    input_skip pyramids, which score_sde_pytorch keeps outside its module list but Flax names in order."""
    if isinstance(net, NCSNpp):
        yield from _walk_ncsnpp(net)
    elif isinstance(net, DDPM):
        yield from _walk_ddpm(net)
    else:
        raise ValueError(f"score_sde's U-Net maps need an NCSNpp or DDPM network, got {type(net).__name__}")


def _walk_ncsnpp(net: NCSNpp):
    if net.fourier is not None:
        yield "fourier", net.fourier
    if net.temb_dense is not None:
        yield "dense", net.temb_dense[0]
        yield "dense", net.temb_dense[1]
    yield "conv", net.conv_in
    levels = net.num_levels
    for lvl in range(levels):
        for block, attn in zip(net.down_blocks[lvl], net.down_attn[lvl], strict=True):
            yield "block", block
            if attn is not None:
                yield "attn", attn
        if lvl == levels - 1:
            continue
        down = net.downsamplers[lvl]
        yield ("downsample" if isinstance(down, Downsample) else "block"), down
        if net.progressive_input == "input_skip":
            yield "pyramid", net.pyramid_down[lvl]  # no parameters: only Flax's Downsample_<n> counts it
            yield "combine", net.combiners[lvl]
        elif net.progressive_input == "residual":
            yield "downsample", net.pyramid_down[lvl]
    block0, attn, block1 = net.mid
    yield from (("block", block0), ("attn", attn), ("block", block1))
    for j, lvl in enumerate(reversed(range(levels))):
        for block in net.up_blocks[j]:
            yield "block", block
        if net.up_attn[j] is not None:
            yield "attn", net.up_attn[j]
        if net.progressive == "output_skip":
            if net.pyramid_up[j] is not None:
                yield "pyramid", net.pyramid_up[j]  # no parameters: only Flax's Upsample_<n> counts it
            yield "groupnorm", net.pyramid_norm[j]
            yield "conv", net.pyramid_conv[j]
        elif net.progressive == "residual":
            if lvl == levels - 1:
                yield "groupnorm", net.pyramid_norm[j]
                yield "conv", net.pyramid_conv[j]
            else:
                yield "upsample", net.pyramid_up[j]
        up = net.upsamplers[j]
        if up is not None:
            yield ("upsample" if isinstance(up, Upsample) else "block"), up
    if net.out_norm is not None:
        yield "groupnorm", net.out_norm
        yield "conv", net.out_conv


def _walk_ddpm(net: DDPM):
    yield "dense", net.temb_dense[0]
    yield "dense", net.temb_dense[1]
    yield "conv", net.conv_in
    for lvl in range(net.num_levels):
        for block, attn in zip(net.down_blocks[lvl], net.down_attn[lvl], strict=True):
            yield "block", block
            if attn is not None:
                yield "attn", attn
        if lvl != net.num_levels - 1:
            yield "downsample", net.downsamplers[lvl]
    block0, attn, block1 = net.mid
    yield from (("block", block0), ("attn", attn), ("block", block1))
    for j in range(net.num_levels):
        for block in net.up_blocks[j]:
            yield "block", block
        if net.up_attn[j] is not None:
            yield "attn", net.up_attn[j]
        if net.upsamplers[j] is not None:
            yield "upsample", net.upsamplers[j]
    yield "groupnorm", net.out_norm
    yield "conv", net.out_conv


# ---- parameter names inside a module ------------------------------------------------------


def _leaf_params(module, flax: bool, prefix: str) -> list[Slot]:
    """Slots of one leaf layer (conv, FIR conv, dense, per-pixel dense, group norm, Fourier table)."""
    sep = "/" if flax else "."
    if isinstance(module, GroupNorm):
        return [
            Slot(prefix + sep + ("scale" if flax else "weight"), module.weight),
            Slot(prefix + sep + "bias", module.bias),
        ]
    if isinstance(module, GaussianFourierEmbedding):
        return [Slot(prefix + sep + "W", module.W)]
    if isinstance(module, Conv2d):
        fused = module.up or module.down  # score_sde's up_or_down_sampling.Conv2d: 'weight' in both versions
        name = "weight" if (fused or not flax) else "kernel"
        out = [Slot(prefix + sep + name, module.weight, "hwio" if flax else "same")]
        return out + ([Slot(prefix + sep + "bias", module.bias)] if module.bias is not None else [])
    if isinstance(module, Dense):
        return [Slot(prefix + sep + ("kernel" if flax else "weight"), module.weight, "T" if flax else "same"),
                Slot(prefix + sep + "bias", module.bias)]  # fmt: skip
    raise TypeError(f"no reference names for {type(module).__name__}")


def _nin(module: Dense, prefix: str, sep: str) -> list[Slot]:
    """score_sde's NIN: W is (in, out), b; ours is a Dense applied per pixel."""
    return [Slot(prefix + sep + "W", module.weight, "T"), Slot(prefix + sep + "b", module.bias)]


def _sub(module, flax: bool, prefix: str) -> list[Slot]:
    """Slots of a composite module, with the sub-module names both reference versions use."""
    sep = "/" if flax else "."
    if isinstance(module, ResnetBlockBigGAN | ResnetBlockDDPM):
        out = _leaf_params(module.norm0, flax, prefix + sep + "GroupNorm_0")
        out += _leaf_params(module.conv0, flax, prefix + sep + "Conv_0")
        if module.dense is not None:
            out += _leaf_params(module.dense, flax, prefix + sep + "Dense_0")
        out += _leaf_params(module.norm1, flax, prefix + sep + "GroupNorm_1")
        out += _leaf_params(module.conv1, flax, prefix + sep + "Conv_1")
        if isinstance(module.shortcut, Dense):
            out += _nin(module.shortcut, prefix + sep + "NIN_0", sep)
        elif module.shortcut is not None:
            out += _leaf_params(module.shortcut, flax, prefix + sep + "Conv_2")
        return out
    if isinstance(module, PixelAttention):
        out = _leaf_params(module.norm, flax, prefix + sep + "GroupNorm_0")
        for i, proj in enumerate((module.q, module.k, module.v, module.out)):
            out += _nin(proj, f"{prefix}{sep}NIN_{i}", sep)
        return out
    if isinstance(module, Downsample | Upsample):
        if module.conv is None:
            return []
        fused = module.conv.up or module.conv.down
        return _leaf_params(module.conv, flax, prefix + sep + ("Conv2d_0" if fused else "Conv_0"))
    if isinstance(module, Combine):
        return _leaf_params(module.conv, flax, prefix + sep + "Conv_0")
    return _leaf_params(module, flax, prefix)


# Flax class names per kind (score_sde models/ncsnpp.py and models/ddpm.py).
_FLAX_NCSNPP = {
    "fourier": "GaussianFourierProjection", "dense": "Dense", "conv": "Conv", "groupnorm": "GroupNorm",
    "attn": "AttnBlockpp", "downsample": "Downsample", "upsample": "Upsample", "combine": "Combine",
}  # fmt: skip
_FLAX_DDPM = {**_FLAX_NCSNPP, "attn": "AttnBlock"}


def torch_slots(net) -> list[Slot]:
    """score_sde_pytorch: `all_modules.<i>.<sub>` in creation order."""
    modules = [module for kind, module in walk(net) if kind != "pyramid"]
    out = []
    for i, module in enumerate(modules):
        out += _sub(module, False, f"all_modules.{i}")
    return out


def torch_unused(net):
    """Reference arrays our network does not need: the `sigmas` buffer, and the Dense_0 of every residual
    block of an unconditional NCSN++ (score_sde_pytorch creates it although temb is None)."""
    unconditional = isinstance(net, NCSNpp) and net.temb_dense is None and net.label_embed is None
    return lambda key: key == "sigmas" or (unconditional and ".Dense_0." in key)


def flax_slots(net) -> list[Slot]:
    """score_sde (Flax): `<Class>_<n>/<sub>` with a counter per class in call order."""
    names = _FLAX_DDPM if isinstance(net, DDPM) else _FLAX_NCSNPP
    counts: dict[str, int] = {}
    out = []
    for kind, module in walk(net):
        if kind == "pyramid":
            cls = "Downsample" if isinstance(module, Downsample) else "Upsample"
        elif kind == "block":
            cls = "ResnetBlockBigGANpp" if isinstance(module, ResnetBlockBigGAN) else "ResnetBlockDDPMpp"
            cls = "ResnetBlockDDPM" if isinstance(net, DDPM) else cls
        else:
            cls = names[kind]
        n = counts.get(cls, 0)
        counts[cls] = n + 1
        out += _sub(module, True, f"{cls}_{n}")
    return out


def trainable(key: str) -> bool:
    """Whether score_sde_pytorch's optimiser (and so its EMA) holds the parameter: all but the Fourier table."""
    return not (key.endswith(".W") and key.count(".") == 2 and key.startswith("all_modules.0."))
