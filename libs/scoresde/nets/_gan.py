"""GAN / VAE backbones: an MLP for low-dimensional data and DCGAN-like conv nets, with optional spectral norm.

Unlike the score networks these take no noise condition: `net(x) -> y` (unbatched, vmap over a batch).
Every layer acts on one example alone (no batch norm), so per-example gradients of a batched sum are
exact, which the discriminator gradient flows rely on.

Spectral normalisation (Miyato et al. 2018) is stateless here: each `SpectralNorm` keeps its power
iteration vector `u` as an array leaf that receives no gradient; `update_spectral_norms(tree)` advances
every `u` by one power iteration (call it after each optimiser step).
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float


def _normalize(v):
    return v / (jnp.linalg.norm(v) + 1e-12)


class SpectralNorm(eqx.Module):
    """A linear or conv layer whose weight is divided by its largest singular value (power iteration)."""

    layer: eqx.Module
    u: Float[Array, " out"]

    def __init__(self, layer: eqx.Module, *, key):
        self.layer = layer
        self.u = _normalize(jr.normal(key, (layer.weight.shape[0],)))

    def _matrix(self):
        w = self.layer.weight
        return w.reshape(w.shape[0], -1)

    def sigma(self) -> Float[Array, ""]:
        """The current estimate of the largest singular value (gradient flows through the weight only)."""
        mat = self._matrix()
        u = jax.lax.stop_gradient(self.u)
        v = jax.lax.stop_gradient(_normalize(mat.T @ u))
        u = jax.lax.stop_gradient(_normalize(mat @ v))
        return u @ mat @ v

    def __call__(self, x: Array) -> Array:
        layer = eqx.tree_at(lambda m: m.weight, self.layer, self.layer.weight / self.sigma())
        return layer(x)

    def power_iteration(self) -> "SpectralNorm":
        mat = jax.lax.stop_gradient(self._matrix())
        u = _normalize(mat @ _normalize(mat.T @ self.u))
        return eqx.tree_at(lambda m: m.u, self, u)


def update_spectral_norms(tree):
    """Advance the power iteration of every SpectralNorm in `tree` by one step."""
    is_sn = lambda m: isinstance(m, SpectralNorm)  # noqa: E731
    return jax.tree_util.tree_map(lambda m: m.power_iteration() if is_sn(m) else m, tree, is_leaf=is_sn)


def _maybe_sn(layer, spectral_norm: bool, key):
    return SpectralNorm(layer, key=key) if spectral_norm else layer


_ACTIVATIONS = {"relu": jax.nn.relu, "leaky_relu": lambda h: jax.nn.leaky_relu(h, 0.2), "silu": jax.nn.silu}


class GANMLP(eqx.Module):
    """Flattened input of size in_dim -> hidden layers -> output reshaped to out_shape (() for a scalar logit)."""

    layers: tuple
    out_shape: tuple[int, ...] = eqx.field(static=True)
    activation: str = eqx.field(static=True)

    def __init__(
        self,
        in_dim: int,
        out_shape: tuple[int, ...],
        *,
        width: int = 128,
        depth: int = 3,
        activation: str = "relu",
        spectral_norm: bool = False,
        key,
    ):
        if in_dim < 1 or width < 1 or depth < 1:
            raise ValueError(f"GANMLP needs in_dim, width, depth >= 1, got {in_dim}, {width}, {depth}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"model.activation={activation!r} is not one of {', '.join(map(repr, _ACTIVATIONS))}")
        sizes = [in_dim] + [width] * depth + [max(1, math.prod(out_shape))]
        keys = jr.split(key, 2 * (len(sizes) - 1))
        self.layers = tuple(
            _maybe_sn(eqx.nn.Linear(a, b, key=keys[2 * i]), spectral_norm, keys[2 * i + 1])
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
        )
        self.out_shape = tuple(out_shape)
        self.activation = activation

    def __call__(self, x: Float[Array, "*shape"]) -> Float[Array, "*out"]:
        h = x.reshape(-1)
        act = _ACTIVATIONS[self.activation]
        for layer in self.layers[:-1]:
            h = act(layer(h))
        return self.layers[-1](h).reshape(self.out_shape)


def _n_resample(image_size: int, n: int | None) -> int:
    n = (2 if image_size <= 16 else 3) if n is None else n
    if n < 1 or image_size % (2**n):
        raise ValueError(f"model.n_resample={n}: image_size {image_size} cannot be halved {n} times")
    return n


def _groups(c: int) -> int:
    return math.gcd(c, 8)


class DCGANGenerator(eqx.Module):
    """z (latent_dim,) -> (channels, size, size) in [-1, 1]: linear map, (2x up-conv, GroupNorm, ReLU)*, tanh."""

    inp: eqx.nn.Linear
    ups: tuple[eqx.nn.ConvTranspose2d, ...]
    norms: tuple[eqx.nn.GroupNorm, ...]
    out: eqx.nn.Conv2d
    base: int = eqx.field(static=True)
    base_channels: int = eqx.field(static=True)

    def __init__(
        self, latent_dim: int, *, image_size: int, channels: int, nf: int = 64, n_resample: int | None = None, key
    ):
        n = _n_resample(image_size, n_resample)
        keys = jr.split(key, n + 2)
        self.base, self.base_channels = image_size // 2**n, nf * 2**n
        self.inp = eqx.nn.Linear(latent_dim, self.base_channels * self.base**2, key=keys[0])
        chans = [nf * 2 ** (n - i) for i in range(n + 1)]
        self.ups = tuple(
            eqx.nn.ConvTranspose2d(a, b, 4, stride=2, padding=1, key=k)
            for a, b, k in zip(chans[:-1], chans[1:], keys[1:-1], strict=True)
        )
        self.norms = tuple(eqx.nn.GroupNorm(_groups(c), c) for c in chans)
        self.out = eqx.nn.Conv2d(nf, channels, 3, padding=1, key=keys[-1])

    def __call__(self, z: Float[Array, " latent"]) -> Float[Array, " C H W"]:
        h = self.inp(z).reshape(self.base_channels, self.base, self.base)
        h = jax.nn.relu(self.norms[0](h))
        for up, norm in zip(self.ups, self.norms[1:], strict=True):
            h = jax.nn.relu(norm(up(h)))
        return jnp.tanh(self.out(h))


class DCGANDiscriminator(eqx.Module):
    """(channels, size, size) -> out_shape: (3x3 conv, 4x4 stride-2 conv, leaky ReLU)*, linear head. No batch norm."""

    convs: tuple
    head: eqx.Module
    out_shape: tuple[int, ...] = eqx.field(static=True)

    def __init__(
        self,
        *,
        image_size: int,
        channels: int,
        nf: int = 64,
        out_shape: tuple[int, ...] = (),
        n_resample: int | None = None,
        spectral_norm: bool = False,
        key,
    ):
        n = _n_resample(image_size, n_resample)
        keys = jr.split(key, 4 * n + 2)
        convs, c_in = [], channels
        for i in range(n):
            c = nf * 2**i
            k = keys[4 * i : 4 * i + 4]
            convs.append(_maybe_sn(eqx.nn.Conv2d(c_in, c, 3, padding=1, key=k[0]), spectral_norm, k[1]))
            convs.append(_maybe_sn(eqx.nn.Conv2d(c, 2 * c, 4, stride=2, padding=1, key=k[2]), spectral_norm, k[3]))
            c_in = 2 * c
        self.convs = tuple(convs)
        side = image_size // 2**n
        self.head = _maybe_sn(
            eqx.nn.Linear(c_in * side * side, max(1, math.prod(out_shape)), key=keys[-2]), spectral_norm, keys[-1]
        )
        self.out_shape = tuple(out_shape)

    def __call__(self, x: Float[Array, " C H W"]) -> Float[Array, "*out"]:
        h = x
        for conv in self.convs:
            h = jax.nn.leaky_relu(conv(h), 0.2)
        return self.head(h.reshape(-1)).reshape(self.out_shape)
