"""NCSN's sigma ladder as a process: x_sigma = x_0 + sigma z, with time t = sigma (Song & Ermon 2019).

There is no SDE behind it, only the Gaussian marginals at the rungs sigma_1 > ... > sigma_L;
samplers that need no drift (annealed Langevin, EDM Heun, DPM-Solver++) run on it as on any
process, and samplers that do (reverse SDE, PC, probability flow) refuse it in one line.
"""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._checks import check_decreasing
from .._typing import Times
from ._abstract import AbstractProcess


def _as_rungs(sigmas) -> tuple[float, ...]:
    check_decreasing("sigmas", np.asarray(sigmas, np.float64))
    return tuple(float(s) for s in np.asarray(sigmas, np.float64))


class SigmaLadder(AbstractProcess):
    """Gaussian perturbations at decreasing noise levels `sigmas`; a(t) = 1, std(t) = t, T = sigmas[0]."""

    sigmas: tuple[float, ...] = eqx.field(static=True, converter=_as_rungs)

    @property
    def T(self) -> float:
        return self.sigmas[0]

    @property
    def rungs(self) -> Float[Array, " L"]:
        """The ladder as a float32 array, largest sigma first."""
        return jnp.asarray(self.sigmas, jnp.float32)

    def marginal(self, t: Times) -> tuple[Float[Array, "*batch"], Float[Array, "*batch"]]:
        t = jnp.asarray(t, jnp.float32)
        return jnp.ones_like(t), t

    def sigma(self, t: Times) -> Float[Array, "*batch"]:
        return jnp.asarray(t, jnp.float32)

    def prior_std(self) -> float:
        return self.sigmas[0]

    def t_from_sigma(self, sigma: Times) -> Float[Array, "*batch"]:
        return jnp.asarray(sigma, jnp.float32)

    def time_span(self, eps: float | None = None) -> tuple[float, float]:
        """(sigma_1, sigma_L): the ladder's own ends; `eps` is ignored (the last rung is where it stops)."""
        del eps
        return self.sigmas[0], self.sigmas[-1]
