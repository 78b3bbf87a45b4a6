"""Blocks of the score_sde U-Nets (NCSN++, DDPM++, DDPM): residual blocks, resampling, the pyramid combiner.

Each acts on one channels-last (H, W, C) image (the layers' layout). Dropout runs only when a key is
passed. Group counts are given by the caller: min(C // 4, 32) in NCSN++ / DDPM++, 32 in DDPM.
"""

from collections.abc import Callable, Sequence

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from .layers import (
    DEFAULT_FIR,
    Conv2d,
    Dense,
    GroupNorm,
    activation,
    downsample_2d,
    dropout,
    naive_downsample_2d,
    naive_upsample_2d,
    skip_add,
    upsample_2d,
)

Groups = Callable[[int], int]


def conv3x3(cin: int, cout: int, *, scale: float = 1.0, key, **kw) -> Conv2d:
    """score_sde's ddpm_conv3x3: DDPM init, zero bias, 'same' padding."""
    return Conv2d(cin, cout, 3, scale=scale, key=key, **kw)


def conv1x1(cin: int, cout: int, *, scale: float = 1.0, key) -> Conv2d:
    return Conv2d(cin, cout, 1, scale=scale, key=key)


class ResnetBlockDDPM(eqx.Module):
    """DDPM residual block (score_sde's ResnetBlockDDPM / ResnetBlockDDPMpp).

    GN -> act -> conv3x3 -> + Dense(act(temb)) -> GN -> act -> dropout -> conv3x3(init_scale);
    a per-pixel Dense shortcut (or a conv3x3 with `conv_shortcut`) when the width changes.
    """

    norm0: GroupNorm
    conv0: Conv2d
    dense: Dense | None
    norm1: GroupNorm
    conv1: Conv2d
    shortcut: Dense | Conv2d | None
    dropout: float = eqx.field(static=True)
    skip_rescale: bool = eqx.field(static=True)
    act: str = eqx.field(static=True)

    def __init__(
        self,
        in_ch: int,
        out_ch: int | None = None,
        *,
        groups: Groups,
        temb_dim: int | None = None,
        conv_shortcut: bool = False,
        dropout: float = 0.1,
        skip_rescale: bool = False,
        init_scale: float = 0.0,
        act: str = "swish",
        key,
    ):
        out_ch = out_ch or in_ch
        k0, k1, k2, k3 = jr.split(key, 4)
        self.norm0 = GroupNorm(in_ch, groups(in_ch))
        self.conv0 = conv3x3(in_ch, out_ch, key=k0)
        self.dense = Dense(temb_dim, out_ch, key=k1) if temb_dim is not None else None
        self.norm1 = GroupNorm(out_ch, groups(out_ch))
        self.conv1 = conv3x3(out_ch, out_ch, scale=init_scale, key=k2)
        if in_ch == out_ch:
            self.shortcut = None
        elif conv_shortcut:
            self.shortcut = conv3x3(in_ch, out_ch, key=k3)
        else:
            self.shortcut = Dense(in_ch, out_ch, scale=0.1, key=k3)
        self.dropout, self.skip_rescale, self.act = float(dropout), bool(skip_rescale), act

    def __check_init__(self):
        activation(self.act)

    def __call__(self, x: Float[Array, "H W cin"], temb=None, *, key=None) -> Float[Array, "H W cout"]:
        act = activation(self.act)
        h = self.conv0(act(self.norm0(x)))
        if temb is not None and self.dense is not None:
            h = h + self.dense(act(temb))
        h = self.conv1(dropout(act(self.norm1(h)), self.dropout, key))
        if self.shortcut is not None:
            x = self.shortcut(x)
        return skip_add(x, h, self.skip_rescale)


