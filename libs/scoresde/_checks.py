"""Argument checks that give one clear error naming the argument.

Static values (Python numbers, numpy arrays) are checked at trace time with a
`ValueError`; traced values are checked at run time with `equinox.error_if`, so
that the same check works both inside and outside `jax.jit`.
"""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


def is_concrete(value) -> bool:
    try:
        np.asarray(value)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return False
    return True


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}")
    return value


def check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_range(name: str, value, lo: float | None = None, hi: float | None = None, *, strict: bool = False):
    """Check lo <= value <= hi elementwise (lo < value < hi if strict)."""
    left, right = ("(", ")") if strict else ("[", "]")
    bounds = f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
    if is_concrete(value):
        arr = np.asarray(value)
        bad = ~np.isfinite(arr)
        if lo is not None:
            bad |= (arr <= lo) if strict else (arr < lo)
        if hi is not None:
            bad |= (arr >= hi) if strict else (arr > hi)
        if np.any(bad):
            shown = arr if arr.size <= 4 else f"array with {int(bad.sum())} values outside"
            raise ValueError(f"{name} must lie in {bounds}, got {shown}")
        return value
    arr = jnp.asarray(value)
    bad = ~jnp.isfinite(arr)
    if lo is not None:
        bad = bad | ((arr <= lo) if strict else (arr < lo))
    if hi is not None:
        bad = bad | ((arr >= hi) if strict else (arr > hi))
    return eqx.error_if(arr, jnp.any(bad), f"{name} must lie in {bounds}")


def check_decreasing(name: str, values) -> None:
    """Check a static 1-D sequence is positive and strictly decreasing."""
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size < 1:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be positive and finite, got {arr}")
    if np.any(np.diff(arr) >= 0):
        raise ValueError(f"{name} must be strictly decreasing, got {arr}")


def check_shape(name: str, x, expected: tuple[int, ...]) -> None:
    if tuple(jnp.shape(x)) != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)}, got {tuple(jnp.shape(x))}")
