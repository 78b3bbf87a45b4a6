"""Inception-v3 exactly as pytorch-fid's FID network (the 2015-12-05 TensorFlow graph), in equinox, NHWC.

Differences from torchvision's Inception-v3, all from the TF graph: 1008-way fc, no auxiliary head,
the 3x3 average pools of Mixed_5b-d, 6b-e and 7b exclude the zero padding (count_include_pad=False),
and Mixed_7c's pool branch is a 3x3 *max* pool. Every conv is conv (no bias) -> BatchNorm(eps=1e-3) -> ReLU.

Attribute paths equal the PyTorch state_dict names (`Mixed_5b.branch1x1.conv.weight`, `fc.bias`, ...),
so loading weights is a name-for-name copy (conv kernels transposed OIHW -> HWIO). The network is
unbatched (one HWC image) and vmapped, as every network in the library; convolutions run channel-last,
which XLA:CPU executes much faster than NCHW.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Float

from .._typing import Key

FID_SIZE = 299
POOL3_DIM = 2048
NUM_LOGITS = 1008
BN_EPS = 1e-3


class Conv(eqx.Module):
    """Bias-free 2-D convolution; `weight` is HWIO."""

    weight: Float[Array, "kh kw cin cout"]
    stride: int = eqx.field(static=True)
    padding: tuple[int, int] = eqx.field(static=True)

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int], stride: int, padding: tuple[int, int], *, key):
        fan_in = cin * kernel[0] * kernel[1]
        self.weight = jax.random.normal(key, (*kernel, cin, cout)) * math.sqrt(2.0 / fan_in)
        self.stride, self.padding = stride, padding

    def __call__(self, x: Float[Array, "h w c"]) -> Float[Array, "h2 w2 c2"]:
        pad = ((self.padding[0], self.padding[0]), (self.padding[1], self.padding[1]))
        y = lax.conv_general_dilated(
            x[None], self.weight, (self.stride, self.stride), pad, dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        return y[0]


class BatchNorm(eqx.Module):
    """Inference-mode batch norm with the running statistics (eps = 1e-3 as in the TF graph)."""

    weight: Float[Array, " c"]
    bias: Float[Array, " c"]
    running_mean: Float[Array, " c"]
    running_var: Float[Array, " c"]

    def __init__(self, c: int):
        self.weight, self.bias = jnp.ones(c), jnp.zeros(c)
        self.running_mean, self.running_var = jnp.zeros(c), jnp.ones(c)

    def __call__(self, x: Float[Array, "h w c"]) -> Float[Array, "h w c"]:
        scale = self.weight * lax.rsqrt(self.running_var + BN_EPS)
        return (x - self.running_mean) * scale + self.bias


class BasicConv2d(eqx.Module):
    """conv -> batch norm -> ReLU (torchvision's BasicConv2d)."""

    conv: Conv
    bn: BatchNorm

    def __init__(self, cin: int, cout: int, kernel=1, *, stride: int = 1, padding=0, key):
        kernel = (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)
        padding = (padding, padding) if isinstance(padding, int) else tuple(padding)
        self.conv = Conv(cin, cout, kernel, stride, padding, key=key)
        self.bn = BatchNorm(cout)

    def __call__(self, x: Float[Array, "h w c"]) -> Float[Array, "h2 w2 c2"]:
        return jax.nn.relu(self.bn(self.conv(x)))


# ---- pooling (HWC) ----------------------------------------------------------------------
def max_pool(x: Float[Array, "h w c"], *, stride: int, padding: int = 0) -> Float[Array, "h2 w2 c"]:
    """3x3 max pool; padded cells never win (padded with -inf, as PyTorch does)."""
    pad = ((padding, padding), (padding, padding), (0, 0))
    return lax.reduce_window(x, -jnp.inf, lax.max, (3, 3, 1), (stride, stride, 1), pad)


def avg_pool_exclude_pad(x: Float[Array, "h w c"]) -> Float[Array, "h w c"]:
    """3x3 stride-1 average pool over the in-image cells only (TF 'SAME'; count_include_pad=False)."""
    pad = ((1, 1), (1, 1), (0, 0))
    total = lax.reduce_window(x, 0.0, lax.add, (3, 3, 1), (1, 1, 1), pad)
    count = lax.reduce_window(jnp.ones(x.shape[:2] + (1,), x.dtype), 0.0, lax.add, (3, 3, 1), (1, 1, 1), pad)
    return total / count


# ---- Inception blocks -------------------------------------------------------------------
class InceptionA(eqx.Module):
    """Mixed_5b/5c/5d: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool(excl. pad)-1x1."""

    branch1x1: BasicConv2d
    branch5x5_1: BasicConv2d
    branch5x5_2: BasicConv2d
    branch3x3dbl_1: BasicConv2d
    branch3x3dbl_2: BasicConv2d
    branch3x3dbl_3: BasicConv2d
    branch_pool: BasicConv2d

    def __init__(self, cin: int, pool_features: int, *, key):
        k = jax.random.split(key, 7)
        self.branch1x1 = BasicConv2d(cin, 64, 1, key=k[0])
        self.branch5x5_1 = BasicConv2d(cin, 48, 1, key=k[1])
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2, key=k[2])
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1, key=k[3])
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1, key=k[4])
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1, key=k[5])
        self.branch_pool = BasicConv2d(cin, pool_features, 1, key=k[6])

    def __call__(self, x: Float[Array, "h w c"]) -> Float[Array, "h w c2"]:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(avg_pool_exclude_pad(x))
        return jnp.concatenate([self.branch1x1(x), b5, b3, bp], axis=-1)


