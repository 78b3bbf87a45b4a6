"""Noise for the samplers from one key or from one key per sample.

With a batch of keys (shape (batch,)), sample j's noise at step i is drawn from
fold_in(keys[j], i) alone, so a sample depends only on its own key whatever the batch it
is drawn in or the device it lands on: a sharded run with keys fold_in(seed, global index)
gives the same samples by index on 1 device, 8 devices or several processes.
"""

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Int

from .._typing import Key


def is_key_batch(key) -> bool:
    """True for a batch of keys: typed keys of shape (batch,) or raw uint32 keys of shape (batch, 2)."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key.ndim == 1
    return key.ndim == 2


def check_key(key, batch: int) -> None:
    """One clear error for a key that is neither one key nor one key per sample."""
    if is_key_batch(key) and key.shape[0] != batch:
        raise ValueError(f"key must be one PRNG key or one per sample ({batch},), got {key.shape[0]} keys")


def normal(key, i, shape: tuple[int, ...]) -> Array:
    """Standard normal noise of `shape` = (batch, *data) for step i, per sample when `key` is a batch."""
    if is_key_batch(key):
        return jax.vmap(lambda k: jr.normal(jr.fold_in(k, i), shape[1:]))(key)
    return jr.normal(jr.fold_in(key, i), shape)


def split(key, n: int) -> tuple:
    """n independent keys (or key batches, split sample by sample)."""
    if is_key_batch(key):
        parts = jax.vmap(lambda k: jr.split(k, n))(key)
        return tuple(parts[:, j] for j in range(n))
    return tuple(jr.split(key, n))


def sample_keys(key: Key, indices: Int[Array, " n"]) -> Array:
    """One key per sample, fold_in(key, index): the key of global sample i, whatever its batch or device."""
    return jax.vmap(lambda i: jr.fold_in(key, i))(jnp.asarray(indices))
