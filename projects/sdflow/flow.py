"""The annealed SD flow: for sigma_1 > ... > sigma_L, steps_per_level steps x <- x + eta_l v_sigma_l(x) (+ noise).

One `lax.scan` over the levels; inside a level the core's `integrate_flow` takes the Euler steps
(unit time step, the velocity scaled by eta_l). Optional noise adds sqrt(2 gamma eta_l) xi per step;
particle i's xi at global step s is normal(fold_in(k_i, s)) with k_i = fold_in(fold_in(key, 2), i), so
it depends only on (key, i), whatever the number of particles or devices. A learned source score is
re-fitted on the current particles every `refit_every` steps (`refit`): a level is then a scan over
blocks of refit_every Euler steps, each starting with a refit.
"""

import jax
import jax.numpy as jnp
import jax.random as jr

from scoresde import solvers


def particle_keys(key, index):
    """One key per particle, fold_in(key, i) for each global index i."""
    return jax.vmap(lambda i: jr.fold_in(key, i))(index)


def anneal(
    x0,
    sigmas,
    steps,
    *,
    steps_per_level: int,
    velocity,
    noise: float = 0.0,
    key=None,
    refit=None,
    refit_every: int = 0,
    aux=None,
    index=None,
):
    """Run the flow; returns (x_final, path at every level end with x0 first (L+1, N, ...), nfe, aux).

    `velocity(x, sigma, aux)` is batched; `refit(aux, x, sigma, key) -> aux` (optional) updates a
    learned source score before every block of `refit_every` steps (0: once per level; must divide
    steps_per_level). nfe counts velocity evaluations (each = one score of p and one of q). `index`: the
    particles' global indices (default 0..N-1), which fix their noise.
    """
    if noise > 0 and key is None:
        raise ValueError("flow.noise > 0 needs a key")
    block = steps_per_level if (refit is None or refit_every <= 0) else refit_every
    if steps_per_level % block:
        raise ValueError(f"learned.refit_every={refit_every} must divide flow.steps_per_level={steps_per_level}")
    key = jr.key(0) if key is None else key
    sigmas, steps = jnp.asarray(sigmas, x0.dtype), jnp.asarray(steps, x0.dtype)
    index = jnp.arange(x0.shape[0]) if index is None else index
    noise_keys = particle_keys(jr.fold_in(key, 2), index) if noise > 0 else None

    def level(carry, inp):
        sigma, eta, i = inp

        def one_block(carry, j):
            x, aux = carry
            k = jr.fold_in(jr.fold_in(key, i), j)
            if refit is not None:
                aux = refit(aux, x, sigma, jr.fold_in(k, 1))
            first = i * steps_per_level + j * block  # global index of the block's first step

            def vel(y, t):
                v = velocity(y, sigma, aux)
                if noise > 0:
                    s = first + jnp.round(t).astype(jnp.int32)
                    xi = jax.vmap(lambda pk: jr.normal(jr.fold_in(pk, s), y.shape[1:], y.dtype))(noise_keys)
                    v = v + jnp.sqrt(2.0 * noise / eta) * xi
                return eta * v

            x, _ = solvers.integrate_flow(vel, x, step_size=1.0, n_steps=block)
            return (x, aux), None

        carry, _ = jax.lax.scan(one_block, carry, jnp.arange(steps_per_level // block))
        return carry, carry[0]

    idx = jnp.arange(sigmas.shape[0])
    (x, aux), path = jax.lax.scan(level, (x0, aux), (sigmas, steps, idx))
    return x, jnp.concatenate([x0[None], path]), int(sigmas.shape[0]) * steps_per_level, aux
