"""Helpers shared by the samplers: argument checks, batched times, the initial state."""

import jax.numpy as jnp

from .._checks import check_positive_int, check_range
from .._typing import Key
from ..sde import AbstractSDE


def batch_times(t, batch: int):
    """A scalar time broadcast to one time per sample, the score-function contract."""
    return jnp.full((batch,), t)


def check_shape_arg(shape) -> None:
    if not isinstance(shape, tuple | list) or len(shape) < 2 or not all(isinstance(d, int) and d > 0 for d in shape):
        raise ValueError(f"shape must be (batch, *data) of positive ints, got {shape!r}")


def check_sampler_args(sde: AbstractSDE, shape: tuple[int, ...], n_steps: int | None, eps: float) -> None:
    check_shape_arg(shape)
    if n_steps is not None:
        check_positive_int("n_steps", n_steps)
    check_range("eps", eps, 0.0, sde.T, strict=True)


def initial_state(sde: AbstractSDE, key: Key, shape: tuple[int, ...], x_init):
    """x_T from the prior, or the caller's x_init (checked against shape)."""
    if x_init is None:
        return sde.prior_sample(key, tuple(shape))
    if tuple(x_init.shape) != tuple(shape):
        raise ValueError(f"x_init must have shape {tuple(shape)}, got {tuple(x_init.shape)}")
    return x_init
