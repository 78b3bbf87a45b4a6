"""NCSN v1's score network (Song & Ermon 2019): ermongroup/ncsn's `CondRefineNetDilated`.

Proven equal to the reference code on its own random weights (tests/interop/). A dilated RefineNet
(`_refinenet_blocks`) whose every normalisation is ConditionalInstanceNorm++ on the noise level.
The reference conditions on the integer level index; here the network takes c = sigma and uses the
nearest rung of the geometric ladder sigma_i = geomspace(sigma_max, sigma_min, num_scales) in log
space, i = clip(round((log sigma_max - log c) / (log sigma_max - log sigma_min) (L - 1)), 0, L - 1),
so c = sigma_i gives exactly level i (c above sigma_max: level 0; below sigma_min or c <= 0: the last).
Use it with conditioning='sigma', parameterization='score' and the same ladder in the NCSN objective
and annealed Langevin. The output is not divided by sigma (as in the reference). Input x is data in
[0, 1], mapped to 2x - 1 inside like the reference, unless `centered=True`. Not class-conditional.
"""

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, Real

from ._refinenet_blocks import RefineNetBody
from ._refinenet_checks import check_call, check_common, check_ladder


class CondRefineNetDilated(eqx.Module):
    """NCSN v1: dilated RefineNet with conditional InstanceNorm++ on the nearest noise level of c = sigma."""

    body: RefineNetBody
    num_channels: int = eqx.field(static=True)
    image_size: int = eqx.field(static=True)
    ngf: int = eqx.field(static=True)
    num_scales: int = eqx.field(static=True)
    sigma_max: float = eqx.field(static=True)
    sigma_min: float = eqx.field(static=True)
    nonlinearity: str = eqx.field(static=True)
    centered: bool = eqx.field(static=True)

    def __init__(
        self,
        num_channels: int,
        image_size: int,
        *,
        ngf: int = 128,
        num_scales: int = 10,
        sigma_max: float = 1.0,
        sigma_min: float = 0.01,
        nonlinearity: str = "elu",
        centered: bool = False,
        key,
    ):
        self.num_channels, self.image_size, self.ngf = num_channels, image_size, ngf
        self.num_scales, self.sigma_max, self.sigma_min = num_scales, sigma_max, sigma_min
        self.nonlinearity, self.centered = nonlinearity, centered
        self.__check_init__()
        self.num_channels, self.image_size, self.ngf = int(num_channels), int(image_size), int(ngf)
        self.num_scales, self.sigma_max, self.sigma_min = int(num_scales), float(sigma_max), float(sigma_min)
        self.body = RefineNetBody(self.num_channels, self.ngf, num_levels=self.num_scales, act=nonlinearity, key=key)

    def __check_init__(self):
        check_common(self.num_channels, self.image_size, self.ngf, self.nonlinearity, self.centered)
        check_ladder(self.num_scales, self.sigma_max, self.sigma_min)

    def sigmas(self) -> np.ndarray:
        """The noise ladder sigma_0 > ... > sigma_{L-1} the levels stand for."""
        return np.geomspace(self.sigma_max, self.sigma_min, self.num_scales)

    def level_index(self, c: Real[ArrayLike, ""]) -> Int[Array, ""]:
        """Nearest level (in log sigma) of the noise level c; c <= 0 gives the last (smallest) level."""
        if self.num_scales == 1:
            return jnp.zeros((), jnp.int32)
        c = jnp.asarray(c, jnp.float32)
        log_c = jnp.log(jnp.maximum(c, jnp.finfo(jnp.float32).tiny))
        hi, lo = math.log(self.sigma_max), math.log(self.sigma_min)
        pos = (hi - log_c) / (hi - lo) * (self.num_scales - 1)
        return jnp.clip(jnp.round(pos), 0, self.num_scales - 1).astype(jnp.int32)

    def __call__(
        self, x: Float[Array, "C H W"], c: Real[ArrayLike, ""], *, key=None, label=None
    ) -> Float[Array, "C H W"]:
        check_call(self, x, label)
        h = x if self.centered else 2 * x - 1
        return self.body(h, self.level_index(c))
