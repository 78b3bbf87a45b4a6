"""Bits per dimension of 8-bit data under a continuous model, with uniform dequantisation."""

import math

import jax.random as jr
from jaxtyping import Array, Float

from .._checks import check_range
from .._typing import Key, ScoreFn
from ..sde import AbstractSDE
from ._log_prob import log_prob


def dequantize(x: Float[Array, " batch *data"], key: Key) -> Float[Array, " batch *data"]:
    """u = (255 x + U) / 256 with U ~ U[0, 1): data x in {0, 1/255, ..., 1} to continuous [0, 1)."""
    return (255.0 * x + jr.uniform(key, x.shape)) / 256.0


def bits_per_dim(
    sde: AbstractSDE,
    score_fn: ScoreFn,
    x: Float[Array, " batch *data"],
    key: Key,
    *,
    centered: bool = True,
    dequantize_data: bool = True,
    **log_prob_kwargs,
) -> tuple[Float[Array, " batch"], Array]:
    """-log2 P(x) / D for images x in [0, 1] (multiples of 1/255); returns (bpd per sample, nfe).

    The model sees y = 2u - 1 if `centered` (else y = u), u the dequantised data; the log
    density picks up D log 2 from that rescaling, and 8 bits for the 1/256-wide bins:
    bpd = -(log p_y(y) + D log|scale|) / (D ln 2) + 8.
    """
    x = check_range("x", x, 0.0, 1.0)
    k_deq, k_lp = jr.split(key)
    u = dequantize(x, k_deq) if dequantize_data else x
    scale = 2.0 if centered else 1.0
    y = scale * u - (1.0 if centered else 0.0)
    logp, nfe = log_prob(sde, score_fn, y, k_lp, **log_prob_kwargs)
    dim = math.prod(x.shape[1:])
    logp_u = logp + dim * math.log(scale)
    return -logp_u / (dim * math.log(2.0)) + 8.0, nfe
