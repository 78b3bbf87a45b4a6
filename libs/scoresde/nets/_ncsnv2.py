"""NCSNv2's score network (Song & Ermon 2020): ermongroup/ncsnv2's and score_sde's `NCSNv2`.

Proven equal to both reference implementations on their own random weights (tests/interop/). A
dilated RefineNet (`_refinenet_blocks`) with unconditional InstanceNorm++, whose output is divided by
sigma = c (the reference divides by sigmas[label]); use it with conditioning='sigma' and
parameterization='score'; c must be the positive noise level. Input x is data in [0, 1], mapped to
2x - 1 inside like the reference, unless `centered=True`. Not class-conditional.
"""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Real

from ._refinenet_blocks import RefineNetBody
from ._refinenet_checks import check_call, check_common


class NCSNv2(eqx.Module):
    """NCSNv2: dilated RefineNet with unconditional InstanceNorm++, output divided by sigma = c."""

    body: RefineNetBody
    num_channels: int = eqx.field(static=True)
    image_size: int = eqx.field(static=True)
    ngf: int = eqx.field(static=True)
    nonlinearity: str = eqx.field(static=True)
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
        self.num_channels, self.image_size, self.ngf = num_channels, image_size, ngf
        self.nonlinearity, self.centered = nonlinearity, centered
        self.__check_init__()
        self.num_channels, self.image_size, self.ngf = int(num_channels), int(image_size), int(ngf)
        self.body = RefineNetBody(self.num_channels, self.ngf, num_levels=None, act=nonlinearity, key=key)

    def __check_init__(self):
        check_common(self.num_channels, self.image_size, self.ngf, self.nonlinearity, self.centered)

    def __call__(
        self, x: Float[Array, "C H W"], c: Real[ArrayLike, ""], *, key=None, label=None
    ) -> Float[Array, "C H W"]:
        check_call(self, x, label)
        h = x if self.centered else 2 * x - 1
        return self.body(h) / jnp.asarray(c, x.dtype)
