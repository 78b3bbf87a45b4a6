"""Filling a network's parameters from named reference arrays, with one-line errors on any mismatch.

A weight map is a list of `Slot`s: the reference's name of an array, the leaf of our network it
fills, and how the layouts differ ('same', 'T' for a transposed matrix, 'hwio' for a Flax conv kernel),
optionally the index of the leaf's leading (stacked) axis. `fill` checks every shape before anything is
built, refuses unused reference arrays that are not known to be unused, and returns the network with
every parameter replaced (the template may be abstract: `eqx.filter_eval_shape` output).
"""

import dataclasses
from collections.abc import Callable, Iterable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

LAYOUTS = ("same", "T", "hwio")


@dataclasses.dataclass(frozen=True)
class Slot:
    key: str
    leaf: object
    layout: str = "same"
    index: int | None = None  # position along the leaf's leading axis (DiT's stacked blocks)


def _ours_shape(slot: Slot) -> tuple[int, ...]:
    shape = tuple(slot.leaf.shape)
    return shape[1:] if slot.index is not None else shape


def reference_shape(slot: Slot) -> tuple[int, ...]:
    """The shape the reference stores for this slot."""
    shape = _ours_shape(slot)
    if slot.layout == "T":
        return shape[::-1]
    if slot.layout == "hwio":  # ours (out, in, kh, kw)
        return (shape[2], shape[3], shape[1], shape[0])
    return shape


def _to_ours(arr: np.ndarray, layout: str) -> np.ndarray:
    if layout == "T":
        return arr.T
    if layout == "hwio":
        return arr.transpose(3, 2, 0, 1)
    return arr


def fill(
    template,
    slots: Iterable[Slot],
    source: Mapping[str, object],
    *,
    where: str,
    read: Callable[[object], np.ndarray] = np.asarray,
    ignore: Callable[[str], bool] = lambda key: False,
):
    """`template` with every inexact-array leaf taken from `source` through `slots`.

    `source` maps reference names to arrays (or lazy tensors with `.shape`, read by `read`); `where`
    names the checkpoint in error messages. Errors (ValueError, one line): a missing name, a shape that
    does not fit (name, expected, found), a reference array no slot uses (unless `ignore(name)`).
    """
    slots = list(slots)
    for slot in slots:
        if slot.key not in source:
            raise ValueError(
                f"{where}: no parameter {slot.key!r} (expected shape {reference_shape(slot)}): "
                "the checkpoint is of another architecture or config"
            )
        found, want = tuple(source[slot.key].shape), reference_shape(slot)
        if found != want:
            raise ValueError(
                f"{where}: parameter {slot.key!r} has shape {found}, expected {want}: "
                "the checkpoint is of another architecture or config"
            )
    used = {slot.key for slot in slots}
    for key in source:
        if key not in used and not ignore(key):
            raise ValueError(
                f"{where}: parameter {key!r} (shape {tuple(source[key].shape)}) has no place in this model: "
                "the checkpoint is of another architecture or config"
            )

    whole: dict[int, np.ndarray] = {}
    stacked: dict[int, dict[int, np.ndarray]] = {}
    for slot in slots:
        value = _to_ours(read(source[slot.key]), slot.layout).astype(slot.leaf.dtype)
        if slot.index is None:
            if id(slot.leaf) in whole:
                raise ValueError(f"{where}: internal error, two reference arrays fill the same parameter")
            whole[id(slot.leaf)] = value
        else:
            stacked.setdefault(id(slot.leaf), {})[slot.index] = value
    leaves = {id(leaf): leaf for leaf in (s.leaf for s in slots)}
    for leaf_id, parts in stacked.items():
        n = leaves[leaf_id].shape[0]
        if sorted(parts) != list(range(n)):
            raise ValueError(f"{where}: {n} stacked blocks expected, the checkpoint fills {sorted(parts)}")
        whole[leaf_id] = np.stack([parts[i] for i in range(n)])

    def replace(leaf):
        if id(leaf) in whole:
            return jnp.asarray(whole[id(leaf)])
        if hasattr(leaf, "shape") and hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jnp.inexact):
            raise ValueError(f"{where}: internal error, a parameter of shape {leaf.shape} has no reference array")
        return leaf

    return jax.tree_util.tree_map(replace, template)
