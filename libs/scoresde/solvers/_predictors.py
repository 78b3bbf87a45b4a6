"""Predictors and correctors of the reverse SDE as small Modules (Song et al. 2021, App. E-G).

A predictor moves from t to t - h; a corrector takes Langevin steps at t. Both take the score
already evaluated, so the sampler owns the loop, the noise and the count of score calls.
"""

import abc
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp

from .._checks import check_choice, check_positive_int, check_range
from ..sde import AbstractSDE
from ..sde._abstract import _bcast
from . import _steps


class AbstractPredictor(eqx.Module):
    """One step of the reverse SDE from t to t - h: returns (x', mean without noise).

    `uses_step`: whether `drift` / `diffusion` depend on h (a grid lookup per call when they do).
    """

    uses_step: ClassVar[bool] = True

    @abc.abstractmethod
    def step(self, sde: AbstractSDE, x, t, score, h, z):
        """x' and its mean, with z standard normal noise shaped like x."""

    @abc.abstractmethod
    def drift(self, sde: AbstractSDE, x, t, score, h):
        """The step as Euler-Maruyama on dx = drift dt + diffusion dW integrated backwards (dt = -h)."""

    @abc.abstractmethod
    def diffusion(self, sde: AbstractSDE, t, h):
        """Scalar diffusion of that form, so that diffusion * sqrt(h) z is the step's noise."""


class EulerMaruyama(AbstractPredictor):
    """x' = x - h (f - g^2 s) + g sqrt(h) z, the reverse SDE's own coefficients."""

    uses_step: ClassVar[bool] = False

    def step(self, sde, x, t, score, h, z):
        return _steps.euler_maruyama_step(sde, x, t, score, h, z)

    def drift(self, sde, x, t, score, h):
        return sde.reverse_drift(x, t, score)

    def diffusion(self, sde, t, h):
        return sde.diffusion(t)


class ReverseDiffusion(AbstractPredictor):
    """x' = x - f_i + G_i^2 s + G_i z with (f_i, G_i) the SDE's discretisation (the DDPM / SMLD ancestral-like step)."""

    def step(self, sde, x, t, score, h, z):
        return _steps.reverse_diffusion_step(sde, x, t, score, h, z)

    def drift(self, sde, x, t, score, h):
        f, g = sde.discretize(x, t, h)
        return (f - _bcast(g**2, x) * score) / h

    def diffusion(self, sde, t, h):
        _, g = sde.discretize(jnp.zeros((1,)), jnp.full((1,), t), h)
        return g[0] / jnp.sqrt(h)


class AbstractCorrector(eqx.Module):
    """Langevin steps at a fixed time t; `n_steps` of them per sampler step."""

    n_steps: eqx.AbstractVar[int]

    @abc.abstractmethod
    def step(self, sde: AbstractSDE, x, t, score, h, z):
        """One Langevin step: (x', mean)."""


class LangevinCorrector(AbstractCorrector):
    """score_sde's Langevin corrector: step 2 alpha (snr |z| / |s|)^2.

    norm='batch' (score_sde) averages the norms over the batch; 'sample' uses each
    sample's own (measured on the 2-D mixtures: per-sample norms widen the modes).
    """

    snr: float = eqx.field(static=True, default=0.16)
    n_steps: int = eqx.field(static=True, default=1)
    norm: str = eqx.field(static=True, default="batch")

    def __check_init__(self):
        check_range("snr", self.snr, 0.0, None, strict=True)
        check_positive_int("n_steps", self.n_steps)
        check_choice("norm", self.norm, ("batch", "sample"))

    def step(self, sde, x, t, score, h, z):
        return _steps.langevin_corrector_step(sde, x, t, score, self.snr, h, z, self.norm)


class AnnealedLangevinCorrector(AbstractCorrector):
    """score_sde's annealed-Langevin corrector (NCSN's ALD inside PC): step 2 alpha (snr std(t))^2."""

    snr: float = eqx.field(static=True, default=0.16)
    n_steps: int = eqx.field(static=True, default=1)

    def __check_init__(self):
        check_range("snr", self.snr, 0.0, None, strict=True)
        check_positive_int("n_steps", self.n_steps)

    def step(self, sde, x, t, score, h, z):
        return _steps.annealed_langevin_corrector_step(sde, x, t, score, self.snr, h, z)
