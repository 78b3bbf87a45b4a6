"""diffrax terms for batched SDEs whose diffusion is a scalar (or per-sample) function of t."""

from collections.abc import Callable

import jax.numpy as jnp
from diffrax import AbstractPath, AbstractTerm

from ..sde._abstract import _bcast


class ScalarDiffusionTerm(AbstractTerm):
    """g(t) dW with g a scalar function of time: the product is a broadcast multiply."""

    diffusion_fn: Callable
    control: AbstractPath

    def vf(self, t, y, args):
        return jnp.asarray(self.diffusion_fn(t), y.dtype)

    def contr(self, t0, t1, **kwargs):
        return self.control.evaluate(t0, t1, **kwargs)

    def prod(self, vf, control):
        return _bcast(vf, control) * control