class ResnetBlockBigGAN(eqx.Module):
    """BigGAN residual block (score_sde's ResnetBlockBigGANpp), optionally resampling x2 up or /2 down.

    GN -> act -> [resample h and x: FIR or nearest / mean] -> conv3x3 -> + Dense(act(temb)) -> GN ->
    act -> dropout -> conv3x3(init_scale); a 1x1-conv shortcut when the width changes or it resamples.
    """

    norm0: GroupNorm
    conv0: Conv2d
    dense: Dense | None
    norm1: GroupNorm
    conv1: Conv2d
    shortcut: Conv2d | None
    up: bool = eqx.field(static=True)
    down: bool = eqx.field(static=True)
    fir: bool = eqx.field(static=True)
    fir_kernel: tuple[float, ...] = eqx.field(static=True)
    dropout: float = eqx.field(static=True)
    skip_rescale: bool = eqx.field(static=True)
    act: str = eqx.field(static=True)

    def __init__(
        self,
        in_ch: int,
        out_ch: int | None = None,
        *,
        groups: Groups,
        temb_dim: int | None = None,
        up: bool = False,
        down: bool = False,
        dropout: float = 0.1,
        fir: bool = False,
        fir_kernel: Sequence[float | int] = DEFAULT_FIR,
        skip_rescale: bool = True,
        init_scale: float = 0.0,
        act: str = "swish",
        key,
    ):
        out_ch = out_ch or in_ch
        k0, k1, k2, k3 = jr.split(key, 4)
        self.norm0 = GroupNorm(in_ch, groups(in_ch))
        self.conv0 = conv3x3(in_ch, out_ch, key=k0)
        self.dense = Dense(temb_dim, out_ch, key=k1) if temb_dim is not None else None
        self.norm1 = GroupNorm(out_ch, groups(out_ch))
        self.conv1 = conv3x3(out_ch, out_ch, scale=init_scale, key=k2)
        self.shortcut = conv1x1(in_ch, out_ch, key=k3) if (in_ch != out_ch or up or down) else None
        self.up, self.down, self.fir = bool(up), bool(down), bool(fir)
        self.fir_kernel = tuple(float(v) for v in fir_kernel)
        self.dropout, self.skip_rescale, self.act = float(dropout), bool(skip_rescale), act

    def __check_init__(self):
        if self.up and self.down:
            raise ValueError("ResnetBlockBigGAN: up and down are exclusive")
        activation(self.act)

    def _resample(self, x: Array) -> Array:
        if self.up:
            return upsample_2d(x, self.fir_kernel) if self.fir else naive_upsample_2d(x)
        if self.down:
            return downsample_2d(x, self.fir_kernel) if self.fir else naive_downsample_2d(x)
        return x

    def __call__(self, x: Float[Array, "H W cin"], temb=None, *, key=None) -> Float[Array, "Ho Wo cout"]:
        act = activation(self.act)
        h = self.conv0(self._resample(act(self.norm0(x))))
        x = self._resample(x)
        if temb is not None and self.dense is not None:
            h = h + self.dense(act(temb))
        h = self.conv1(dropout(act(self.norm1(h)), self.dropout, key))
        if self.shortcut is not None:
            x = self.shortcut(x)
        return skip_add(x, h, self.skip_rescale)


class Upsample(eqx.Module):
    """x2 upsampling: nearest (+ optional conv3x3), or FIR (+ optional fused FIR conv)."""

    conv: Conv2d | None
    fir: bool = eqx.field(static=True)
    fir_kernel: tuple[float, ...] = eqx.field(static=True)

    def __init__(
        self, in_ch: int, out_ch: int | None = None, *, with_conv=False, fir=False, fir_kernel=DEFAULT_FIR, key
    ):
        out_ch = out_ch or in_ch
        if not with_conv and out_ch != in_ch:
            raise ValueError("Upsample without a conv cannot change the channel count")
        self.conv = None
        if with_conv:
            self.conv = conv3x3(in_ch, out_ch, up=bool(fir), fir_kernel=fir_kernel, key=key)
        self.fir = bool(fir)
        self.fir_kernel = tuple(float(v) for v in fir_kernel)

    def __call__(self, x: Float[Array, "H W C"]) -> Array:
        if self.fir:
            return upsample_2d(x, self.fir_kernel) if self.conv is None else self.conv(x)
        h = naive_upsample_2d(x)
        return h if self.conv is None else self.conv(h)


