"""The jaxtyping import hook is active: a wrongly shaped argument is caught at call time."""

import jax
import jax.numpy as jnp
import pytest

from scoresde import metrics, sde


def test_devices_forced_to_eight():
    assert jax.device_count() == 8


def test_shape_check_catches_mismatched_batch():
    s = sde.VPSDE()
    with pytest.raises(Exception, match="batch|shape|dimension|Type-check"):
        s.drift(jnp.ones((4, 2)), jnp.ones((3,)))


def test_metrics_reject_mismatched_dims(key):
    with pytest.raises(ValueError, match="same dimension"):
        metrics.sliced_wasserstein(jnp.ones((5, 2)), jnp.ones((5, 3)), key)
