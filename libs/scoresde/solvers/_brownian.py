"""A cheap Brownian path for fixed-step SDE solves on any grid.

diffrax's VirtualBrownianTree answers queries at any time but costs a tree descent per
step (5-9x a bare scan loop here; diffrax issues #517 and #592). On a fixed grid we only
ever ask for the increment over one grid interval, so we draw it directly from
`fold_in(key, step_index)`: no memory, deterministic given the key, and per sample when the
key is a batch of keys (one per sample).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from diffrax import AbstractBrownianPath, BrownianIncrement
from jaxtyping import Array, Float

from . import _noise


class GridBrownianPath(AbstractBrownianPath):
    """Brownian increments over the intervals of the monotone grid `ts` (increasing or decreasing).

    Only whole grid intervals may be queried (fixed-step solvers do exactly that). With
    `zero_last=True` the last interval has no noise: the final step returns the mean,
    as score_sde's `noise_removal`. `key` is one key or one key per sample (shape[0] of them).
    """

    ts: Float[Array, " n_plus_1"]
    shape: tuple[int, ...] = eqx.field(static=True)
    key: jax.Array
    zero_last: bool = eqx.field(static=True, default=False)
    levy_area: type = eqx.field(static=True, default=BrownianIncrement)

    @property
    def n_steps(self) -> int:
        return self.ts.shape[0] - 1

    @property
    def t0(self):
        return jnp.minimum(self.ts[0], self.ts[-1])

    @property
    def t1(self):
        return jnp.maximum(self.ts[0], self.ts[-1])

    def step_index(self, t0, t1):
        """Index of the grid interval containing the midpoint of [t0, t1]."""
        mid = 0.5 * (t0 + t1)
        up = self.ts[-1] > self.ts[0]
        pos = jnp.where(up, self.ts, -self.ts)
        i = jnp.searchsorted(pos, jnp.where(up, mid, -mid)) - 1
        return jnp.clip(i, 0, self.n_steps - 1)

    def increment(self, i) -> jax.Array:
        dt = jnp.abs(self.ts[i + 1] - self.ts[i])
        return _noise.normal(self.key, i, self.shape) * jnp.sqrt(dt)

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


def grid_noise(key, i, shape: tuple[int, ...]) -> jax.Array:
    """Standard normal noise for step i of a scan loop, drawn the same way as the path."""
    return _noise.normal(key, i, shape)
