"""The run record: the resolved config saved as <workdir>/config.json, and what a later run may change."""

import dataclasses
import json
import os
from collections.abc import Callable

from ml_collections import ConfigDict

from ._config import from_plain, to_plain

CONFIG_FILE = "config.json"
_ABSENT = "<absent>"


@dataclasses.dataclass(frozen=True)
class RunFields:
    """Config fields that define a trained run: a resumed train, a sample or an eval may not change them.

    `fixed`: field paths or groups ('model' covers model.*); `exempt`: paths or groups under them that
    may change anyway (bookkeeping such as training.n_steps: a resume may train longer).
    """

    fixed: tuple[str, ...]
    exempt: tuple[str, ...] = ()

    def defines_run(self, path: str) -> bool:
        under = lambda prefix: path == prefix or path.startswith(prefix + ".")  # noqa: E731
        return any(map(under, self.fixed)) and not any(map(under, self.exempt))


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def first_difference(saved: dict, current: dict, fields: RunFields) -> tuple[str, object, object] | None:
    """(path, saved value, current value) of the first run-defining field that differs, in config order; or None."""
    a, b = _flat(saved), _flat(current)
    for path in [*b, *(p for p in a if p not in b)]:
        if fields.defines_run(path) and a.get(path, _ABSENT) != b.get(path, _ABSENT):
            return path, a.get(path, _ABSENT), b.get(path, _ABSENT)
    return None


def record_path(workdir: str) -> str:
    return os.path.join(workdir, CONFIG_FILE)


def read_record(workdir: str) -> dict | None:
    """The saved config (plain dicts) of the run in `workdir`, or None if it has none yet."""
    path = record_path(workdir)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(
            f"{path} is not valid JSON ({e.msg}, line {e.lineno}): repair it or use a new --workdir"
        ) from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text file: repair it or use a new --workdir") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a {type(data).__name__}, expected the run's config (a JSON object)")
    return data


def write_json_atomic(path: str, data) -> None:
    """Write JSON to `path` through a temporary file and os.replace: readers see the old or the new file."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def check_against_record(cfg: ConfigDict, saved: dict, fields: RunFields, *, where: str, mode: str) -> None:
    """One ValueError line naming the first run-defining field of `cfg` that differs from the saved config."""
    diff = first_difference(saved, to_plain(cfg), fields)
    if diff is None:
        return
    path, was, now = diff
    groups = ", ".join(fields.fixed)
    raise ValueError(
        f"{path}={now!r} differs from the run's {where} ({path}={was!r}): --mode={mode} may not change "
        f"the fields that define the run ({groups}); use another --workdir for another run"
    )


def resolve_fields(fields: RunFields | Callable[[ConfigDict], RunFields], saved: dict) -> RunFields:
    """The run's field groups: fixed, or decided by the saved config (e.g. SD flow's method)."""
    return fields if isinstance(fields, RunFields) else fields(from_plain(saved))
