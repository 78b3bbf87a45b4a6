"""Activations by name, dropout that needs a key, and the (optionally rescaled) residual sum."""

import math

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array

ACTIVATIONS = ("swish", "silu", "relu", "elu", "lrelu", "gelu_tanh")


def activation(name: str):
    """swish (= SiLU), relu, elu, lrelu (slope 0.2) or gelu_tanh (tanh-approximated GELU)."""
    if name in ("swish", "silu"):
        return jax.nn.silu
    if name == "relu":
        return jax.nn.relu
    if name == "elu":
        return jax.nn.elu
    if name == "lrelu":
        return lambda x: jax.nn.leaky_relu(x, 0.2)
    if name == "gelu_tanh":
        return lambda x: jax.nn.gelu(x, approximate=True)
    raise ValueError(f"nonlinearity={name!r} is not one of {', '.join(map(repr, ACTIVATIONS))}")


def dropout(h: Array, rate: float, key) -> Array:
    """Inverted dropout; the identity when `key` is None or the rate is 0."""
    if key is None or rate == 0:
        return h
    keep = jr.bernoulli(key, 1.0 - rate, h.shape)
    return jnp.where(keep, h / (1.0 - rate), jnp.zeros((), h.dtype))


def skip_add(x: Array, h: Array, skip_rescale: bool) -> Array:
    """Residual sum, divided by sqrt(2) when `skip_rescale` (keeps the variance of two unit inputs)."""
    return (x + h) / math.sqrt(2.0) if skip_rescale else x + h
