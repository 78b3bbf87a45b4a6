"""Building blocks of the score_sde U-Nets (NCSN++, DDPM++, DDPM), unbatched and channel-first.

Everything here acts on one image `(C, H, W)`. The layers follow yang-song/score_sde
(models/layers.py, layerspp.py, up_or_down_sampling.py): DDPM initialisation (variance scaling,
fan_avg, uniform; `init_scale=0` means 1e-10), GroupNorm with min(C // 4, 32) groups and eps 1e-6,
NIN (a per-pixel dense layer), channel attention, DDPM and BigGAN residual blocks, and
StyleGAN2's FIR resampling (`upfirdn2d`) written with `jax.lax.pad` and `conv_general_dilated`.

Dropout is applied only when a PRNG key is passed; without a key the blocks are deterministic.
"""

import math
from collections.abc import Sequence
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float

_DIMS = ("NCHW", "OIHW", "NCHW")
ACTIVATIONS = ("swish", "silu", "relu", "elu", "lrelu")


# ----------------------------------------------------------------------------- helpers


def activation(name: str):
    """score_sde's `config.model.nonlinearity`: swish (= SiLU), relu, elu or lrelu (slope 0.2)."""
    if name in ("swish", "silu"):
        return jax.nn.silu
    if name == "relu":
        return jax.nn.relu
    if name == "elu":
        return jax.nn.elu
    if name == "lrelu":
        return lambda x: jax.nn.leaky_relu(x, 0.2)
    raise ValueError(f"nonlinearity={name!r} is not one of {', '.join(map(repr, ACTIVATIONS))}")