class InceptionB(eqx.Module):
    """Mixed_6a (grid reduction 35 -> 17): 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2."""

    branch3x3: BasicConv2d
    branch3x3dbl_1: BasicConv2d
    branch3x3dbl_2: BasicConv2d
    branch3x3dbl_3: BasicConv2d

    def __init__(self, cin: int, *, key):
        k = jax.random.split(key, 4)
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2, key=k[0])
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1, key=k[1])
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1, key=k[2])
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2, key=k[3])

    def __call__(self, x: Float[Array, "h w c"]) -> Float[Array, "h2 w2 c2"]:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return jnp.concatenate([self.branch3x3(x), b3, max_pool(x, stride=2)], axis=-1)


class InceptionC(eqx.Module):
    """Mixed_6b-6e: 1x1 | 1x1-1x7-7x1 | 1x1-7x1-1x7-7x1-1x7 | avgpool(excl. pad)-1x1."""

    branch1x1: BasicConv2d
    branch7x7_1: BasicConv2d
    branch7x7_2: BasicConv2d
    branch7x7_3: BasicConv2d
    branch7x7dbl_1: BasicConv2d
    branch7x7dbl_2: BasicConv2d
    branch7x7dbl_3: BasicConv2d
    branch7x7dbl_4: BasicConv2d
    branch7x7dbl_5: BasicConv2d
    branch_pool: BasicConv2d

    def __init__(self, cin: int, c7: int, *, key):
        k = jax.random.split(key, 10)
        row, col = dict(kernel=(1, 7), padding=(0, 3)), dict(kernel=(7, 1), padding=(3, 0))
        self.branch1x1 = BasicConv2d(cin, 192, 1, key=k[0])
        self.branch7x7_1 = BasicConv2d(cin, c7, 1, key=k[1])
        self.branch7x7_2 = BasicConv2d(c7, c7, **row, key=k[2])
        self.branch7x7_3 = BasicConv2d(c7, 192, **col, key=k[3])
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1, key=k[4])
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, **col, key=k[5])
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, **row, key=k[6])
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, **col, key=k[7])
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, **row, key=k[8])
        self.branch_pool = BasicConv2d(cin, 192, 1, key=k[9])

    def __call__(self, x: Float[Array, "h w c"]) -> Float[Array, "h w c2"]:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4):
            bd = layer(bd)
        bd = self.branch7x7dbl_5(bd)
        bp = self.branch_pool(avg_pool_exclude_pad(x))
        return jnp.concatenate([self.branch1x1(x), b7, bd, bp], axis=-1)


