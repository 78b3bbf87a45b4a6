"""What a DGflow config turns into: data arrays, the networks (generator, discriminator, encoder, corrector)."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import ConfigDict

from scoresde import data, nets

DATASETS = ("toy2d", "digits", "cifar10")
KINDS = ("gan", "vae")
GAN_LOSSES = ("wgan_gp", "ns", "hinge")
RATIOS = ("discriminator", "corrector")
SPACES = ("latent", "data")


def data_shape(cfg) -> tuple[int, ...]:
    if cfg.data.name == "toy2d":
        return (2,)
    return (cfg.data.num_channels, cfg.data.image_size, cfg.data.image_size)


def load_examples(cfg, split: str) -> np.ndarray:
    """The split as float32 in model layout: (n, 2) points, or (n, C, H, W) images in [-1, 1]."""
    d = cfg.data
    if d.name not in DATASETS:
        raise ValueError(f"data.name={d.name!r} is not one of {', '.join(map(repr, DATASETS))}")
    if d.name == "toy2d":
        n = d.n_train if split == "train" else d.n_test
        return data.toy2d(d.toy, n, seed=cfg.seed + (0 if split == "train" else 1))
    img, _ = data.load_digits(split) if d.name == "digits" else data.load_cifar10(d.path, split)
    if img.shape[1] != d.image_size or img.shape[-1] != d.num_channels:
        raise ValueError(
            f"data.image_size={d.image_size} / data.num_channels={d.num_channels} do not match the data's "
            f"{img.shape[1]}x{img.shape[2]}x{img.shape[3]} images"
        )
    return data.scale(img, True).transpose(0, 3, 1, 2)


def load_labels(cfg, split: str) -> np.ndarray | None:
    if cfg.data.name == "digits":
        return data.load_digits(split)[1]
    if cfg.data.name == "cifar10":
        return data.load_cifar10(cfg.data.path, split)[1]
    return None


def net_config(cfg, which: str) -> ConfigDict:
    """The registry config of one network, completed with the shapes the data and latent size imply."""
    m = cfg.model
    base = {"generator": m.generator, "discriminator": m.discriminator, "encoder": m.encoder}.get(which)
    base = cfg.corrector.model if which == "corrector" else base
    if base is None:
        raise ValueError(f"unknown network {which!r}")
    out = ConfigDict(base.to_dict())
    shape = data_shape(cfg)
    if which == "generator":
        out.latent_dim = m.latent_dim
        out.in_dim = m.latent_dim
        out.out_shape = shape
    else:
        out.in_dim = math.prod(shape)
        out.out_shape = (2 * m.latent_dim,) if which == "encoder" else ()
    if cfg.data.name != "toy2d":
        out.image_size, out.num_channels = cfg.data.image_size, cfg.data.num_channels
    return out


def build(cfg, which: str, key):
    return nets.build(net_config(cfg, which), key)


def check_networks(cfg) -> None:
    """Build every network of the config abstractly and run it once: config errors surface cheaply here."""
    shape = data_shape(cfg)
    x = jax.ShapeDtypeStruct(shape, jnp.float32)
    z = jax.ShapeDtypeStruct((cfg.model.latent_dim,), jnp.float32)
    needed = ["generator", "encoder" if cfg.model.kind == "vae" else "discriminator"]
    if cfg.model.kind == "vae" or cfg.corrector.train or cfg.refine.ratio == "corrector":
        needed.append("corrector")
    for which in needed:
        section = "model." + which if which != "corrector" else "corrector.model"
        try:
            net = eqx.filter_eval_shape(build, cfg, which, jax.random.key(0))
            out = eqx.filter_eval_shape(lambda n, v: n(v), net, z if which == "generator" else x)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{section}: {str(e).splitlines()[0]}") from None
        want = {"generator": shape, "encoder": (2 * cfg.model.latent_dim,)}.get(which, ())
        if out.shape != want:
            raise ValueError(f"{section}.name={net_config(cfg, which).name!r} gives shape {out.shape}, not {want}")


class Batched(eqx.Module):
    """An unbatched network mapped over a leading batch axis; a Module, so jitted code takes it as an argument."""

    net: eqx.Module

    def __call__(self, x):
        return jax.vmap(self.net)(x)


def batched(net) -> Batched:
    return Batched(net)


class VAE(eqx.Module):
    """Encoder (x -> mean and log-variance of q(z|x)) and decoder (z -> mean of p(x|z))."""

    encoder: eqx.Module
    decoder: eqx.Module
    latent_dim: int = eqx.field(static=True)

    def encode(self, x):
        h = self.encoder(x)
        return h[: self.latent_dim], h[self.latent_dim :]

    def __call__(self, z):
        return self.decoder(z)


def build_model(cfg, key):
    """The GAN's (generator, discriminator) or the VAE."""
    k_g, k_d = jax.random.split(key)
    if cfg.model.kind == "vae":
        return VAE(build(cfg, "encoder", k_d), build(cfg, "generator", k_g), cfg.model.latent_dim)
    return build(cfg, "generator", k_g), build(cfg, "discriminator", k_d)
