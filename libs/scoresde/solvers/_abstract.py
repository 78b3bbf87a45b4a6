"""`AbstractSampler`: a sampler is a value (its hyper-parameters are fields) with one call, `sample`."""

import abc

import equinox as eqx
import jax.numpy as jnp

from .._typing import ScoreFn
from ..sde import AbstractProcess, AbstractSDE
from ..sde._abstract import _bcast
from . import _noise
from ._common import check_shape_arg
from ._solution import Solution


class AbstractSampler(eqx.Module):
    """Draws samples of a process's data distribution from its (batched) score function.

    `sample(process, score_fn, shape, *, key, x_init=None, t_start=None, saveat=None)`:
    - `score_fn(x, t)` takes x of `shape` and t of shape (batch,);
    - `key` is one PRNG key, or one per sample (shape (batch,)): then sample j depends on key[j] only;
    - `x_init` is the starting state (at the grid's first point); with `t_start` it is clean
      data that is first noised to t_start (SDEdit), and the solve runs from there;
    - `saveat` is a count or step indices of states to return in `Solution.ys`.
    """

    @abc.abstractmethod
    def sample(
        self,
        process: AbstractProcess,
        score_fn: ScoreFn,
        shape: tuple[int, ...],
        *,
        key,
        x_init=None,
        t_start: float | None = None,
        saveat=None,
    ) -> Solution:
        """Samples and the number of score evaluations per sample."""


def require_sde(sampler: str, process) -> AbstractSDE:
    """The samplers that need a drift and a diffusion refuse a process without them, in one line."""
    if not isinstance(process, AbstractSDE):
        raise ValueError(
            f"{sampler} needs an SDE (drift and diffusion), got {type(process).__name__}; a sigma ladder samples "
            "with AnnealedLangevin, EDMHeun, DPMSolverPP or DPMSolverPPSDE"
        )
    return process


def check_call(process, shape, key, x_init, t_start, *, need_process: bool = True) -> None:
    if need_process and not isinstance(process, AbstractProcess):
        raise ValueError(f"process must be an AbstractProcess (an SDE or a SigmaLadder), got {type(process).__name__}")
    check_shape_arg(shape)
    _noise.check_key(key, shape[0])
    if x_init is not None and tuple(x_init.shape) != tuple(shape):
        raise ValueError(f"x_init must have shape {tuple(shape)}, got {tuple(x_init.shape)}")
    if t_start is not None and x_init is None:
        raise ValueError("t_start needs x_init: the clean data to noise to t_start (SDEdit)")


def initial_state(process: AbstractProcess, key, shape, x_init, t_start, t0):
    """The state at the grid's first time t0: prior noise, the caller's x_init, or x_init noised to t_start."""
    z = _noise.normal(key, 0, tuple(shape))
    if x_init is None:
        at_t = process.marginal(t0)[1]
        std = jnp.where(t0 >= process.T, process.prior_std(), at_t)
        return std * z
    if t_start is None:
        return x_init
    a, std = process.marginal(jnp.full(shape[:1], t0))
    return _bcast(a, x_init) * x_init + _bcast(std, z) * z
