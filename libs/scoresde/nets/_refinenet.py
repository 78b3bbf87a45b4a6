"""NCSN's RefineNet score networks: NCSN v1 (Song & Ermon 2019) and NCSNv2 (Song & Ermon 2020).

Unbatched, like every backbone here: `net(x, c, *, key=None, label=None)` with x of shape (C, H, W)
and a scalar noise condition c, returning an array shaped like x.

Layout (ermongroup/ncsn models/cond_refinenet_dilated.py `CondRefineNetDilated`; ermongroup/ncsnv2
models/ncsnv2.py `NCSNv2` with models/layers.py and models/normalization.py):

    h = conv3x3(2x - 1)                                     (x is taken as data in [0, 1] unless centered)
    layer1 = Res(ngf -> ngf), Res(ngf -> ngf)                                   H
    layer2 = Res(ngf -> 2ngf, down), Res(2ngf -> 2ngf)                          H/2
    layer3 = Res(2ngf -> 2ngf, 'down', dilation 2), Res(.., dilation 2)         H/2
    layer4 = Res(2ngf -> 2ngf, 'down', dilation 4), Res(.., dilation 4)         H/2
    ref1 = Refine([layer4]) -> 2ngf;  ref2 = Refine([layer3, ref1]) -> 2ngf
    ref3 = Refine([layer2, ref2]) -> ngf;  ref4 = Refine([layer1, ref3]) -> ngf (end: 3 output RCUs)
    out = conv3x3(act(norm(ref4)))

As in the reference, only the first 'down' block (no dilation) halves the resolution (conv then 2x2
mean pool, with a 1x1-conv + mean-pool shortcut); the dilated 'down' blocks keep the resolution and
widen the receptive field instead, so any even image size works (8, 16, 28, 32, ...). Residual-block
convolutions have biases; RCU and CRP convolutions have none; MSF convolutions have biases. MSF
upsamples bilinearly with align_corners=True (PyTorch F.interpolate in the reference).

NCSN v1 (`CondRefineNetDilated`, registry name "ncsn") conditions every normalisation on the noise
level: ConditionalInstanceNorm++ with a per-level embedding (gamma, alpha, beta), and its RefineBlocks
are the conditional ones (a norm before every RCU conv, every CRP pool and every MSF conv; CRP uses a
5x5 average pool). The reference conditions on the integer level index; our contract passes a scalar
c, and the rule here is: **c is sigma**, and the level is the nearest rung of the geometric ladder
sigma_i = geomspace(sigma_max, sigma_min, num_scales) in log space,
i = clip(round((log sigma_max - log c) / (log sigma_max - log sigma_min) (L - 1)), 0, L - 1)
(so c = sigma_i gives exactly level i; c above sigma_max gives level 0, c below sigma_min or c <= 0 the
last level). Use it with `conditioning="sigma"`, `parameterization="score"` and the same ladder in the
NCSN objective and annealed Langevin. The output is not divided by sigma (as in the reference).

NCSNv2 (`NCSNv2`, registry name "ncsnv2") uses unconditional InstanceNorm++ (learned alpha, gamma,
beta per channel), RefineBlocks without norms and a 5x5 max pool in CRP, and returns the network
output divided by sigma = c (the reference divides by sigmas[label]). Use it with
`conditioning="sigma"` and `parameterization="score"`; c must be the positive noise level.

InstanceNorm++ follows the PyTorch reference exactly: instance norm with the biased variance and
eps 1e-5, plus alpha times the channel means standardised across channels with the *unbiased*
variance (torch.var) and eps 1e-5; gamma, alpha ~ N(1, 0.02^2), beta = 0 at initialisation.
Convolutions use PyTorch's default initialisation (equinox's default: U(+-1/sqrt(fan_in)) for
weights and biases).

Deviations from the reference: the level is chosen from sigma = c as described above (the reference
takes an integer label); there is no class conditioning (`label` must be None); the reference's
`adjust_padding` for 28x28 images is dropped because it only touches blocks that do not use it
(dilated blocks ignore it), so 28x28 runs the same network; only 'InstanceNorm++' normalisation is
offered (the reference's default for both models). score_sde's JAX port differs from the PyTorch
originals in ref3 (2 nf instead of nf output features) and in bilinear resizing (half-pixel rather
than align_corners=True); we follow the PyTorch originals.
"""

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, Real

