"""What the samplers written in sigma share: the grid, the start, the denoiser, saving in the process's space."""

import jax.numpy as jnp
import numpy as np

from .._checks import is_concrete
from ..sde import AbstractProcess
from . import _noise
from ._abstract import check_call
from ._grid import sigma_grid
from ._sigma_space import denoiser_from_score, initial_scaled_state, scale_of
from ._solution import save_indices


def setup(sampler, process: AbstractProcess, score_fn, shape, key, x_init, t_start, saveat, *, to_zero: bool):
    """(sigma grid, x_hat at its first level, denoiser D(x_hat, sigma), save indices, key for the steps)."""
    check_call(process, shape, key, x_init, t_start)
    sigmas = sigma_grid(
        process, sampler.n_steps, sampler.eps, sampler.sigmas, t_start,
        schedule=sampler.schedule, rho=sampler.rho, to_zero=to_zero,
    )  # fmt: skip
    k_init, k_steps = _noise.split(key, 2)
    x = initial_scaled_state(process, k_init, shape, x_init, sigmas[0], sdedit=t_start is not None)
    idx = save_indices(saveat, sigmas.shape[0] - 1)
    return sigmas, x, denoiser_from_score(process, score_fn), idx, k_steps


def to_process(process: AbstractProcess, x_hat, sigma):
    """x = a(t(sigma)) x_hat (a = 1 at sigma = 0)."""
    return scale_of(process, sigma) * x_hat


def saved(process, sigmas, idx, ys):
    """(ts, ys) of a Solution: the saved sigmas and the states mapped back to the process's space."""
    if idx is None:
        return None, None
    ts = sigmas[jnp.asarray(idx)]
    return ts, jnp.stack([to_process(process, ys[j], ts[j]) for j in range(len(idx))])


def steps_to_zero(sigmas):
    """How many steps of the grid end at sigma = 0 (an int for a concrete grid)."""
    if is_concrete(sigmas):
        return int(np.sum(np.asarray(sigmas)[1:] == 0))
    return jnp.sum(sigmas[1:] == 0)
