"""The dilated RefineNet body shared by NCSN v1 and NCSNv2 (ermongroup/ncsn, ermongroup/ncsnv2).

    h = conv3x3(x)
    layer1 = Res(ngf -> ngf), Res(ngf -> ngf)                                   H
    layer2 = Res(ngf -> 2ngf, down), Res(2ngf -> 2ngf)                          H/2
    layer3 = Res(2ngf -> 2ngf, 'down', dilation 2), Res(.., dilation 2)         H/2
    layer4 = Res(2ngf -> 2ngf, 'down', dilation 4), Res(.., dilation 4)         H/2
    ref1 = Refine([layer4]) -> 2ngf;  ref2 = Refine([layer3, ref1]) -> 2ngf
    ref3 = Refine([layer2, ref2]) -> ngf;  ref4 = Refine([layer1, ref3]) -> ngf (end: 3 output RCUs)
    out = conv3x3(act(norm(ref4)))

Only the first 'down' block (no dilation) halves the resolution (conv then 2x2 mean pool, with a
1x1-conv + mean-pool shortcut); the dilated 'down' blocks keep the resolution. Residual-block and
MSF convolutions have biases, RCU and CRP convolutions none; all use PyTorch's default
initialisation. MSF resizes bilinearly with align_corners=True. When `num_levels` is given every
norm is the noise-conditional InstanceNorm++ and the RefineBlocks are NCSN v1's conditional ones (a
norm before every RCU conv, CRP pool and MSF conv; CRP uses a 5x5 average pool); otherwise NCSNv2's
(no norms in RefineBlocks, 5x5 max pool). The reference's `adjust_padding` (28x28 images) only
touches a dilated block, which ignores it, so 28x28 runs this same network. The body takes and returns
(C, H, W) images; inside, every layer works on channels-last (H, W, C).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, Int

from .layers import ConditionalInstanceNormPlus, Conv2d, InstanceNormPlus, activation, naive_downsample_2d

Norm = InstanceNormPlus | ConditionalInstanceNormPlus


def _keys(key, n: int) -> list:
    return [jr.fold_in(key, i) for i in range(n)]


def make_norm(channels: int, num_levels: int | None, key) -> Norm:
    """Conditional InstanceNorm++ when the network is conditioned on `num_levels` levels, else plain."""
    if num_levels is None:
        return InstanceNormPlus(channels, key=key)
    return ConditionalInstanceNormPlus(channels, num_levels, key=key)


def conv(cin: int, cout: int, key, *, kernel: int = 3, dilation: int = 1, bias: bool = True) -> Conv2d:
    """'Same' convolution (padding dilation * (kernel // 2)) with PyTorch's default initialisation."""
    return Conv2d(cin, cout, kernel, dilation=dilation, use_bias=bias, init="torch", key=key)


def mean_pool2(x: Float[Array, "H W C"]) -> Float[Array, "H2 W2 C"]:
    """2x2 mean pool, stride 2 (the reference's ConvMeanPool average of four strided slices)."""
    return naive_downsample_2d(x, 2)


def pool5(x: Float[Array, "H W C"], kind: str) -> Float[Array, "H W C"]:
    """5x5 pool, stride 1, padding 2: max (padding ignored) or average (padding counted, /25)."""
    window, strides, padding = (5, 5, 1), (1, 1, 1), ((2, 2), (2, 2), (0, 0))
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


def resize_bilinear(x: Float[Array, "H W C"], shape: tuple[int, int]) -> Float[Array, "H2 W2 C"]:
    """Bilinear resize with align_corners=True (PyTorch's F.interpolate as the reference's MSF uses it)."""
    if x.shape[:2] == tuple(shape):
        return x
    mh = jnp.asarray(_interp_matrix(shape[0], x.shape[0]), x.dtype)
    mw = jnp.asarray(_interp_matrix(shape[1], x.shape[1]), x.dtype)
    return jnp.einsum("oh,hwc,pw->opc", mh, x, mw)


class ResidualBlock(eqx.Module):
    """Pre-activation residual block: conv2(act(norm2(conv1(act(norm1(x)))))) + shortcut(x)."""

    norm1: Norm
    conv1: Conv2d
    norm2: Norm
    conv2: Conv2d
    shortcut: Conv2d | None
    pool: bool = eqx.field(static=True)
    act: str = eqx.field(static=True)

    def __init__(self, cin: int, cout: int, *, down: bool = False, dilation: int = 1, num_levels=None, act, key):
        k1, k2, k3, k4, k5 = _keys(key, 5)
        mid = cin if down else cout
        self.norm1 = make_norm(cin, num_levels, k1)
        self.conv1 = conv(cin, mid, k2, dilation=dilation)
        self.norm2 = make_norm(mid, num_levels, k3)
        self.conv2 = conv(mid, cout, k4, dilation=dilation)
        self.pool = down and dilation == 1
        if self.pool:
            self.shortcut = conv(cin, cout, k5, kernel=1)
        elif down or cin != cout:
            self.shortcut = conv(cin, cout, k5, dilation=dilation, kernel=1 if dilation == 1 else 3)
        else:
            self.shortcut = None
        self.act = act

    def __call__(self, x: Float[Array, "H W C"], level: Int[Array, ""] | None = None) -> Float[Array, "H2 W2 D"]:
        act = activation(self.act)
        h = self.conv2(act(self.norm2(self.conv1(act(self.norm1(x, level))), level)))
        skip = x if self.shortcut is None else self.shortcut(x)
        if self.pool:
            h, skip = mean_pool2(h), mean_pool2(skip)
        return skip + h


class RCUBlock(eqx.Module):
    """Residual conv units: n_blocks times x += conv(act([norm] ... conv(act([norm] x)))), n_stages convs."""

    convs: tuple[Conv2d, ...]
    norms: tuple[Norm, ...] | None
    n_blocks: int = eqx.field(static=True)
    n_stages: int = eqx.field(static=True)
    act: str = eqx.field(static=True)

    def __init__(self, features: int, n_blocks: int, n_stages: int, *, num_levels, act, key):
        n = n_blocks * n_stages
        kc, kn = _keys(key, 2)
        self.convs = tuple(conv(features, features, k, bias=False) for k in _keys(kc, n))
        self.norms = None if num_levels is None else tuple(make_norm(features, num_levels, k) for k in _keys(kn, n))
        self.n_blocks, self.n_stages, self.act = n_blocks, n_stages, act

    def __call__(self, x: Float[Array, "H W C"], level: Int[Array, ""] | None = None) -> Float[Array, "H W C"]:
        act = activation(self.act)
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
    """Chained residual pooling: x = act(x); path = x; per stage path = conv(pool([norm] path)), x += path."""

    convs: tuple[Conv2d, ...]
    norms: tuple[Norm, ...] | None
    pool: str = eqx.field(static=True)
    act: str = eqx.field(static=True)

    def __init__(self, features: int, n_stages: int, *, num_levels, act, key):
        kc, kn = _keys(key, 2)
        self.convs = tuple(conv(features, features, k, bias=False) for k in _keys(kc, n_stages))
        self.norms = (
            None if num_levels is None else tuple(make_norm(features, num_levels, k) for k in _keys(kn, n_stages))
        )
        self.pool = "max" if num_levels is None else "avg"
        self.act = act

    def __call__(self, x: Float[Array, "H W C"], level: Int[Array, ""] | None = None) -> Float[Array, "H W C"]:
        x = activation(self.act)(x)
        path = x
        for i, c in enumerate(self.convs):
            if self.norms is not None:
                path = self.norms[i](path, level)
            path = c(pool5(path, self.pool))
            x = path + x
        return x


class MSFBlock(eqx.Module):
    """Multi-resolution fusion: sum_i resize(conv([norm] x_i)) at the resolution of the first input."""

    convs: tuple[Conv2d, ...]
    norms: tuple[Norm, ...] | None

    def __init__(self, in_planes: tuple[int, ...], features: int, *, num_levels, key):
        kc, kn = _keys(key, 2)
        n = len(in_planes)
        self.convs = tuple(conv(c, features, k) for c, k in zip(in_planes, _keys(kc, n), strict=True))
        self.norms = None
        if num_levels is not None:
            self.norms = tuple(make_norm(c, num_levels, k) for c, k in zip(in_planes, _keys(kn, n), strict=True))

    def __call__(self, xs: tuple[Array, ...], level: Int[Array, ""] | None = None) -> Float[Array, "H W F"]:
        shape = xs[0].shape[:2]
        total = None
        for i, (c, x) in enumerate(zip(self.convs, xs, strict=True)):
            h = x if self.norms is None else self.norms[i](x, level)
            h = resize_bilinear(c(h), shape)
            total = h if total is None else total + h
        return total


class RefineBlock(eqx.Module):
    """RefineNet block: adapt each input (2 RCUs of 2 convs), fuse (MSF, unless one input), CRP, output RCUs
    (3 when `end`, else 1)."""

    adapt: tuple[RCUBlock, ...]
    msf: MSFBlock | None
    crp: CRPBlock
    out: RCUBlock

    def __init__(self, in_planes: tuple[int, ...], features: int, *, num_levels, act, end: bool = False, key):
        ka, km, kc, ko = _keys(key, 4)
        self.adapt = tuple(
            RCUBlock(c, 2, 2, num_levels=num_levels, act=act, key=k)
            for c, k in zip(in_planes, _keys(ka, len(in_planes)), strict=True)
        )
        self.msf = None if len(in_planes) == 1 else MSFBlock(in_planes, features, num_levels=num_levels, key=km)
        self.crp = CRPBlock(features, 2, num_levels=num_levels, act=act, key=kc)
        self.out = RCUBlock(features, 3 if end else 1, 2, num_levels=num_levels, act=act, key=ko)

    def __call__(self, xs: tuple[Array, ...], level: Int[Array, ""] | None = None) -> Float[Array, "H W F"]:
        hs = tuple(rcu(x, level) for rcu, x in zip(self.adapt, xs, strict=True))
        h = hs[0] if self.msf is None else self.msf(hs, level)
        return self.out(self.crp(h, level), level)


class RefineNetBody(eqx.Module):
    """The dilated RefineNet from the input conv to the output conv (see the module docstring)."""

    begin_conv: Conv2d
    res1: tuple[ResidualBlock, ResidualBlock]
    res2: tuple[ResidualBlock, ResidualBlock]
    res3: tuple[ResidualBlock, ResidualBlock]
    res4: tuple[ResidualBlock, ResidualBlock]
    refine1: RefineBlock
    refine2: RefineBlock
    refine3: RefineBlock
    refine4: RefineBlock
    norm: Norm
    end_conv: Conv2d
    act: str = eqx.field(static=True)

    def __init__(self, num_channels: int, ngf: int, *, num_levels: int | None, act: str, key):
        keys = iter(_keys(key, 15))
        f1, f2 = ngf, 2 * ngf

        def res(cin, cout, down=False, dilation=1):
            return ResidualBlock(
                cin, cout, down=down, dilation=dilation, num_levels=num_levels, act=act, key=next(keys)
            )

        def refine(in_planes, features, end=False):
            return RefineBlock(in_planes, features, num_levels=num_levels, act=act, end=end, key=next(keys))

        self.begin_conv = conv(num_channels, f1, next(keys))
        self.res1 = (res(f1, f1), res(f1, f1))
        self.res2 = (res(f1, f2, True), res(f2, f2))
        self.res3 = (res(f2, f2, True, 2), res(f2, f2, False, 2))
        self.res4 = (res(f2, f2, True, 4), res(f2, f2, False, 4))
        self.refine1 = refine((f2,), f2)
        self.refine2 = refine((f2, f2), f2)
        self.refine3 = refine((f2, f2), f1)
        self.refine4 = refine((f1, f1), f1, end=True)
        self.norm = make_norm(f1, num_levels, next(keys))
        self.end_conv = conv(f1, num_channels, next(keys))
        self.act = act

    def __call__(self, x: Float[Array, "C H W"], level: Int[Array, ""] | None = None) -> Float[Array, "C H W"]:
        h = self.begin_conv(x.transpose(1, 2, 0))  # the layers work on channels-last (H, W, C) images
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
        return self.end_conv(activation(self.act)(self.norm(ref, level))).transpose(2, 0, 1)
