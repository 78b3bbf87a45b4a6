"""Pytree leaves under their path names: `params/down/0/conv/weight` (as a nested dict orbax stores and reads alone).

Each path entry (attribute, dict key, sequence index) becomes one name part, made filesystem-safe
(characters outside [A-Za-z0-9_-] become `_`); two leaves whose safe names collide are one error.
A tree that is a single leaf is named `value`. Checkpoints of the old layout stored the flat leaf
list under `00000`, `00001`, ...; `is_legacy` recognises them.
"""

import re

import jax

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_LEGACY = re.compile(r"\d{5}")


def _part(entry) -> str:
    if isinstance(entry, jax.tree_util.GetAttrKey):
        raw = entry.name
    elif isinstance(entry, jax.tree_util.DictKey):
        raw = str(entry.key)
    elif isinstance(entry, jax.tree_util.SequenceKey):
        raw = str(entry.idx)
    elif isinstance(entry, jax.tree_util.FlattenedIndexKey):
        raw = str(entry.key)
    else:
        raw = str(entry)
    return _UNSAFE.sub("_", raw) or "_"


def leaf_names(tree) -> list[str]:
    """The path name of every leaf of `tree`, in `tree_leaves` order; one-line ValueError on a collision."""
    paths = [p for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]
    names = ["/".join(_part(e) for e in p) or "value" for p in paths]
    seen = {}
    for name, path in zip(names, paths, strict=True):
        if name in seen:
            raise ValueError(
                f"leaves {jax.tree_util.keystr(seen[name])} and {jax.tree_util.keystr(path)} "
                f"both save as {name!r}: rename one"
            )
        seen[name] = path
    return names


def nest(names: list[str], leaves: list) -> dict:
    """{'a/b': x} -> {'a': {'b': x}}: the nested dict orbax saves under these names."""
    out = {}
    for name, leaf in zip(names, leaves, strict=True):
        *parents, last = name.split("/")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = leaf
    return out


def flatten(nested) -> dict:
    """The inverse of `nest`: {'a': {'b': x}} -> {'a/b': x} (any mapping of mappings)."""
    out = {}

    def walk(prefix, node):
        if hasattr(node, "keys") and hasattr(node, "__getitem__"):
            for k in node.keys():
                walk(f"{prefix}/{k}" if prefix else str(k), node[k])
        else:
            out[prefix] = node

    walk("", nested)
    return out


def is_legacy(names) -> bool:
    """Whether stored names are the old layout's leaf indices (`00000`, `00001`, ...)."""
    names = list(names)
    return bool(names) and all(_LEGACY.fullmatch(n) for n in names)
