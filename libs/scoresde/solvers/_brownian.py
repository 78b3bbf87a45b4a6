"""A cheap Brownian path for fixed-step SDE solves.

diffrax's VirtualBrownianTree answers queries at any time but costs a tree descent per
step (5-9x a bare scan loop here; diffrax issues #517 and #592). On a fixed grid we only
ever ask for the increment over one grid interval, so we draw it directly from
`fold_in(key, step_index)`: O(1) per step, no memory, deterministic given the key.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from diffrax import AbstractBrownianPath, BrownianIncrement

from .._typing import Key


class GridBrownianPath(AbstractBrownianPath):
    """Brownian increments over the intervals of the uniform grid t_start + i * dt, i < n_steps.

    Only whole grid intervals may be queried (fixed-step solvers do exactly that). With
    `zero_last=True` the last interval has no noise: the final step returns the mean,
    as score_sde's `noise_removal`.
    """

    t_start: float
    dt: float
    n_steps: int = eqx.field(static=True)
    shape: tuple[int, ...] = eqx.field(static=True)
    key: Key
    zero_last: bool = eqx.field(static=True, default=False)
    levy_area: type = eqx.field(static=True, default=BrownianIncrement)

    @property
    def t0(self):
        return jnp.minimum(self.t_start, self.t_start + self.n_steps * self.dt)

    @property
    def t1(self):
        return jnp.maximum(self.t_start, self.t_start + self.n_steps * self.dt)

    def step_index(self, t0, t1):
        """Index of the grid interval containing the midpoint of [t0, t1]."""
        mid = 0.5 * (t0 + t1)
        i = jnp.floor((mid - self.t_start) / self.dt).astype(jnp.int32)
        return jnp.clip(i, 0, self.n_steps - 1)

    def increment(self, i) -> jax.Array:
        return jr.normal(jr.fold_in(self.key, i), self.shape) * jnp.sqrt(jnp.abs(self.dt))

    def evaluate(self, t0, t1=None, left: bool = True, use_levy: bool = False):
        del left
        if t1 is None:
            raise ValueError("GridBrownianPath only gives increments over grid intervals; pass t0 and t1")
        if use_levy:
            raise ValueError("GridBrownianPath has no Levy area; use an Euler-Maruyama-type solver")
        i = self.step_index(t0, t1)
        w = self.increment(i)
        if self.zero_last:
            w = jnp.where(i == self.n_steps - 1, jnp.zeros_like(w), w)
        return w


def grid_noise(key: Key, i, shape: tuple[int, ...]) -> jax.Array:
    """Standard normal noise for step i of a scan loop, drawn the same way as the path."""
    return jr.normal(jr.fold_in(key, i), shape)
