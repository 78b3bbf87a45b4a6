"""Shared jaxtyping aliases, so that public signatures read the same everywhere."""

from collections.abc import Callable

from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

# A scalar that may be a Python float or a 0-d array (possibly a tracer).
Scalar = float | Float[ArrayLike, ""]
# Times: a scalar or any batch of times.
Times = Float[ArrayLike, "*batch"]
# A batch of data points: leading batch axis, any data shape after it.
Batch = Float[Array, " batch *data"]
# A batch of times, one per data point.
BatchTimes = Float[Array, " batch"]
# Batched score function contract: score_fn(x, t) -> array shaped like x.
ScoreFn = Callable[[Array, Array], Array]
Key = PRNGKeyArray
Count = int | Int[Array, ""]

__all__ = ["Scalar", "Times", "Batch", "BatchTimes", "ScoreFn", "Key", "Count"]
