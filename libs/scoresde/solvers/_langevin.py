"""NCSN's annealed Langevin sampler (Song & Ermon 2019, Alg. 1) and plain Langevin dynamics."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._checks import check_decreasing, check_positive_int, check_range, is_concrete
from ..sde import AbstractProcess, SigmaLadder
from ..sde._abstract import _bcast
from . import _noise
from ._abstract import AbstractSampler, check_call
from ._solution import Solution, save_indices, scan_steps


def _ladder_levels(sampler_sigmas, process, t_start) -> Array:
    if sampler_sigmas is not None:
        levels = sampler_sigmas
    elif isinstance(process, SigmaLadder):
        levels = process.rungs
    else:
        raise ValueError(
            f"AnnealedLangevin needs a SigmaLadder process or its own sigmas=, got {type(process).__name__}"
        )
    if t_start is not None:
        if not (isinstance(t_start, int | float) and 0 < t_start <= process.T):
            raise ValueError(f"t_start must lie in (0, {process.T:g}], got {t_start!r}")
        levels = np.asarray(process.sigmas if sampler_sigmas is None else sampler_sigmas)
        kept = levels[levels <= t_start]
        if kept.size == 0:
            raise ValueError(f"t_start={t_start} lies below the last noise level {float(np.asarray(levels)[-1]):g}")
        levels = kept
    return jnp.asarray(levels, jnp.float32)


class AnnealedLangevin(AbstractSampler):
    """For each sigma_i (decreasing), `n_steps_each` steps x <- x + a_i s(x, sigma_i) + sqrt(2 a_i) z.

    a_i = step_lr sigma_i^2 / sigma_L^2. The levels are the SigmaLadder's rungs, or `sigmas`
    (with t = t_from_sigma(sigma) for the score). x starts at N(0, sigma_1^2 I), x_init, or with
    t_start at x_init + sigma z on the first level <= t_start. `denoise` adds the final Tweedie
    step x + sigma_L^2 s(x, sigma_L) (NCSNv2). nfe = levels * n_steps_each (+1).
    """

    n_steps_each: int = eqx.field(static=True, default=100)
    step_lr: float = eqx.field(static=True, default=2e-5)
    denoise: bool = eqx.field(static=True, default=True)
    sigmas: Float[Array, " L"] | None = None

    def __check_init__(self):
        check_positive_int("n_steps_each", self.n_steps_each)
        check_range("step_lr", self.step_lr, 0.0, None, strict=True)
        if self.sigmas is not None and is_concrete(self.sigmas):
            check_decreasing("sigmas", self.sigmas)

    def sample(self, process: AbstractProcess, score_fn, shape, *, key, x_init=None, t_start=None, saveat=None):
        check_call(process, shape, key, x_init, t_start)
        levels = _ladder_levels(self.sigmas, process, t_start)
        n_levels, batch = levels.shape[0], shape[0]
        k_init, k_noise = _noise.split(key, 2)
        z0 = _noise.normal(k_init, 0, tuple(shape))
        if x_init is None:
            x = levels[0] * z0
        else:
            x = x_init + levels[0] * z0 if t_start is not None else x_init
        n = n_levels * self.n_steps_each
        level_of = jnp.repeat(jnp.arange(n_levels), self.n_steps_each)
        step_lr = self.step_lr

        def step(x, inp):
            i, level = inp
            sigma = levels[level]
            alpha = step_lr * (sigma / levels[-1]) ** 2
            s = score_fn(x, process.t_from_sigma(jnp.full((batch,), sigma)))
            return x + alpha * s + jnp.sqrt(2 * alpha) * _noise.normal(k_noise, i, shape)

        idx = save_indices(saveat, n)
        x, ys = scan_steps(step, x, (jnp.arange(n), level_of), n, idx)
        nfe = n
        if self.denoise:
            sig = jnp.full((batch,), levels[-1])
            x = x + _bcast(sig**2, x) * score_fn(x, process.t_from_sigma(sig))
            nfe += 1
        ts = None if idx is None else levels[jnp.minimum(jnp.asarray(idx) // self.n_steps_each, n_levels - 1)]
        return Solution(x, nfe, ts, ys)


class Langevin(AbstractSampler):
    """Unadjusted Langevin x <- x + a s(x) + sqrt(2a) z for a noise-free score (sliced score matching).

    The score is called with t = 0. x starts at init_scale * N(0, I) or x_init. nfe = n_steps.
    """

    n_steps: int = eqx.field(static=True, default=1000)
    step_size: float = eqx.field(static=True, default=0.01)
    init_scale: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        check_positive_int("n_steps", self.n_steps)
        check_range("step_size", self.step_size, 0.0, None, strict=True)
        check_range("init_scale", self.init_scale, 0.0, None, strict=True)

    def sample(self, process, score_fn, shape, *, key, x_init=None, t_start=None, saveat=None):
        if t_start is not None:
            raise ValueError("Langevin has no noise levels: t_start does not apply")
        check_call(process, shape, key, x_init, None, need_process=False)
        k_init, k_noise = _noise.split(key, 2)
        x = self.init_scale * _noise.normal(k_init, 0, tuple(shape)) if x_init is None else x_init
        a, zeros = self.step_size, jnp.zeros(shape[:1])

        def step(x, i):
            return x + a * score_fn(x, zeros) + jnp.sqrt(2 * a) * _noise.normal(k_noise, i, shape)

        idx = save_indices(saveat, self.n_steps)
        x, ys = scan_steps(step, x, jnp.arange(self.n_steps), self.n_steps, idx)
        return Solution(x, self.n_steps, None if idx is None else jnp.asarray(idx, jnp.float32), ys)


def annealed_langevin(
    score_fn, sigmas, key, shape, *, n_steps_each=100, step_lr=2e-5, denoise=True, x_init=None
) -> tuple[Float[Array, " batch *data"], int]:
    """Convenience form: `AnnealedLangevin(...).sample(SigmaLadder(sigmas), score_fn(x, sigma), ...)`.

    Returns (samples, nfe).
    """
    sampler = AnnealedLangevin(n_steps_each, step_lr, denoise)
    sol = sampler.sample(SigmaLadder(np.asarray(sigmas)), score_fn, tuple(shape), key=key, x_init=x_init)
    return sol.x, sol.nfe


def langevin(score_fn, key, x_init, *, step_size: float, n_steps: int):
    """Convenience form of `Langevin` with a batched `score_fn(x)`; returns (samples, nfe)."""
    sol = Langevin(n_steps, step_size).sample(
        None, lambda x, t: score_fn(x), tuple(x_init.shape), key=key, x_init=x_init
    )
    return sol.x, sol.nfe
