"""Shared jaxtyping aliases, so that public signatures read the same everywhere."""

from collections.abc import Callable

import jaxtyping
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray, UInt32

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
# One PRNG key, or one per sample: typed keys of shape (batch,) or raw uint32 keys of shape (batch, 2).
Keys = PRNGKeyArray | jaxtyping.Key[Array, " batch"] | UInt32[Array, "batch 2"]
Count = int | Int[Array, ""]

__all__ = ["Scalar", "Times", "Batch", "BatchTimes", "ScoreFn", "Key", "Keys", "Count"]
