"""The one 2-D convolution (channels-last, unbatched), optionally fused with StyleGAN2's FIR up/downsampling.

Images inside the networks are (H, W, C): the layout XLA's CPU and TPU convolutions take, so
normalisations, concatenations and resampling between convolutions need no transposes. Weights stay
(out, in, kh, kw) as in PyTorch. `upfirdn2d` (upsample by zero insertion, pad or crop, FIR filter,
downsample) is `jax.lax.pad` and a sum of shifted, strided slices weighted by the kernel taps, which
XLA fuses into one loop; the resampling helpers and the fused convolutions follow StyleGAN2's
`upsample_2d`, `downsample_2d`, `upsample_conv_2d` and `conv_downsample_2d` as used by score_sde
(models/up_or_down_sampling.py).
"""

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float

from ._init import ddpm_init, torch_default_init, uniform, xavier_uniform

_DIMS = ("NHWC", "OIHW", "NHWC")
INITS = ("ddpm", "torch", "xavier", "zeros")
DEFAULT_FIR = (1.0, 3.0, 3.0, 1.0)


def setup_kernel(k: Sequence[float | int] | np.ndarray) -> np.ndarray:
    """A 1-D FIR kernel becomes its outer product; the 2-D kernel is normalised to sum to 1."""
    k = np.asarray(k, dtype=np.float32)
    if k.ndim == 1:
        k = np.outer(k, k)
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f"fir_kernel must be 1-D or square 2-D, got shape {k.shape}")
    return k / np.sum(k)


def upfirdn2d(x: Float[Array, "H W C"], k: np.ndarray, *, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)):
    """Upsample (zero insertion), pad (crop if negative), FIR filter, downsample; the same pad on both axes.

    Each pixel is followed by `up - 1` zeros, the padding is applied after that, the kernel is
    flipped (a true convolution), and every `down`-th output is kept: output pixel (i, j) is
    sum_ab kflip[a, b] x_padded[down i + a, down j + b], one strided slice per tap.
    """
    p0, p1 = pad
    cfg = ((p0, p1 + up - 1, up - 1), (p0, p1 + up - 1, up - 1), (0, 0, 0))
    xp = jax.lax.pad(x, jnp.zeros((), x.dtype), cfg)
    kf = np.asarray(k, np.float64)[::-1, ::-1]
    kh, kw = kf.shape
    ho, wo = (xp.shape[0] - kh) // down + 1, (xp.shape[1] - kw) // down + 1
    y = None
    for a in range(kh):
        for b in range(kw):
            if kf[a, b] == 0:
                continue
            tap = xp[a : a + down * (ho - 1) + 1 : down, b : b + down * (wo - 1) + 1 : down] * float(kf[a, b])
            y = tap if y is None else y + tap
    return jnp.zeros((ho, wo, x.shape[2]), x.dtype) if y is None else y


