"""Names of a run's outputs (samples, refinements, flows): the main settings readable, all of them in a digest.

Two runs of one workdir with different settings write different files, so neither overwrites the
other's; the same settings give the same name (a re-run replaces its own output).
"""

import hashlib
import json
from collections.abc import Mapping


def _plain(value):
    if hasattr(value, "to_dict"):  # ConfigDict / FrozenConfigDict
        value = value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def plain_settings(settings: Mapping) -> dict:
    """The settings as JSON-ready dicts (config groups as dicts, tuples as lists)."""
    return _plain(settings)


def settings_digest(settings: Mapping) -> str:
    """6 hex digits of the settings' canonical JSON (sorted keys): equal settings, equal digest."""
    text = json.dumps(_plain(settings), sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def output_name(parts: tuple[str, ...] | list[str], settings: Mapping) -> str:
    """`part_part_..._<digest>`: the readable parts, then the digest of every setting the output depends on."""
    bad = [p for p in parts if not p or "/" in p or p.startswith(".")]
    if bad:
        raise ValueError(f"output name part {bad[0]!r} is empty or not a file name")
    return "_".join([*parts, settings_digest(settings)])


def step_folder(step: int) -> str:
    """`step_0002000`: the folder of the outputs of one checkpoint step (sorts by step)."""
    return f"step_{int(step):07d}"
