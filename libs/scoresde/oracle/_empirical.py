"""Exact scores of a Gaussian-smoothed empirical measure (the kernel proxy of SD flow).

For samples y_1..y_M and p_hat = (1/M) sum_j delta(y_j), the smoothed density
p_hat_sigma = p_hat * N(0, sigma^2 I) is a Gaussian mixture with M equal components, so
  E[y | x]               = sum_j w_j(x) y_j,   w = softmax_j(-|x - y_j|^2 / (2 sigma^2))   (Tweedie denoiser)
  grad log p_hat_sigma(x) = (E[y | x] - x) / sigma^2.
Cost is O(N M D) per call for N query points. Memory is bounded: the samples are streamed
in chunks of `chunk_size` with a running log-sum-exp (lax.scan) and the queries in chunks of
`query_chunk` (lax.map), so 10k x 10k pairs need only chunk x chunk distances at a time.
"""

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import check_positive_int


def _flat(x: Array) -> Array:
    return x.reshape(x.shape[0], -1)


# full float32 matmuls: bf16/TF32 passes (TPU/GPU defaults) put errors of order 0.1-1 into the logits of
# 3072-D images, which skews the softmax weights
_HI = jax.lax.Precision.HIGHEST


def _stream(x: Array, y: Array, inv_two_var: Array, chunk_size: int):
    """Running (max, sum of exp, exp-weighted sum of y) over y chunks for one query batch x (b, D).

    Logits are (x . y_j - |y_j|^2 / 2) / sigma^2, i.e. -|x - y_j|^2 / (2 sigma^2) up to a term
    constant in j; padded samples get -inf.
    """
    m, d = y.shape
    n_chunks = -(-m // chunk_size)
    pad = n_chunks * chunk_size - m
    yc = jnp.pad(y, ((0, pad), (0, 0))).reshape(n_chunks, chunk_size, d)
    valid = (jnp.arange(n_chunks * chunk_size) < m).reshape(n_chunks, chunk_size)
    b = x.shape[0]

    def body(carry, chunk):
        run_max, run_sum, run_y = carry
        yj, ok = chunk
        logits = (jnp.matmul(x, yj.T, precision=_HI) - 0.5 * jnp.sum(yj**2, axis=1)[None]) * (
            2.0 * inv_two_var[:, None]
        )
        logits = jnp.where(ok[None], logits, -jnp.inf)
        new_max = jnp.maximum(run_max, jnp.max(logits, axis=1))
        scale = jnp.exp(run_max - new_max)
        e = jnp.exp(logits - new_max[:, None])
        return (
            new_max,
            run_sum * scale + jnp.sum(e, axis=1),
            run_y * scale[:, None] + jnp.matmul(e, yj, precision=_HI),
        ), None

    init = (jnp.full((b,), -jnp.inf, x.dtype), jnp.zeros((b,), x.dtype), jnp.zeros((b, d), x.dtype))
    (run_max, run_sum, run_y), _ = jax.lax.scan(body, init, (yc, valid))
    return run_max, run_sum, run_y


def _per_query(x: Array, sigma, fn, query_chunk: int):
    """Apply fn(x_chunk, sigma_chunk) over query chunks with lax.map (or at once if small)."""
    n = x.shape[0]
    sig = jnp.broadcast_to(jnp.asarray(sigma, x.dtype), (n,))
    if n <= query_chunk:
        return fn(x, sig)
    return jax.lax.map(lambda xs: fn(xs[0][None], xs[1][None])[0], (x, sig), batch_size=query_chunk)


def _check(x: Array, y: Array, chunk_size: int, query_chunk: int) -> None:
    check_positive_int("chunk_size", chunk_size)
    check_positive_int("query_chunk", query_chunk)
    if y.shape[0] < 1:
        raise ValueError("the empirical measure needs at least one sample, got an empty sample set")
    if x.shape[1:] != y.shape[1:]:
        raise ValueError(f"query points {x.shape[1:]} and samples {y.shape[1:]} must have the same data shape")


def empirical_denoiser(
    x: Float[Array, " n *data"],
    samples: Float[Array, " m *sample_data"],
    sigma: float | Float[Array, ""] | Float[Array, " n"],
    *,
    chunk_size: int = 1024,
    query_chunk: int = 1024,
) -> Float[Array, " n *data"]:
    """Tweedie's E[y | x] = sum_j softmax_j(-|x - y_j|^2 / 2 sigma^2) y_j for the empirical measure of `samples`."""
    _check(x, samples, chunk_size, query_chunk)
    y = _flat(samples).astype(x.dtype)

    def fn(xq, sq):
        _, run_sum, run_y = _stream(xq, y, 0.5 / sq**2, min(chunk_size, y.shape[0]))
        return run_y / run_sum[:, None]

    return _per_query(_flat(x), sigma, fn, query_chunk).reshape(x.shape)


def empirical_score(
    x: Float[Array, " n *data"],
    samples: Float[Array, " m *sample_data"],
    sigma: float | Float[Array, ""] | Float[Array, " n"],
    *,
    chunk_size: int = 1024,
    query_chunk: int = 1024,
) -> Float[Array, " n *data"]:
    """grad_x log (p_hat * N(0, sigma^2 I))(x) = (E[y | x] - x) / sigma^2, exact for the empirical measure."""
    den = empirical_denoiser(x, samples, sigma, chunk_size=chunk_size, query_chunk=query_chunk)
    sig = jnp.broadcast_to(jnp.asarray(sigma, x.dtype), (x.shape[0],)).reshape((-1,) + (1,) * (x.ndim - 1))
    return (den - x) / sig**2


def empirical_log_prob(
    x: Float[Array, " n *data"],
    samples: Float[Array, " m *sample_data"],
    sigma: float | Float[Array, ""] | Float[Array, " n"],
    *,
    chunk_size: int = 1024,
    query_chunk: int = 1024,
) -> Float[Array, " n"]:
    """log (1/M) sum_j N(x; y_j, sigma^2 I), exact (a streaming log-sum-exp over the samples)."""
    _check(x, samples, chunk_size, query_chunk)
    y = _flat(samples).astype(x.dtype)
    m, d = y.shape

    def fn(xq, sq):
        run_max, run_sum, _ = _stream(xq, y, 0.5 / sq**2, min(chunk_size, m))
        lse = run_max + jnp.log(run_sum)
        return lse - jnp.sum(xq**2, axis=1) / (2 * sq**2) - math.log(m) - 0.5 * d * jnp.log(2 * jnp.pi * sq**2)

    return _per_query(_flat(x), sigma, fn, query_chunk)


def empirical_sigma_score_fn(
    samples: Float[Array, " m *sample_data"], *, chunk_size: int = 1024, query_chunk: int = 1024
):
    """Batched score_fn(x, sigma) (sigma of shape (batch,)) of the smoothed empirical measure of `samples`."""

    def fn(x, sigma):
        return empirical_score(x, samples, sigma, chunk_size=chunk_size, query_chunk=query_chunk)

    return fn