class Downsample(eqx.Module):
    """/2 downsampling: DDPM's pad-(0, 1) stride-2 conv3x3 or 2x2 mean, or FIR (+ optional fused FIR conv)."""

    conv: Conv2d | None
    fir: bool = eqx.field(static=True)
    fir_kernel: tuple[float, ...] = eqx.field(static=True)

    def __init__(
        self, in_ch: int, out_ch: int | None = None, *, with_conv=False, fir=False, fir_kernel=DEFAULT_FIR, key
    ):
        out_ch = out_ch or in_ch
        if not with_conv and out_ch != in_ch:
            raise ValueError("Downsample without a conv cannot change the channel count")
        self.conv = None
        if with_conv and fir:
            self.conv = conv3x3(in_ch, out_ch, down=True, fir_kernel=fir_kernel, key=key)
        elif with_conv:
            # TensorFlow's 'SAME' for a stride-2 conv: one pixel of padding at the bottom and right only.
            self.conv = conv3x3(in_ch, out_ch, stride=2, padding=((0, 1), (0, 1)), key=key)
        self.fir = bool(fir)
        self.fir_kernel = tuple(float(v) for v in fir_kernel)

    def __call__(self, x: Float[Array, "H W C"]) -> Array:
        if self.fir:
            return downsample_2d(x, self.fir_kernel) if self.conv is None else self.conv(x)
        return naive_downsample_2d(x) if self.conv is None else self.conv(x)


class Combine(eqx.Module):
    """Progressive-input combiner: 1x1 conv of the pyramid image, then concatenated with or added to h."""

    conv: Conv2d
    method: str = eqx.field(static=True)

    def __init__(self, dim1: int, dim2: int, method: str = "cat", *, key):
        self.conv = conv1x1(dim1, dim2, key=key)
        self.method = method

    def __check_init__(self):
        if self.method not in ("cat", "sum"):
            raise ValueError(f"progressive_combine={self.method!r} is not one of 'cat', 'sum'")

    def __call__(self, x: Float[Array, "H W c1"], y: Float[Array, "H W c2"]) -> Array:
        h = self.conv(x)
        return jnp.concatenate([h, y], axis=-1) if self.method == "cat" else h + y


def check_input(x: Array, channels: int, levels: int) -> None:
    """x is (channels, H, W) with H and W divisible by 2^(levels - 1)."""
    if x.ndim != 3 or x.shape[0] != channels:
        raise ValueError(f"expected x of shape ({channels}, H, W), got {x.shape}")
    f = 2 ** (levels - 1)
    if x.shape[1] % f or x.shape[2] % f:
        raise ValueError(f"H and W must be divisible by {f} for {levels} resolution levels, got {x.shape[1:]}")


def resolutions(image_size: int, ch_mult: Sequence[int], attn_resolutions: Sequence[int]) -> list[int]:
    """Feature-map sizes per level, after checking image_size, ch_mult and attn_resolutions agree."""
    if len(ch_mult) < 1 or any(int(m) < 1 for m in ch_mult):
        raise ValueError(f"ch_mult must be a non-empty sequence of positive ints, got {tuple(ch_mult)}")
    if image_size < 1 or image_size % 2 ** (len(ch_mult) - 1):
        raise ValueError(
            f"ch_mult={tuple(ch_mult)} has {len(ch_mult)} levels, so image_size must be divisible by "
            f"2**{len(ch_mult) - 1} = {2 ** (len(ch_mult) - 1)}; got image_size={image_size}"
        )
    res = [image_size // 2**i for i in range(len(ch_mult))]
    bad = [r for r in attn_resolutions if r not in res]
    if bad:
        raise ValueError(
            f"attn_resolutions={tuple(attn_resolutions)} includes {bad}, not among the resolutions {res} "
            f"of image_size={image_size} with ch_mult={tuple(ch_mult)}"
        )
    return res


class KeyStream:
    """Keys folded in from one key, one per call of `next` (None throughout when no key was given)."""

    def __init__(self, key):
        self.key, self.i = key, 0

    def next(self):
        if self.key is None:
            return None
        self.i += 1
        return jr.fold_in(self.key, self.i)


def centre(x: Array, centered: bool) -> Array:
    """score_sde's input scaling: data in [0, 1] (centered=False) become 2x - 1; centred data pass as they are."""
    return x if centered else 2 * x - 1