def default_init(key, shape: Sequence[int], scale: float = 1.0, *, in_axis: int = 1, out_axis: int = 0):
    """DDPM initialiser: variance scaling with fan_avg and a uniform distribution.

    Fans are taken as in score_sde's port of `jax.nn.initializers.variance_scaling`: the receptive
    field size times the `in_axis` / `out_axis` extents. A scale of 0 becomes 1e-10 (score_sde's
    "zero" initialisation of the last layer of each block).
    """
    scale = 1e-10 if scale == 0 else scale
    shape = tuple(int(d) for d in shape)
    receptive = math.prod(shape) / shape[in_axis] / shape[out_axis]
    fan_avg = 0.5 * (shape[in_axis] + shape[out_axis]) * receptive
    limit = math.sqrt(3.0 * scale / fan_avg)
    n = math.prod(shape)
    blocks = [_uniform_block(jr.fold_in(key, i)) for i in range(-(-n // _BLOCK))]
    return _shape_block(blocks, limit, shape)


# Uniform draws come in fixed-size blocks, so building a network compiles the random-number kernel
# once instead of once per parameter shape (each threefry compile costs ~0.3-1 s on CPU).
_BLOCK = 1 << 16


@jax.jit
def _uniform_block(key):
    return jr.uniform(key, (_BLOCK,), minval=-1.0, maxval=1.0)


@partial(jax.jit, static_argnums=2)
def _shape_block(blocks, limit, shape):
    return limit * jnp.concatenate(blocks)[: math.prod(shape)].reshape(shape)


def num_groups(channels: int) -> int:
    """score_sde's GroupNorm group count: min(C // 4, 32)."""
    return max(min(channels // 4, 32), 1)


def group_norm(channels: int) -> eqx.nn.GroupNorm:
    groups = num_groups(channels)
    if channels % groups:
        raise ValueError(
            f"GroupNorm with min(C // 4, 32) = {groups} groups does not divide C = {channels} channels; "
            "choose nf and ch_mult so that every width is a multiple of 4 (and of 32 above 128)"
        )
    return eqx.nn.GroupNorm(groups, channels, eps=1e-6)


def dropout(h: Array, rate: float, key) -> Array:
    """Inverted dropout; the identity when `key` is None or the rate is 0."""
    if key is None or rate == 0:
        return h
    keep = jr.bernoulli(key, 1.0 - rate, h.shape)
    return jnp.where(keep, h / (1.0 - rate), 0.0)


def skip_add(x: Array, h: Array, skip_rescale: bool) -> Array:
    """Residual sum, divided by sqrt(2) when `skip_rescale` (keeps the variance of two unit inputs)."""
    return (x + h) / math.sqrt(2.0) if skip_rescale else x + h


# ----------------------------------------------------------------------------- dense layers


class Dense(eqx.Module):
    """Linear layer with the DDPM initialisation and a zero bias (score_sde's `nn.Dense` + default_init)."""

    weight: Float[Array, "out in"]
    bias: Float[Array, " out"]

    def __init__(self, in_features: int, out_features: int, *, init_scale: float = 1.0, key):
        self.weight = default_init(key, (out_features, in_features), init_scale)
        self.bias = jnp.zeros((out_features,))

    def __call__(self, x: Float[Array, " in"]) -> Float[Array, " out"]:
        return self.weight @ x + self.bias


class NIN(eqx.Module):
    """Network-in-network: the same dense map applied at every pixel, (Cin, H, W) -> (Cout, H, W).

    score_sde's default init scale for NIN is 0.1.
    """

    W: Float[Array, "cin cout"]
    b: Float[Array, " cout"]

    def __init__(self, in_dim: int, num_units: int, *, init_scale: float = 0.1, key):
        self.W = default_init(key, (in_dim, num_units), init_scale)
        self.b = jnp.zeros((num_units,))

    def __call__(self, x: Float[Array, "cin H W"]) -> Float[Array, "cout H W"]:
        return jnp.einsum("chw,co->ohw", x, self.W) + self.b[:, None, None]


class Conv2d(eqx.Module):
    """A 2-D convolution with DDPM initialisation and zero bias; `padding` is ((top, bottom), (left, right))."""

    weight: Float[Array, "cout cin kh kw"]
    bias: Float[Array, " cout"] | None
    stride: int = eqx.field(static=True)
    padding: tuple[tuple[int, int], tuple[int, int]] = eqx.field(static=True)

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int = 3,
        *,
        stride: int = 1,
        padding: int | tuple[tuple[int, int], tuple[int, int]] = 1,
        bias: bool = True,
        init_scale: float = 1.0,
        key,
    ):
        self.weight = default_init(key, (out_ch, in_ch, kernel, kernel), init_scale)
        self.bias = jnp.zeros((out_ch,)) if bias else None
        self.stride = stride
        if isinstance(padding, int):
            padding = ((padding, padding), (padding, padding))
        self.padding = (tuple(padding[0]), tuple(padding[1]))

    def __call__(self, x: Float[Array, "cin H W"]) -> Float[Array, "cout Ho Wo"]:
        y = jax.lax.conv_general_dilated(
            x[None], self.weight, (self.stride, self.stride), self.padding, dimension_numbers=_DIMS
        )[0]
        return y if self.bias is None else y + self.bias[:, None, None]


def conv3x3(in_ch: int, out_ch: int, *, stride: int = 1, padding=1, bias: bool = True, init_scale=1.0, key):
    """score_sde's `ddpm_conv3x3`."""
    return Conv2d(in_ch, out_ch, 3, stride=stride, padding=padding, bias=bias, init_scale=init_scale, key=key)


def conv1x1(in_ch: int, out_ch: int, *, bias: bool = True, init_scale=1.0, key):
    """score_sde's `ddpm_conv1x1`."""
    return Conv2d(in_ch, out_ch, 1, padding=0, bias=bias, init_scale=init_scale, key=key)


# ----------------------------------------------------------------------------- FIR resampling (StyleGAN2)


def setup_kernel(k: Sequence[float | int] | np.ndarray) -> np.ndarray:
    """A 1-D FIR kernel becomes its outer product; the 2-D kernel is normalised to sum to 1."""
    k = np.asarray(k, dtype=np.float32)
    if k.ndim == 1:
        k = np.outer(k, k)
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f"fir_kernel must be 1-D or square 2-D, got shape {k.shape}")
    return k / np.sum(k)


def upfirdn2d(x: Float[Array, "C H W"], k: np.ndarray, *, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)):
    """Upsample (zero insertion), pad (crop if negative), FIR filter, downsample; same pad on both axes.

    Matches StyleGAN2's `upfirdn_2d` reference: each pixel is followed by `up - 1` zeros, the
    padding is applied after that, the kernel is flipped (a true convolution), and every
    `down`-th output is kept.
    """
    p0, p1 = pad
    cfg = ((0, 0, 0), (p0, p1 + up - 1, up - 1), (p0, p1 + up - 1, up - 1))
    x = jax.lax.pad(x, jnp.zeros((), x.dtype), cfg)
    w = jnp.asarray(np.ascontiguousarray(k[::-1, ::-1]), dtype=x.dtype)[None, None]
    y = jax.lax.conv_general_dilated(x[:, None], w, (down, down), "VALID", dimension_numbers=_DIMS)
    return y[:, 0]


def upsample_2d(x: Float[Array, "C H W"], k: Sequence[float | int] = (1, 3, 3, 1), factor: int = 2, gain: float = 1.0):
    """FIR upsampling by `factor` (StyleGAN2); a constant image stays constant away from the border."""
    kk = setup_kernel(k) * (gain * factor**2)
    p = kk.shape[0] - factor
    return upfirdn2d(x, kk, up=factor, pad=((p + 1) // 2 + factor - 1, p // 2))


def downsample_2d(
    x: Float[Array, "C H W"], k: Sequence[float | int] = (1, 3, 3, 1), factor: int = 2, gain: float = 1.0
):
    """FIR downsampling by `factor` (StyleGAN2): filter with the normalised kernel, keep every factor-th pixel."""
    kk = setup_kernel(k) * gain
    p = kk.shape[0] - factor
    return upfirdn2d(x, kk, down=factor, pad=((p + 1) // 2, p // 2))


def naive_upsample_2d(x: Float[Array, "C H W"], factor: int = 2) -> Array:
    """Nearest-neighbour upsampling."""
    return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


def naive_downsample_2d(x: Float[Array, "C H W"], factor: int = 2) -> Array:
    """Mean pooling over factor x factor blocks."""
    c, h, w = x.shape
    return x.reshape(c, h // factor, factor, w // factor, factor).mean(axis=(2, 4))


class FIRConv2d(eqx.Module):
    """score_sde's `up_or_down_sampling.Conv2d`: a conv fused with FIR up- or downsampling (StyleGAN2).

    up:   conv on the zero-stuffed image, then the FIR filter (gain factor^2);
    down: FIR filter, then a stride-`factor` conv. Without up/down it is a plain 'same' conv.
    """

    weight: Float[Array, "cout cin kh kw"]
    bias: Float[Array, " cout"] | None
    up: bool = eqx.field(static=True)
    down: bool = eqx.field(static=True)
    fir_kernel: tuple[float, ...] = eqx.field(static=True)
    factor: int = eqx.field(static=True)

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int = 3,
        *,
        up: bool = False,
        down: bool = False,
        fir_kernel: Sequence[float | int] = (1.0, 3.0, 3.0, 1.0),
        use_bias: bool = True,
        key,
    ):
        if up and down:
            raise ValueError("FIRConv2d: up and down are exclusive")
        if kernel < 1 or kernel % 2 != 1:
            raise ValueError(f"FIRConv2d: kernel must be odd and positive, got {kernel}")
        self.weight = default_init(key, (out_ch, in_ch, kernel, kernel))
        self.bias = jnp.zeros((out_ch,)) if use_bias else None
        self.up, self.down = up, down
        self.fir_kernel = tuple(float(v) for v in fir_kernel)
        self.factor = 2

    def __call__(self, x: Float[Array, "cin H W"]) -> Float[Array, "cout Ho Wo"]:
        f, kw = self.factor, self.weight.shape[-1]
        k = setup_kernel(self.fir_kernel)
        if self.up:
            # Transposed conv as a conv of the zero-stuffed, fully padded input with the same weight.
            y = jax.lax.conv_general_dilated(
                x[None], self.weight, (1, 1), ((kw - 1, kw - 1),) * 2, lhs_dilation=(f, f), dimension_numbers=_DIMS
            )[0]
            p = (k.shape[0] - f) - (kw - 1)
            y = upfirdn2d(y, k * f**2, pad=((p + 1) // 2 + f - 1, p // 2 + 1))
        elif self.down:
            p = (k.shape[0] - f) + (kw - 1)
            y = upfirdn2d(x, k, pad=((p + 1) // 2, p // 2))
            y = jax.lax.conv_general_dilated(y[None], self.weight, (f, f), "VALID", dimension_numbers=_DIMS)[0]
        else:
            pad = ((kw // 2, kw // 2),) * 2
            y = jax.lax.conv_general_dilated(x[None], self.weight, (1, 1), pad, dimension_numbers=_DIMS)[0]
        return y if self.bias is None else y + self.bias[:, None, None]


# ----------------------------------------------------------------------------- resampling modules


class Upsample(eqx.Module):
    """x2 upsampling: nearest (+ optional 3x3 conv), or FIR (+ optional fused conv). Ignores temb/key."""

    conv: Conv2d | FIRConv2d | None
    fir: bool = eqx.field(static=True)
    fir_kernel: tuple[float, ...] = eqx.field(static=True)

    def __init__(
        self, in_ch: int, out_ch: int | None = None, *, with_conv=False, fir=False, fir_kernel=(1.0, 3.0, 3.0, 1.0), key
    ):
        out_ch = out_ch or in_ch
        if not with_conv:
            if out_ch != in_ch:
                raise ValueError("Upsample without a conv cannot change the channel count")
            self.conv = None
        elif fir:
            self.conv = FIRConv2d(in_ch, out_ch, 3, up=True, fir_kernel=fir_kernel, key=key)
        else:
            self.conv = conv3x3(in_ch, out_ch, key=key)
        self.fir = bool(fir)
        self.fir_kernel = tuple(float(v) for v in fir_kernel)

    def __call__(self, x: Float[Array, "C H W"], temb=None, *, key=None) -> Array:
        if self.fir:
            return upsample_2d(x, self.fir_kernel) if self.conv is None else self.conv(x)
        h = naive_upsample_2d(x)
        return h if self.conv is None else self.conv(h)


class Downsample(eqx.Module):
    """/2 downsampling: DDPM's pad-(0, 1) then stride-2 conv or 2x2 average, or FIR (+ optional fused conv)."""

    conv: Conv2d | FIRConv2d | None
    fir: bool = eqx.field(static=True)
    fir_kernel: tuple[float, ...] = eqx.field(static=True)

    def __init__(
        self, in_ch: int, out_ch: int | None = None, *, with_conv=False, fir=False, fir_kernel=(1.0, 3.0, 3.0, 1.0), key
    ):
        out_ch = out_ch or in_ch
        if not with_conv:
            if out_ch != in_ch:
                raise ValueError("Downsample without a conv cannot change the channel count")
            self.conv = None
        elif fir:
            self.conv = FIRConv2d(in_ch, out_ch, 3, down=True, fir_kernel=fir_kernel, key=key)
        else:
            # 'SAME' for a stride-2 conv in TF: pad one pixel at the bottom and right only.
            self.conv = conv3x3(in_ch, out_ch, stride=2, padding=((0, 1), (0, 1)), key=key)
        self.fir = bool(fir)
        self.fir_kernel = tuple(float(v) for v in fir_kernel)

    def __call__(self, x: Float[Array, "C H W"], temb=None, *, key=None) -> Array:
        if self.fir:
            return downsample_2d(x, self.fir_kernel) if self.conv is None else self.conv(x)
        if self.conv is not None:
            return self.conv(x)
        x = jnp.pad(x, ((0, 0), (0, 1), (0, 1)))
        summed = jax.lax.reduce_window(x, 0.0, jax.lax.add, (1, 2, 2), (1, 2, 2), "VALID")
        return summed / 4.0


class Combine(eqx.Module):
    """Progressive-input combiner: 1x1 conv of the pyramid image, then concatenated with or added to h."""

    conv: Conv2d
    method: str = eqx.field(static=True)

    def __init__(self, dim1: int, dim2: int, method: str = "cat", *, key):
        if method not in ("cat", "sum"):
            raise ValueError(f"progressive_combine={method!r} is not one of 'cat', 'sum'")
        self.conv = conv1x1(dim1, dim2, key=key)
        self.method = method

    def __call__(self, x: Float[Array, "c1 H W"], y: Float[Array, "c2 H W"]) -> Array:
        h = self.conv(x)
        return jnp.concatenate([h, y], axis=0) if self.method == "cat" else h + y


# ----------------------------------------------------------------------------- attention and residual blocks


class AttnBlock(eqx.Module):
    """Self-attention over the H*W pixels (score_sde's AttnBlockpp; DDPM's AttnBlock without rescaling).

    q, k, v and the output projection are NIN layers; the output projection uses `init_scale`.
    """

    norm: eqx.nn.GroupNorm
    q: NIN
    k: NIN
    v: NIN
    proj: NIN
    skip_rescale: bool = eqx.field(static=True)

    def __init__(self, channels: int, *, skip_rescale: bool = False, init_scale: float = 0.0, key):
        kq, kk, kv, ko = jr.split(key, 4)
        self.norm = group_norm(channels)
        self.q = NIN(channels, channels, key=kq)
        self.k = NIN(channels, channels, key=kk)
        self.v = NIN(channels, channels, key=kv)
        self.proj = NIN(channels, channels, init_scale=init_scale, key=ko)
        self.skip_rescale = skip_rescale

    def __call__(self, x: Float[Array, "C H W"], temb=None, *, key=None) -> Float[Array, "C H W"]:
        c, hgt, wid = x.shape
        h = self.norm(x)
        q = self.q(h).reshape(c, -1)
        k = self.k(h).reshape(c, -1)
        v = self.v(h).reshape(c, -1)
        w = jax.nn.softmax((q.T @ k) * (c**-0.5), axis=-1)  # (HW query, HW key)
        h = (v @ w.T).reshape(c, hgt, wid)
        return skip_add(x, self.proj(h), self.skip_rescale)


class ResnetBlockDDPM(eqx.Module):
    """DDPM residual block (score_sde's ResnetBlockDDPMpp; with skip_rescale=False, init_scale=0 it is DDPM's).

    GN -> act -> conv3x3 -> + Dense(act(temb)) -> GN -> act -> dropout -> conv3x3(init_scale);
    shortcut NIN (or conv3x3 if `conv_shortcut`) when the width changes.
    """

    norm0: eqx.nn.GroupNorm
    conv0: Conv2d
    dense: Dense | None
    norm1: eqx.nn.GroupNorm
    conv1: Conv2d
    shortcut: NIN | Conv2d | None
    dropout: float = eqx.field(static=True)
    skip_rescale: bool = eqx.field(static=True)
    act: str = eqx.field(static=True)

    def __init__(
        self,
        in_ch: int,
        out_ch: int | None = None,
        *,
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
        self.norm0 = group_norm(in_ch)
        self.conv0 = conv3x3(in_ch, out_ch, key=k0)
        self.dense = Dense(temb_dim, out_ch, key=k1) if temb_dim is not None else None
        self.norm1 = group_norm(out_ch)
        self.conv1 = conv3x3(out_ch, out_ch, init_scale=init_scale, key=k2)
        if in_ch == out_ch:
            self.shortcut = None
        elif conv_shortcut:
            self.shortcut = conv3x3(in_ch, out_ch, key=k3)
        else:
            self.shortcut = NIN(in_ch, out_ch, key=k3)
        self.dropout = float(dropout)
        self.skip_rescale = bool(skip_rescale)
        activation(act)  # reject unknown names now rather than at call time
        self.act = act

    def __call__(self, x: Float[Array, "cin H W"], temb=None, *, key=None) -> Float[Array, "cout H W"]:
        act = activation(self.act)
        h = self.conv0(act(self.norm0(x)))
        if temb is not None and self.dense is not None:
            h = h + self.dense(act(temb))[:, None, None]
        h = act(self.norm1(h))
        h = self.conv1(dropout(h, self.dropout, key))
        if self.shortcut is not None:
            x = self.shortcut(x)
        return skip_add(x, h, self.skip_rescale)


class ResnetBlockBigGAN(eqx.Module):
    """BigGAN residual block (score_sde's ResnetBlockBigGANpp), optionally resampling x2 up or /2 down.

    GN -> act -> [resample h and x] -> conv3x3 -> + Dense(act(temb)) -> GN -> act -> dropout ->
    conv3x3(init_scale); 1x1-conv shortcut when the width changes or the block resamples.
    """

    norm0: eqx.nn.GroupNorm
    conv0: Conv2d
    dense: Dense | None
    norm1: eqx.nn.GroupNorm
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
        temb_dim: int | None = None,
        up: bool = False,
        down: bool = False,
        dropout: float = 0.1,
        fir: bool = False,
        fir_kernel: Sequence[float | int] = (1.0, 3.0, 3.0, 1.0),
        skip_rescale: bool = True,
        init_scale: float = 0.0,
        act: str = "swish",
        key,
    ):
        if up and down:
            raise ValueError("ResnetBlockBigGAN: up and down are exclusive")
        out_ch = out_ch or in_ch
        k0, k1, k2, k3 = jr.split(key, 4)
        self.norm0 = group_norm(in_ch)
        self.conv0 = conv3x3(in_ch, out_ch, key=k0)
        self.dense = Dense(temb_dim, out_ch, key=k1) if temb_dim is not None else None
        self.norm1 = group_norm(out_ch)
        self.conv1 = conv3x3(out_ch, out_ch, init_scale=init_scale, key=k2)
        self.shortcut = conv1x1(in_ch, out_ch, key=k3) if (in_ch != out_ch or up or down) else None
        self.up, self.down = bool(up), bool(down)
        self.fir = bool(fir)
        self.fir_kernel = tuple(float(v) for v in fir_kernel)
        self.dropout = float(dropout)
        self.skip_rescale = bool(skip_rescale)
        activation(act)  # reject unknown names now rather than at call time
        self.act = act

    def _resample(self, x: Array) -> Array:
        if self.up:
            return upsample_2d(x, self.fir_kernel) if self.fir else naive_upsample_2d(x)
        if self.down:
            return downsample_2d(x, self.fir_kernel) if self.fir else naive_downsample_2d(x)
        return x

    def __call__(self, x: Float[Array, "cin H W"], temb=None, *, key=None) -> Float[Array, "cout Ho Wo"]:
        act = activation(self.act)
        h = self._resample(act(self.norm0(x)))
        x = self._resample(x)
        h = self.conv0(h)
        if temb is not None and self.dense is not None:
            h = h + self.dense(act(temb))[:, None, None]
        h = act(self.norm1(h))
        h = self.conv1(dropout(h, self.dropout, key))
        if self.shortcut is not None:
            x = self.shortcut(x)
        return skip_add(x, h, self.skip_rescale)