from .._checks import check_choice, check_positive_int
from ._registry import register, require

NORM_EPS = 1e-5
NORMALIZATIONS = ("InstanceNorm++",)
NONLINEARITIES = ("elu", "relu", "lrelu", "swish")


def _activation(name: str):
    if name == "elu":
        return jax.nn.elu
    if name == "relu":
        return jax.nn.relu
    if name == "lrelu":
        return lambda h: jax.nn.leaky_relu(h, 0.2)
    return jax.nn.silu


# ---------------------------------------------------------------------------------------
# initialisation and normalisation


def _split(key, n: int) -> list:
    """n independent keys. fold_in compiles once for every n, where an eager jr.split compiles per n."""
    return [jr.fold_in(key, i) for i in range(n)]


@functools.partial(jax.jit, static_argnums=1)
def _around_one(key, shape: tuple[int, ...]) -> Array:
    """N(1, 0.02^2) samples: the reference's initialisation of the InstanceNorm++ scales."""
    return 1.0 + 0.02 * jr.normal(key, shape)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _level_embedding(key, num_levels: int, num_features: int) -> Array:
    """(num_levels, 3 C) rows [gamma | alpha | beta]: gamma, alpha ~ N(1, 0.02^2), beta = 0."""
    scales = _around_one(key, (num_levels, 2 * num_features))
    return jnp.concatenate([scales, jnp.zeros((num_levels, num_features))], axis=1)


def _instance_norm_plus(x: Float[Array, " C H W"]) -> tuple[Float[Array, " C H W"], Float[Array, " C"]]:
    """Per-channel instance norm of x, and the channel means standardised across channels."""
    means = jnp.mean(x, axis=(1, 2))
    var = jnp.var(x, axis=(1, 2))
    h = (x - means[:, None, None]) / jnp.sqrt(var[:, None, None] + NORM_EPS)
    spread = jnp.var(means, ddof=1)  # torch.var: unbiased
    means_plus = (means - jnp.mean(means)) / jnp.sqrt(spread + NORM_EPS)
    return h, means_plus


def _check_norm_features(num_features: int) -> None:
    # the unbiased variance across channels needs at least two channels
    if num_features < 2:
        raise ValueError(f"InstanceNorm++ needs at least 2 channels, got {num_features}")


class InstanceNorm2dPlus(eqx.Module):
    """InstanceNorm++ (NCSNv2): gamma (IN(x) + alpha standardised-means) + beta, one value per channel."""

    alpha: Float[Array, " C"]
    gamma: Float[Array, " C"]
    beta: Float[Array, " C"]

    def __init__(self, num_features: int, *, key):
        _check_norm_features(num_features)
        self.alpha, self.gamma = _around_one(key, (2, num_features))
        self.beta = jnp.zeros((num_features,))

    def __call__(self, x: Float[Array, " C H W"], level: Int[Array, ""] | None = None) -> Float[Array, " C H W"]:
        h, means_plus = _instance_norm_plus(x)
        h = h + (self.alpha * means_plus)[:, None, None]
        return self.gamma[:, None, None] * h + self.beta[:, None, None]


class ConditionalInstanceNorm2dPlus(eqx.Module):
    """Conditional InstanceNorm++ (NCSN v1): gamma, alpha, beta looked up per noise level.

    `embed` has one row per level, [gamma | alpha | beta] of C values each; gamma and alpha start at
    N(1, 0.02^2), beta at 0 (as the reference's nn.Embedding initialisation).
    """

    embed: Float[Array, " L F"]

    def __init__(self, num_features: int, num_levels: int, *, key):
        _check_norm_features(num_features)
        self.embed = _level_embedding(key, num_levels, num_features)

    def __call__(self, x: Float[Array, " C H W"], level: Int[Array, ""] | None = None) -> Float[Array, " C H W"]:
        if level is None:
            raise ValueError("ConditionalInstanceNorm2dPlus needs a noise-level index")
        gamma, alpha, beta = jnp.split(self.embed[level], 3)
        h, means_plus = _instance_norm_plus(x)
        h = h + (alpha * means_plus)[:, None, None]
        return gamma[:, None, None] * h + beta[:, None, None]


Norm = InstanceNorm2dPlus | ConditionalInstanceNorm2dPlus


