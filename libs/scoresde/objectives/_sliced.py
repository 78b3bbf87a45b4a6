"""Score matching without noise: sliced (Song et al. 2019) and exact (Hyvarinen 2005).

These fit s(x) ~ grad log p(x) of the data itself. The Jacobian-vector product
v^T (ds/dx) v costs one `jax.jvp` of the batched score function; because the network
acts on each sample separately, one jvp with a batch of probes gives every sample's term.
"""

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float

from .._checks import check_choice, check_positive_int
from .._typing import Batch, Key


def _flat(x: Array) -> Array:
    return x.reshape(x.shape[0], -1)


def draw_probes(key: Key, shape: tuple[int, ...], kind: str, dtype=None) -> Array:
    """Gaussian or Rademacher probe vectors (E[v v^T] = I for both), of `dtype` (default float)."""
    check_choice("probe", kind, ("gaussian", "rademacher"))
    dtype = float if dtype is None else dtype
    if kind == "gaussian":
        return jr.normal(key, shape, dtype)
    return jr.rademacher(key, shape).astype(dtype)


def sliced_score_matching(
    score_fn,
    x: Batch,
    key: Key,
    *,
    n_projections: int = 1,
    variance_reduction: bool = False,
    probe: str = "gaussian",
) -> Float[Array, ""]:
    """SSM: E_v E_x [v^T (ds/dx) v + (v^T s)^2 / 2]; SSM-VR replaces (v^T s)^2/2 by |s|^2/2.

    `score_fn(x)` is batched over the leading axis. Returns the mean over samples and projections.
    """
    check_positive_int("n_projections", n_projections)
    # Probes must share x's dtype: jax.jvp rejects tangents of another dtype (bf16 / f16 data).
    v = draw_probes(key, (n_projections,) + x.shape, probe, x.dtype)

    def one(vi):
        s, jv = jax.jvp(score_fn, (x,), (vi,))
        vjv = jnp.sum(_flat(vi) * _flat(jv), axis=1)
        if variance_reduction:
            second = 0.5 * jnp.sum(_flat(s) ** 2, axis=1)
        else:
            second = 0.5 * jnp.sum(_flat(vi) * _flat(s), axis=1) ** 2
        return jnp.mean(vjv + second)

    return jnp.mean(jax.vmap(one)(v))


def exact_score_matching(score_fn, x: Float[Array, "batch D"]) -> Float[Array, ""]:
    """E [tr(ds/dx) + |s|^2 / 2], the full Jacobian trace (low dimension only)."""

    def single(xi):
        f = lambda y: score_fn(y[None])[0]  # noqa: E731
        return jnp.trace(jax.jacfwd(f)(xi)), f(xi)

    tr, s = jax.vmap(single)(x)
    return jnp.mean(tr + 0.5 * jnp.sum(s**2, axis=1))
