"""What every sampler returns, and the saving of intermediate states inside a scan."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._typing import Count


class Solution(eqx.Module):
    """x: the samples; nfe: score evaluations per sample; ts, ys: the saved grid points and states (or None).

    ts are in the sampler's own variable: time t for ReverseSDE / PredictorCorrector /
    ProbabilityFlow / Langevin (step index), sigma for EDMHeun / DPM-Solver++ / AnnealedLangevin.
    ys are in the process's space (x_t, not x_t / a), shape (saves, batch, *data).
    """

    x: Float[Array, " batch *data"]
    nfe: Count
    ts: Float[Array, " saves"] | None = None
    ys: Float[Array, " saves batch *data"] | None = None


def save_indices(saveat, n_steps: int) -> np.ndarray | None:
    """Which states to keep, as step counts in [0, n_steps] (0 = the start, n_steps = the end).

    saveat: None (none), an int k >= 2 (k equally spaced, start and end included), or a
    sequence of increasing step counts.
    """
    if saveat is None:
        return None
    if isinstance(saveat, int | np.integer) and not isinstance(saveat, bool):
        if not 2 <= saveat <= n_steps + 1:
            raise ValueError(
                f"saveat must be a count in [2, {n_steps + 1}] (start and end included) or step indices, got {saveat}"
            )
        return np.unique(np.round(np.linspace(0, n_steps, int(saveat))).astype(int))
    idx = np.asarray(saveat)
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"saveat must be a count or a 1-D sequence of step indices, got {saveat!r}")
    if np.any(idx < 0) or np.any(idx > n_steps) or np.any(np.diff(idx) <= 0):
        raise ValueError(f"saveat indices must be increasing and lie in [0, {n_steps}], got {idx.tolist()}")
    return idx.astype(int)


def scan_steps(step, carry, xs, n_steps: int, save_idx, state=lambda c: c):
    """lax.scan of `step(carry, x) -> carry` over n_steps inputs; with `save_idx`, also state(carry) at those counts.

    Returns (final carry, ys or None). The saved states live in a preallocated buffer written
    in place, so the loop does not keep the whole trajectory.
    """
    if save_idx is None:
        carry, _ = jax.lax.scan(lambda c, x: (step(c, x), None), carry, xs, length=n_steps)
        return carry, None
    slot = np.full(n_steps + 1, -1)
    slot[save_idx] = np.arange(len(save_idx))
    slot = jnp.asarray(slot)
    first = state(carry)
    buf = jnp.zeros((len(save_idx), *first.shape), first.dtype)

    def put(buf, j, value):
        k = jnp.maximum(slot[j], 0)
        return buf.at[k].set(jnp.where(slot[j] >= 0, value, buf[k]))

    buf = put(buf, 0, first)

    def body(c, inp):
        carry, buf = c
        j, x = inp
        carry = step(carry, x)
        return (carry, put(buf, j + 1, state(carry))), None

    (carry, buf), _ = jax.lax.scan(body, (carry, buf), (jnp.arange(n_steps), xs), length=n_steps)
    return carry, buf