def upsample_2d(x: Float[Array, "H W C"], k: Sequence[float | int] = DEFAULT_FIR, factor: int = 2) -> Array:
    """FIR upsampling by `factor`; a constant image stays constant away from the border."""
    kk = setup_kernel(k) * factor**2
    p = kk.shape[0] - factor
    return upfirdn2d(x, kk, up=factor, pad=((p + 1) // 2 + factor - 1, p // 2))


def downsample_2d(x: Float[Array, "H W C"], k: Sequence[float | int] = DEFAULT_FIR, factor: int = 2) -> Array:
    """FIR downsampling by `factor`: filter with the normalised kernel, keep every factor-th pixel."""
    kk = setup_kernel(k)
    p = kk.shape[0] - factor
    return upfirdn2d(x, kk, down=factor, pad=((p + 1) // 2, p // 2))


def naive_upsample_2d(x: Float[Array, "H W C"], factor: int = 2) -> Array:
    """Nearest-neighbour upsampling."""
    h, w, c = x.shape
    return jnp.broadcast_to(x[:, None, :, None], (h, factor, w, factor, c)).reshape(h * factor, w * factor, c)


def naive_downsample_2d(x: Float[Array, "H W C"], factor: int = 2) -> Array:
    """Mean pooling over factor x factor blocks."""
    h, w, c = x.shape
    return x.reshape(h // factor, factor, w // factor, factor, c).mean(axis=(1, 3))


def _pairs(padding) -> tuple[tuple[int, int], tuple[int, int]]:
    if isinstance(padding, int | np.integer):
        return ((int(padding), int(padding)), (int(padding), int(padding)))
    (a, b), (c, d) = padding
    return ((int(a), int(b)), (int(c), int(d)))


class Conv2d(eqx.Module):
    """2-D convolution of one (H, W, C) image; weight (out, in, kh, kw) as in PyTorch.

    Plain: stride, dilation and explicit padding ((top, bottom), (left, right)) or an int.
    `up=True`: conv on the zero-stuffed image, then the FIR filter (gain 4), i.e. a x2 transposed
    conv followed by filtering (StyleGAN2's upsample_conv_2d); `down=True`: FIR filter, then a
    stride-2 conv (conv_downsample_2d). Padding is implied by the kernel sizes in both fused modes.

    Initialisations: 'ddpm' (score_sde's default_init with `scale`, zero bias), 'torch'
    (U(+-1/sqrt(fan_in)) for weight and bias), 'xavier' (Glorot over (out, in*kh*kw), zero bias),
    'zeros'.
    """

    weight: Float[Array, "cout cin kh kw"]
    bias: Float[Array, " cout"] | None
    stride: int = eqx.field(static=True)
    padding: tuple[tuple[int, int], tuple[int, int]] = eqx.field(static=True)
    dilation: int = eqx.field(static=True)
    up: bool = eqx.field(static=True)
    down: bool = eqx.field(static=True)
    fir_kernel: tuple[float, ...] = eqx.field(static=True)

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int = 3,
        *,
        stride: int = 1,
        padding: int | tuple[tuple[int, int], tuple[int, int]] | None = None,
        dilation: int = 1,
        up: bool = False,
        down: bool = False,
        fir_kernel: Sequence[float | int] = DEFAULT_FIR,
        use_bias: bool = True,
        init: str = "ddpm",
        scale: float = 1.0,
        key=None,
    ):
        shape = (int(out_ch), int(in_ch), int(kernel), int(kernel))
        if init == "ddpm":
            self.weight = ddpm_init(key, shape, scale)
        elif init == "torch":
            self.weight = torch_default_init(key, shape)
        elif init == "xavier":
            self.weight = xavier_uniform(key, shape)
        elif init == "zeros":
            self.weight = jnp.zeros(shape)
        else:
            raise ValueError(f"init={init!r} is not one of {', '.join(map(repr, INITS))}")
        if not use_bias:
            self.bias = None
        elif init == "torch":
            self.bias = uniform(jr.fold_in(key, 1), (shape[0],), 1.0 / math.sqrt(math.prod(shape[1:])))
        else:
            self.bias = jnp.zeros((shape[0],))
        self.stride, self.dilation = int(stride), int(dilation)
        self.padding = _pairs(dilation * (kernel // 2) if padding is None else padding)
        self.up, self.down = bool(up), bool(down)
        self.fir_kernel = tuple(float(v) for v in fir_kernel)

    def __check_init__(self):
        if self.up and self.down:
            raise ValueError("Conv2d: up and down are exclusive")
        kh, kw = self.weight.shape[2:]
        if (self.up or self.down) and (kh != kw or kh % 2 != 1):
            raise ValueError(f"Conv2d: a FIR up/down conv needs an odd square kernel, got {kh}x{kw}")
        if (self.up or self.down) and (self.stride != 1 or self.dilation != 1):
            raise ValueError("Conv2d: a FIR up/down conv takes no stride or dilation")
        if self.stride < 1 or self.dilation < 1:
            raise ValueError(f"Conv2d: stride and dilation must be >= 1, got {self.stride}, {self.dilation}")

    def __call__(self, x: Float[Array, "H W cin"]) -> Float[Array, "Ho Wo cout"]:
        w = self.weight
        if self.up or self.down:
            f, kw = 2, w.shape[-1]
            k = setup_kernel(self.fir_kernel)
            if self.up:
                # The x2 transposed conv as a plain conv on the explicitly zero-stuffed, padded image: the same
                # sums as lhs_dilation, whose gradient XLA:CPU runs about 2x slower (tools/bench_conv_grad.py).
                zero = jnp.zeros((), x.dtype)
                xz = jax.lax.pad(x, zero, ((kw - 1, kw - 1, f - 1), (kw - 1, kw - 1, f - 1), (0, 0, 0)))
                y = jax.lax.conv_general_dilated(xz[None], w, (1, 1), "VALID", dimension_numbers=_DIMS)[0]
                p = (k.shape[0] - f) - (kw - 1)
                y = upfirdn2d(y, k * f**2, pad=((p + 1) // 2 + f - 1, p // 2 + 1))
            else:
                p = (k.shape[0] - f) + (kw - 1)
                y = upfirdn2d(x, k, pad=((p + 1) // 2, p // 2))
                y = jax.lax.conv_general_dilated(y[None], w, (f, f), "VALID", dimension_numbers=_DIMS)[0]
        else:
            y = jax.lax.conv_general_dilated(
                x[None],
                w,
                (self.stride, self.stride),
                self.padding,
                rhs_dilation=(self.dilation, self.dilation),
                dimension_numbers=_DIMS,
            )[0]
        return y if self.bias is None else y + self.bias