class InceptionD(eqx.Module):
    """Mixed_7a (grid reduction 17 -> 8): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2."""

    branch3x3_1: BasicConv2d
    branch3x3_2: BasicConv2d
    branch7x7x3_1: BasicConv2d
    branch7x7x3_2: BasicConv2d
    branch7x7x3_3: BasicConv2d
    branch7x7x3_4: BasicConv2d

    def __init__(self, cin: int, *, key):
        k = jax.random.split(key, 6)
        self.branch3x3_1 = BasicConv2d(cin, 192, 1, key=k[0])
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2, key=k[1])
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1, key=k[2])
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3), key=k[3])
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0), key=k[4])
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2, key=k[5])

    def __call__(self, x: Float[Array, "h w c"]) -> Float[Array, "h2 w2 c2"]:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return jnp.concatenate([b3, b7, max_pool(x, stride=2)], axis=-1)


class InceptionE(eqx.Module):
    """Mixed_7b / 7c: 1x1 | 1x1-(1x3, 3x1) | 1x1-3x3-(1x3, 3x1) | pool-1x1.

    The pool is the 3x3 average excluding padding in Mixed_7b and a 3x3 max pool in Mixed_7c
    (pytorch-fid's FIDInceptionE_1 / FIDInceptionE_2).
    """

    branch1x1: BasicConv2d
    branch3x3_1: BasicConv2d
    branch3x3_2a: BasicConv2d
    branch3x3_2b: BasicConv2d
    branch3x3dbl_1: BasicConv2d
    branch3x3dbl_2: BasicConv2d
    branch3x3dbl_3a: BasicConv2d
    branch3x3dbl_3b: BasicConv2d
    branch_pool: BasicConv2d
    max_pool: bool = eqx.field(static=True)

    def __init__(self, cin: int, *, max_pool: bool, key):
        k = jax.random.split(key, 9)
        row, col = dict(kernel=(1, 3), padding=(0, 1)), dict(kernel=(3, 1), padding=(1, 0))
        self.branch1x1 = BasicConv2d(cin, 320, 1, key=k[0])
        self.branch3x3_1 = BasicConv2d(cin, 384, 1, key=k[1])
        self.branch3x3_2a = BasicConv2d(384, 384, **row, key=k[2])
        self.branch3x3_2b = BasicConv2d(384, 384, **col, key=k[3])
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1, key=k[4])
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1, key=k[5])
        self.branch3x3dbl_3a = BasicConv2d(384, 384, **row, key=k[6])
        self.branch3x3dbl_3b = BasicConv2d(384, 384, **col, key=k[7])
        self.branch_pool = BasicConv2d(cin, 192, 1, key=k[8])
        self.max_pool = max_pool

    def __call__(self, x: Float[Array, "h w c"]) -> Float[Array, "h w c2"]:
        b3 = self.branch3x3_1(x)
        b3 = jnp.concatenate([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], axis=-1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = jnp.concatenate([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], axis=-1)
        pooled = max_pool(x, stride=1, padding=1) if self.max_pool else avg_pool_exclude_pad(x)
        return jnp.concatenate([self.branch1x1(x), b3, bd, self.branch_pool(pooled)], axis=-1)


class Linear(eqx.Module):
    """y = W x + b with PyTorch's (out, in) weight layout."""

    weight: Float[Array, "cout cin"]
    bias: Float[Array, " cout"]

    def __init__(self, cin: int, cout: int, *, key):
        self.weight = jax.random.normal(key, (cout, cin)) / math.sqrt(cin)
        self.bias = jnp.zeros(cout)

    def __call__(self, x: Float[Array, " cin"]) -> Float[Array, " cout"]:
        return self.weight @ x + self.bias


class InceptionV3(eqx.Module):
    """pytorch-fid's FID Inception-v3 on one image already resized and scaled to [-1, 1] (HWC, 3 channels).

    Returns (pool3, logits): the 2048-d global average pool (FID's features) and the 1008 fc logits.
    Any spatial size from 75x75 up runs; FID/IS/KID are defined at 299x299 (see `preprocess`).
    The key gives He-normal convs and identity batch norms (eager construction draws ~94 random arrays
    and takes tens of seconds on a small CPU); real use loads pytorch-fid's weights with `load_inception`.
    """

    Conv2d_1a_3x3: BasicConv2d
    Conv2d_2a_3x3: BasicConv2d
    Conv2d_2b_3x3: BasicConv2d
    Conv2d_3b_1x1: BasicConv2d
    Conv2d_4a_3x3: BasicConv2d
    Mixed_5b: InceptionA
    Mixed_5c: InceptionA
    Mixed_5d: InceptionA
    Mixed_6a: InceptionB
    Mixed_6b: InceptionC
    Mixed_6c: InceptionC
    Mixed_6d: InceptionC
    Mixed_6e: InceptionC
    Mixed_7a: InceptionD
    Mixed_7b: InceptionE
    Mixed_7c: InceptionE
    fc: Linear

    def __init__(self, *, key: Key):
        k = jax.random.split(key, 17)
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2, key=k[0])
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3, key=k[1])
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1, key=k[2])
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1, key=k[3])
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3, key=k[4])
        self.Mixed_5b = InceptionA(192, 32, key=k[5])
        self.Mixed_5c = InceptionA(256, 64, key=k[6])
        self.Mixed_5d = InceptionA(288, 64, key=k[7])
        self.Mixed_6a = InceptionB(288, key=k[8])
        self.Mixed_6b = InceptionC(768, 128, key=k[9])
        self.Mixed_6c = InceptionC(768, 160, key=k[10])
        self.Mixed_6d = InceptionC(768, 160, key=k[11])
        self.Mixed_6e = InceptionC(768, 192, key=k[12])
        self.Mixed_7a = InceptionD(768, key=k[13])
        self.Mixed_7b = InceptionE(1280, max_pool=False, key=k[14])
        self.Mixed_7c = InceptionE(2048, max_pool=True, key=k[15])
        self.fc = Linear(POOL3_DIM, NUM_LOGITS, key=k[16])

    def __call__(self, x: Float[Array, "h w 3"]) -> tuple[Float[Array, " 2048"], Float[Array, " 1008"]]:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = max_pool(x, stride=2)
        x = max_pool(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c):
            x = block(x)
        for block in (self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        pool3 = jnp.mean(x, axis=(0, 1))
        return pool3, self.fc(pool3)


def preprocess(images: Float[Array, " batch h w c"], *, size: int = FID_SIZE) -> Float[Array, " batch s s 3"]:
    """Images in [0, 1] (NHWC, 1 or 3 channels) -> what the network expects, as pytorch-fid does it.

    Bilinear resize to size x size with half-pixel centres and no anti-aliasing (F.interpolate,
    align_corners=False), then 2 x - 1. Grey images are repeated to 3 channels. FID uses size=299;
    smaller sizes (>= 75) exist only to keep tests fast.
    """
    if images.shape[-1] == 1:
        images = jnp.repeat(images, 3, axis=-1)
    if images.shape[-1] != 3:
        raise ValueError(f"images must have 1 or 3 channels (NHWC), got shape {images.shape}")
    if size < 75:
        raise ValueError(f"size={size}: Inception-v3 needs inputs of at least 75x75")
    x = jax.image.resize(images, (images.shape[0], size, size, 3), "bilinear", antialias=False)
    return 2.0 * x - 1.0
