"""Parameter initialisers: DDPM's variance scaling, PyTorch's default, Xavier, normal.

All draw from one cached program per kind: uniform and normal numbers come in fixed-size blocks,
so building a network compiles the random-number kernel once instead of once per parameter shape
(each threefry compile costs 0.3-1 s on CPU).
"""

import math
from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

_BLOCK = 1 << 16


@jax.jit
def _uniform_block(key):
    return jr.uniform(key, (_BLOCK,), minval=-1.0, maxval=1.0)


@jax.jit
def _normal_block(key):
    return jr.normal(key, (_BLOCK,))


@partial(jax.jit, static_argnums=2)
def _shape_blocks(blocks, scale, shape):
    return scale * jnp.concatenate(blocks)[: math.prod(shape)].reshape(shape)


def _draw(key, shape: tuple[int, ...], scale: float, block) -> Array:
    n = max(math.prod(shape), 1)
    blocks = [block(jr.fold_in(key, i)) for i in range(-(-n // _BLOCK))]
    return _shape_blocks(blocks, scale, shape)


def uniform(key, shape: Sequence[int], limit: float) -> Float[Array, "..."]:
    """U(-limit, limit) of the given shape."""
    return _draw(key, tuple(int(d) for d in shape), float(limit), _uniform_block)


def normal(key, shape: Sequence[int], std: float) -> Float[Array, "..."]:
    """N(0, std^2) of the given shape."""
    return _draw(key, tuple(int(d) for d in shape), float(std), _normal_block)


def ddpm_init(key, shape: Sequence[int], scale: float = 1.0, *, in_axis: int = 1, out_axis: int = 0) -> Array:
    """DDPM's initialiser: variance scaling, fan_avg, uniform; a scale of 0 means 1e-10.

    Fans are the receptive field size times the `in_axis` / `out_axis` extents (score_sde's port of
    `jax.nn.initializers.variance_scaling`); the weight layouts here are PyTorch's (out, in, ...).
    """
    scale = 1e-10 if scale == 0 else scale
    shape = tuple(int(d) for d in shape)
    receptive = math.prod(shape) / shape[in_axis] / shape[out_axis]
    fan_avg = 0.5 * (shape[in_axis] + shape[out_axis]) * receptive
    return uniform(key, shape, math.sqrt(3.0 * scale / fan_avg))


def torch_default_init(key, shape: Sequence[int]) -> Array:
    """PyTorch's default for Conv2d / Linear weights and biases: U(+-1/sqrt(fan_in)), fan_in = prod(shape[1:])."""
    shape = tuple(int(d) for d in shape)
    fan_in = math.prod(shape[1:]) if len(shape) > 1 else shape[0]
    return uniform(key, shape, 1.0 / math.sqrt(fan_in))


def xavier_uniform(key, shape: Sequence[int]) -> Array:
    """Glorot uniform over the matrix (shape[0], prod(shape[1:])): U(+-sqrt(6 / (fan_in + fan_out)))."""
    shape = tuple(int(d) for d in shape)
    fan_out, fan_in = shape[0], math.prod(shape[1:])
    return uniform(key, shape, math.sqrt(6.0 / (fan_in + fan_out)))
