"""Guided scores: classifier guidance and classifier-free guidance.

Both return an ordinary batched `score_fn(x, t)`, so every sampler takes them unchanged.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from .._typing import ScoreFn
from ..sde._abstract import _bcast


def classifier_guided_score(
    score_fn: ScoreFn, log_prob_y: Callable[[Array, Array], Array], scale: float = 1.0
) -> ScoreFn:
    """s(x, t) + scale * grad_x log p(y | x_t, t) (Song et al. 2021, eq. 14; Dhariwal & Nichol 2021).

    `log_prob_y(x, t)` returns the per-sample log-probability of the wanted labels, shape (batch,).
    """

    def guided(x, t):
        grad = jax.grad(lambda y: jnp.sum(log_prob_y(y, t)))(x)
        return score_fn(x, t) + scale * grad

    return guided


def classifier_free_score(
    cond_score_fn: Callable[[Array, Array, Array], Array],
    labels: Int[Array, " batch"],
    guidance: float | Float[Array, ""],
    null_label: int,
) -> ScoreFn:
    """(1 + w) s(x, t, y) - w s(x, t, null) (Ho & Salimans 2022), in one network call of batch 2B.

    w = 0 is the conditional score, w = -1 the unconditional one. `cond_score_fn(x, t, labels)`.
    """

    def guided(x, t):
        b = x.shape[0]
        xx = jnp.concatenate([x, x])
        tt = jnp.concatenate([t, t])
        yy = jnp.concatenate([labels, jnp.full_like(labels, null_label)])
        both = cond_score_fn(xx, tt, yy)
        cond, uncond = both[:b], both[b:]
        w = _bcast(jnp.asarray(guidance), x)
        return (1 + w) * cond - w * uncond

    return guided