def _make_norm(num_features: int, num_levels: int | None, key) -> Norm:
    """Conditional InstanceNorm++ when the network is conditioned on `num_levels` levels, else plain."""
    if num_levels is None:
        return InstanceNorm2dPlus(num_features, key=key)
    return ConditionalInstanceNorm2dPlus(num_features, num_levels, key=key)


# ---------------------------------------------------------------------------------------
# small helpers


def _conv(cin: int, cout: int, key, *, kernel: int = 3, dilation: int = 1, bias: bool = True) -> eqx.nn.Conv2d:
    """'Same' convolution (stride 1, padding dilation (kernel // 2)) with PyTorch's default init."""
    return eqx.nn.Conv2d(cin, cout, kernel, padding=dilation * (kernel // 2), dilation=dilation, use_bias=bias, key=key)


def _mean_pool2(x: Float[Array, " C H W"]) -> Float[Array, " C H2 W2"]:
    """2x2 mean pool with stride 2 (the reference's ConvMeanPool average of four strided slices)."""
    c, h, w = x.shape
    return x.reshape(c, h // 2, 2, w // 2, 2).mean(axis=(2, 4))


def _pool5(x: Float[Array, " C H W"], kind: str) -> Float[Array, " C H W"]:
    """5x5 pool, stride 1, padding 2: max (padding ignored) or average (padding counted, /25)."""
    window, strides, padding = (1, 5, 5), (1, 1, 1), ((0, 0), (2, 2), (2, 2))
    if kind == "max":
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, window, strides, padding)
    return jax.lax.reduce_window(x, 0.0, jax.lax.add, window, strides, padding) / 25.0


def _interp_matrix(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) linear-interpolation weights with align_corners=True."""
    m = np.zeros((n_out, n_in), np.float32)
    if n_in == 1 or n_out == 1:
        m[:, 0] = 1.0
        return m
    src = np.arange(n_out) * (n_in - 1) / (n_out - 1)
    lo = np.clip(np.floor(src).astype(int), 0, n_in - 2)
    frac = src - lo
    rows = np.arange(n_out)
    np.add.at(m, (rows, lo), 1.0 - frac)
    np.add.at(m, (rows, lo + 1), frac)
    return m


def _resize_bilinear(x: Float[Array, " C H W"], shape: tuple[int, int]) -> Float[Array, " C H2 W2"]:
    """Bilinear resize with align_corners=True (PyTorch F.interpolate as used by the reference's MSF)."""
    if x.shape[1:] == tuple(shape):
        return x
    mh = jnp.asarray(_interp_matrix(shape[0], x.shape[1]), x.dtype)
    mw = jnp.asarray(_interp_matrix(shape[1], x.shape[2]), x.dtype)
    return jnp.einsum("oh,chw,pw->cop", mh, x, mw)


# ---------------------------------------------------------------------------------------
# blocks


class ResidualBlock(eqx.Module):
    """Pre-activation residual block: conv(act(norm(conv(act(norm(x)))))) + shortcut(x).

    resample='down' without dilation halves the resolution (3x3 conv then 2x2 mean pool, shortcut
    1x1 conv then mean pool); with dilation > 1 it keeps the resolution (dilated convs, dilated 3x3
    shortcut) like the reference. The norms are conditional when the network is (NCSN v1).
    """

    norm1: Norm
    conv1: eqx.nn.Conv2d
    norm2: Norm
    conv2: eqx.nn.Conv2d
    shortcut: eqx.nn.Conv2d | None
    pool: bool = eqx.field(static=True)
    act: str = eqx.field(static=True)

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        *,
        resample: str | None = None,
        dilation: int = 1,
        num_levels: int | None = None,
        act: str = "elu",
        key,
    ):
        if resample not in (None, "down"):
            raise ValueError(f"resample={resample!r} is not one of None, 'down'")
        k1, k2, k3, k4, k5 = _split(key, 5)
        down = resample == "down"
        mid = in_dim if down else out_dim
        self.norm1 = _make_norm(in_dim, num_levels, k1)
        self.conv1 = _conv(in_dim, mid, k2, dilation=dilation)
        self.norm2 = _make_norm(mid, num_levels, k3)
        self.conv2 = _conv(mid, out_dim, k4, dilation=dilation)
        self.pool = down and dilation == 1
        if self.pool:
            self.shortcut = _conv(in_dim, out_dim, k5, kernel=1)
        elif down or in_dim != out_dim:
            self.shortcut = _conv(in_dim, out_dim, k5, dilation=dilation, kernel=1 if dilation == 1 else 3)
        else:
            self.shortcut = None
        self.act = act

    def __call__(self, x: Float[Array, " C H W"], level: Int[Array, ""] | None = None) -> Float[Array, " D H2 W2"]:
        act = _activation(self.act)
        h = self.conv1(act(self.norm1(x, level)))
        h = self.conv2(act(self.norm2(h, level)))
        skip = x if self.shortcut is None else self.shortcut(x)
        if self.pool:
            h, skip = _mean_pool2(h), _mean_pool2(skip)
        return skip + h


class RCUBlock(eqx.Module):
    """Residual conv units: n_blocks times x += conv(act(norm(...conv(act(norm(x)))))) (n_stages convs).

    Convs have no bias; the norms are present only in the conditional (NCSN v1) version.
    """

    convs: tuple[eqx.nn.Conv2d, ...]
    norms: tuple[Norm, ...] | None
    n_blocks: int = eqx.field(static=True)
    n_stages: int = eqx.field(static=True)
    act: str = eqx.field(static=True)

    def __init__(self, features: int, n_blocks: int, n_stages: int, *, num_levels: int | None, act: str = "elu", key):
        n = n_blocks * n_stages
        kc, kn = _split(key, 2)
        self.convs = tuple(_conv(features, features, k, bias=False) for k in _split(kc, n))
        self.norms = None if num_levels is None else tuple(_make_norm(features, num_levels, k) for k in _split(kn, n))
        self.n_blocks, self.n_stages, self.act = n_blocks, n_stages, act

    def __call__(self, x: Float[Array, " C H W"], level: Int[Array, ""] | None = None) -> Float[Array, " C H W"]:
        act = _activation(self.act)
        i = 0
        for _ in range(self.n_blocks):
            residual = x
            for _ in range(self.n_stages):
                if self.norms is not None:
                    x = self.norms[i](x, level)
                x = self.convs[i](act(x))
                i += 1
            x = x + residual
        return x


class CRPBlock(eqx.Module):
    """Chained residual pooling: x = act(x); path = x; n_stages times path = conv(pool(norm(path))), x += path.

    5x5 max pool (NCSNv2) or 5x5 average pool with norms before it (NCSN v1's CondCRPBlock).
    """

    convs: tuple[eqx.nn.Conv2d, ...]
    norms: tuple[Norm, ...] | None
    pool: str = eqx.field(static=True)
    act: str = eqx.field(static=True)

    def __init__(self, features: int, n_stages: int, *, num_levels: int | None, act: str = "elu", key):
        kc, kn = _split(key, 2)
        self.convs = tuple(_conv(features, features, k, bias=False) for k in _split(kc, n_stages))
        self.norms = (
            None if num_levels is None else tuple(_make_norm(features, num_levels, k) for k in _split(kn, n_stages))
        )
        self.pool = "max" if num_levels is None else "avg"
        self.act = act

    def __call__(self, x: Float[Array, " C H W"], level: Int[Array, ""] | None = None) -> Float[Array, " C H W"]:
        x = _activation(self.act)(x)
        path = x
        for i, conv in enumerate(self.convs):
            if self.norms is not None:
                path = self.norms[i](path, level)
            path = conv(_pool5(path, self.pool))
            x = path + x
        return x


class MSFBlock(eqx.Module):
    """Multi-resolution fusion: sum_i resize(conv(norm(x_i))) at the resolution of the first input."""

    convs: tuple[eqx.nn.Conv2d, ...]
    norms: tuple[Norm, ...] | None

    def __init__(self, in_planes: tuple[int, ...], features: int, *, num_levels: int | None, key):
        kc, kn = _split(key, 2)
        self.convs = tuple(_conv(c, features, k) for c, k in zip(in_planes, _split(kc, len(in_planes)), strict=True))
        self.norms = (
            None
            if num_levels is None
            else tuple(_make_norm(c, num_levels, k) for c, k in zip(in_planes, _split(kn, len(in_planes)), strict=True))
        )

    def __call__(self, xs: tuple[Array, ...], level: Int[Array, ""] | None = None) -> Float[Array, " F H W"]:
        shape = xs[0].shape[1:]
        total = None
        for i, (conv, x) in enumerate(zip(self.convs, xs, strict=True)):
            h = x if self.norms is None else self.norms[i](x, level)
            h = _resize_bilinear(conv(h), shape)
            total = h if total is None else total + h
        return total


class RefineBlock(eqx.Module):
    """RefineNet block: adapt each input (2 RCUs of 2 convs), fuse (MSF, unless start), CRP, output RCUs.

    The output has `features` channels at the resolution of the first input; `end=True` gives 3 output
    RCUs instead of 1. Conditional (NCSN v1's CondRefineBlock) when `num_levels` is given.
    """

    adapt: tuple[RCUBlock, ...]
    msf: MSFBlock | None
    crp: CRPBlock
    out: RCUBlock

    def __init__(
        self,
        in_planes: tuple[int, ...],
        features: int,
        *,
        num_levels: int | None,
        act: str = "elu",
        start: bool = False,
        end: bool = False,
        key,
    ):
        if start != (len(in_planes) == 1):
            raise ValueError("a RefineBlock takes one input exactly when start=True")
        ka, km, kc, ko = _split(key, 4)
        self.adapt = tuple(
            RCUBlock(c, 2, 2, num_levels=num_levels, act=act, key=k)
            for c, k in zip(in_planes, _split(ka, len(in_planes)), strict=True)
        )
        self.msf = None if start else MSFBlock(in_planes, features, num_levels=num_levels, key=km)
        self.crp = CRPBlock(features, 2, num_levels=num_levels, act=act, key=kc)
        self.out = RCUBlock(features, 3 if end else 1, 2, num_levels=num_levels, act=act, key=ko)

    def __call__(self, xs: tuple[Array, ...], level: Int[Array, ""] | None = None) -> Float[Array, " F H W"]:
        hs = tuple(rcu(x, level) for rcu, x in zip(self.adapt, xs, strict=True))
        h = hs[0] if self.msf is None else self.msf(hs, level)
        return self.out(self.crp(h, level), level)


class _RefineNetBackbone(eqx.Module):
    """The shared dilated RefineNet body; conditional norms and blocks when `num_levels` is given."""

    begin_conv: eqx.nn.Conv2d
    res1: tuple[ResidualBlock, ResidualBlock]
    res2: tuple[ResidualBlock, ResidualBlock]
    res3: tuple[ResidualBlock, ResidualBlock]
    res4: tuple[ResidualBlock, ResidualBlock]
    refine1: RefineBlock
    refine2: RefineBlock
    refine3: RefineBlock
    refine4: RefineBlock
    norm: Norm
    end_conv: eqx.nn.Conv2d
    act: str = eqx.field(static=True)

    def __init__(self, num_channels: int, ngf: int, *, num_levels: int | None, act: str, key):
        keys = iter(_split(key, 15))
        f1, f2 = ngf, 2 * ngf

        def res(cin, cout, resample=None, dilation=1):
            return ResidualBlock(
                cin, cout, resample=resample, dilation=dilation, num_levels=num_levels, act=act, key=next(keys)
            )

        def refine(in_planes, features, **kw):
            return RefineBlock(in_planes, features, num_levels=num_levels, act=act, key=next(keys), **kw)

        self.begin_conv = _conv(num_channels, f1, next(keys))
        self.res1 = (res(f1, f1), res(f1, f1))
        self.res2 = (res(f1, f2, "down"), res(f2, f2))
        self.res3 = (res(f2, f2, "down", 2), res(f2, f2, None, 2))
        self.res4 = (res(f2, f2, "down", 4), res(f2, f2, None, 4))
        self.refine1 = refine((f2,), f2, start=True)
        self.refine2 = refine((f2, f2), f2)
        self.refine3 = refine((f2, f2), f1)
        self.refine4 = refine((f1, f1), f1, end=True)
        self.norm = _make_norm(f1, num_levels, next(keys))
        self.end_conv = _conv(f1, num_channels, next(keys))
        self.act = act

    def __call__(self, x: Float[Array, " C H W"], level: Int[Array, ""] | None = None) -> Float[Array, " C H W"]:
        h = self.begin_conv(x)
        layers = []
        for stage in (self.res1, self.res2, self.res3, self.res4):
            for block in stage:
                h = block(h, level)
            layers.append(h)
        layer1, layer2, layer3, layer4 = layers
        ref = self.refine1((layer4,), level)
        ref = self.refine2((layer3, ref), level)
        ref = self.refine3((layer2, ref), level)
        ref = self.refine4((layer1, ref), level)
        return self.end_conv(_activation(self.act)(self.norm(ref, level)))


def _check_call(net, x, label) -> None:
    if label is not None:
        raise ValueError(f"{type(net).__name__} is not class-conditional; got label={label!r}")
    if x.ndim != 3 or x.shape[0] != net.num_channels:
        raise ValueError(f"{type(net).__name__} expects x of shape ({net.num_channels}, H, W), got {x.shape}")
    if x.shape[1] % 2 or x.shape[2] % 2:
        raise ValueError(f"{type(net).__name__} needs even H and W (one 2x downsampling), got {x.shape[1:]}")


def _check_common(num_channels, image_size, ngf, nonlinearity, centered) -> None:
    check_positive_int("model.num_channels", num_channels)
    check_positive_int("model.image_size", image_size)
    if image_size % 2:
        raise ValueError(f"model.image_size must be even (the network halves it once), got {image_size}")
    check_positive_int("model.ngf", ngf)
    if ngf < 2:
        raise ValueError(f"model.ngf must be at least 2 (InstanceNorm++ needs two channels), got {ngf}")
    check_choice("model.nonlinearity", nonlinearity, NONLINEARITIES)
    if not isinstance(centered, bool):
        raise ValueError(f"model.centered must be a bool, got {centered!r}")


def _check_ladder(num_scales, sigma_max, sigma_min) -> None:
    check_positive_int("model.num_scales", num_scales)
    for name, value in (("model.sigma_min", sigma_min), ("model.sigma_max", sigma_max)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
            raise ValueError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(sigma_min) and sigma_min > 0):
        raise ValueError(f"model.sigma_min must be positive and finite, got {sigma_min}")
    if not math.isfinite(sigma_max) or not (sigma_max > sigma_min or (num_scales == 1 and sigma_max == sigma_min)):
        raise ValueError(f"model.sigma_max must be finite and exceed model.sigma_min={sigma_min}, got {sigma_max}")


# ---------------------------------------------------------------------------------------
# the two networks


class CondRefineNetDilated(eqx.Module):
    """NCSN v1's score network: dilated RefineNet with conditional InstanceNorm++ on the noise level.

    c is sigma; the level is the nearest rung, in log space, of the geometric ladder
    geomspace(sigma_max, sigma_min, num_scales) (see `level_index`). Input x is data in [0, 1]
    (mapped to 2x - 1 inside, like the reference) unless `centered=True`.
    """

    backbone: _RefineNetBackbone
    num_channels: int = eqx.field(static=True)
    image_size: int = eqx.field(static=True)
    ngf: int = eqx.field(static=True)
    num_scales: int = eqx.field(static=True)
    sigma_max: float = eqx.field(static=True)
    sigma_min: float = eqx.field(static=True)
    centered: bool = eqx.field(static=True)

    def __init__(
        self,
        num_channels: int,
        image_size: int,
        *,
        ngf: int = 128,
        num_scales: int = 10,
        sigma_max: float = 1.0,
        sigma_min: float = 0.01,
        nonlinearity: str = "elu",
        centered: bool = False,
        key,
    ):
        _check_common(num_channels, image_size, ngf, nonlinearity, centered)
        _check_ladder(num_scales, sigma_max, sigma_min)
        sigma_max, sigma_min = float(sigma_max), float(sigma_min)
        self.backbone = _RefineNetBackbone(num_channels, ngf, num_levels=num_scales, act=nonlinearity, key=key)
        self.num_channels, self.image_size, self.ngf = num_channels, image_size, ngf
        self.num_scales, self.sigma_max, self.sigma_min = num_scales, sigma_max, sigma_min
        self.centered = centered

    def sigmas(self) -> np.ndarray:
        """The noise ladder sigma_0 > ... > sigma_{L-1} the levels stand for."""
        return np.geomspace(self.sigma_max, self.sigma_min, self.num_scales)

    def level_index(self, c: Real[ArrayLike, ""]) -> Int[Array, ""]:
        """Nearest level (in log sigma) of the noise level c; c <= 0 gives the last (smallest) level."""
        if self.num_scales == 1:
            return jnp.zeros((), jnp.int32)
        c = jnp.asarray(c, jnp.float32)
        log_c = jnp.log(jnp.maximum(c, jnp.finfo(jnp.float32).tiny))
        hi, lo = math.log(self.sigma_max), math.log(self.sigma_min)
        pos = (hi - log_c) / (hi - lo) * (self.num_scales - 1)
        return jnp.clip(jnp.round(pos), 0, self.num_scales - 1).astype(jnp.int32)

    def __call__(
        self, x: Float[Array, " C H W"], c: Real[ArrayLike, ""], *, key=None, label=None
    ) -> Float[Array, " C H W"]:
        _check_call(self, x, label)
        h = x if self.centered else 2 * x - 1
        return self.backbone(h, self.level_index(c))


class NCSNv2(eqx.Module):
    """NCSNv2's score network: dilated RefineNet with unconditional InstanceNorm++, output divided by sigma = c.

    Input x is data in [0, 1] (mapped to 2x - 1 inside, like the reference) unless `centered=True`.
    """

    backbone: _RefineNetBackbone
    num_channels: int = eqx.field(static=True)
    image_size: int = eqx.field(static=True)
    ngf: int = eqx.field(static=True)
    centered: bool = eqx.field(static=True)

    def __init__(
        self,
        num_channels: int,
        image_size: int,
        *,
        ngf: int = 128,
        nonlinearity: str = "elu",
        centered: bool = False,
        key,
    ):
        _check_common(num_channels, image_size, ngf, nonlinearity, centered)
        self.backbone = _RefineNetBackbone(num_channels, ngf, num_levels=None, act=nonlinearity, key=key)
        self.num_channels, self.image_size, self.ngf = num_channels, image_size, ngf
        self.centered = centered

    def __call__(
        self, x: Float[Array, " C H W"], c: Real[ArrayLike, ""], *, key=None, label=None
    ) -> Float[Array, " C H W"]:
        _check_call(self, x, label)
        h = x if self.centered else 2 * x - 1
        return self.backbone(h) / jnp.asarray(c, x.dtype)


# ---------------------------------------------------------------------------------------
# registry


def _get(cfg, field, default=None):
    return cfg.get(field, default) if hasattr(cfg, "get") else getattr(cfg, field, default)


def _common_fields(cfg) -> dict:
    ngf, nf = _get(cfg, "ngf"), _get(cfg, "nf")
    if ngf is not None and nf is not None and ngf != nf:
        raise ValueError(f"model.ngf={ngf} and model.nf={nf} disagree; give one of them")
    if ngf is None:
        ngf = nf if nf is not None else require(cfg, "ngf")
    normalization = _get(cfg, "normalization", "InstanceNorm++")
    check_choice("model.normalization", normalization, NORMALIZATIONS)
    nonlinearity = _get(cfg, "nonlinearity", "elu")
    if isinstance(nonlinearity, str):
        nonlinearity = nonlinearity.lower()
    fields = dict(
        num_channels=require(cfg, "num_channels"),
        image_size=require(cfg, "image_size"),
        ngf=ngf,
        nonlinearity=nonlinearity,
        centered=_get(cfg, "centered", False),
    )
    _check_common(**fields)  # ValueErrors naming the field, before any constructor sees a bad type
    for name in ("num_channels", "image_size", "ngf"):
        fields[name] = int(fields[name])
    return fields


@register("ncsn")
def _build_ncsn(cfg, key):
    """NCSN v1 from a model config: image_size, num_channels, ngf (or nf), num_scales, sigma_max, sigma_min;
    optional normalization ('InstanceNorm++'), nonlinearity ('elu'), centered (False: x in [0, 1])."""
    fields = _common_fields(cfg)
    num_scales, sigma_max, sigma_min = (require(cfg, f) for f in ("num_scales", "sigma_max", "sigma_min"))
    _check_ladder(num_scales, sigma_max, sigma_min)
    return CondRefineNetDilated(
        fields.pop("num_channels"),
        fields.pop("image_size"),
        num_scales=int(num_scales),
        sigma_max=float(sigma_max),
        sigma_min=float(sigma_min),
        key=key,
        **fields,
    )


@register("ncsnv2")
def _build_ncsnv2(cfg, key):
    """NCSNv2 from a model config: image_size, num_channels, ngf (or nf); optional normalization
    ('InstanceNorm++'), nonlinearity ('elu'), centered (False: x in [0, 1]). The sigma ladder fields
    (num_scales, sigma_max, sigma_min) are for the objective and sampler; the network divides by c."""
    fields = _common_fields(cfg)
    return NCSNv2(fields.pop("num_channels"), fields.pop("image_size"), key=key, **fields)
