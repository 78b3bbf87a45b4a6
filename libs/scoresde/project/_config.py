"""Config files and `--config.a.b=value` overrides, read with one-line errors; frozen once resolved."""

import ast
import copy
import difflib
import importlib.util
import os

from ml_collections import ConfigDict, FrozenConfigDict
from ml_collections.config_flags import config_path

_TRUE, _FALSE = ("true", "t", "1", "yes", "y"), ("false", "f", "0", "no", "n")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def load_config_file(path: str) -> ConfigDict:
    """get_config() of the Python file at `path`; a missing, unparsable or failing file is one ValueError line."""
    where = f"--config={path!r}"
    if not path:
        raise ValueError("--config= is empty: give a config file with get_config(), e.g. --config=configs/toy2d.py")
    if not os.path.exists(path):
        raise ValueError(f"{where}: no such file (expected a Python file with get_config())")
    if not os.path.isfile(path):
        raise ValueError(f"{where} is not a file (expected a Python file with get_config())")
    name = "_config_" + "".join(c if c.isalnum() else "_" for c in os.path.abspath(path))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{where} is not a Python file (expected a .py file with get_config())")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise ValueError(f"{where} does not parse: {e.msg} (line {e.lineno})") from None
    except Exception as e:  # the file's own import-time error, named in one line
        raise ValueError(f"{where} failed to load: {type(e).__name__}: {_first_line(e)}") from None
    if not callable(getattr(module, "get_config", None)):
        raise ValueError(f"{where} has no get_config() function")
    try:
        cfg = module.get_config()
    except Exception as e:
        raise ValueError(f"{where}: get_config() raised {type(e).__name__}: {_first_line(e)}") from None
    if not isinstance(cfg, ConfigDict):
        raise ValueError(
            f"{where}: get_config() returned a {type(cfg).__name__}, expected an ml_collections.ConfigDict"
        )
    return cfg


def field_paths(cfg) -> list[str]:
    """Every leaf field as a dotted path, in the config's order (groups are recursed into, not listed)."""
    out = []
    for key, value in cfg.items():
        if isinstance(value, ConfigDict):
            out.extend(f"{key}.{sub}" for sub in field_paths(value))
        else:
            out.append(key)
    return out


def _unknown_field(path: str, paths: list[str]) -> ValueError:
    close = difflib.get_close_matches(path, paths, n=1)
    if close:
        return ValueError(f"unknown config field {path}; did you mean {close[0]}?")
    parent = path.rpartition(".")[0]
    siblings = [p[len(parent) + 1 :] for p in paths if parent and p.startswith(parent + ".")]
    if siblings:
        shown = ", ".join(siblings[:10]) + (f", ... ({len(siblings)} fields)" if len(siblings) > 10 else "")
        return ValueError(f"unknown config field {path}; the fields of {parent} are: {shown}")
    return ValueError(f"unknown config field {path} (no field of that name or close to it)")


def _parse_bool(raw: str):
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ValueError


def _parse_int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        return int(raw, 0)  # 0x10, 0o7, 0b101 as absl's integer flags


def _parse_tuple(raw: str) -> tuple:
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return (raw,)  # one string element, as ml_collections' tuple parser
    return tuple(value) if isinstance(value, tuple | list) else (value,)


def _parse_literal(raw: str):
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


_PARSERS = {bool: (_parse_bool, "a bool (true/false)"), int: (_parse_int, "an int"), float: (float, "a float"),
            str: (str, "a string"), tuple: (_parse_tuple, "a tuple, e.g. '(1, 2)'")}  # fmt: skip


def parse_value(path: str, raw: str | None, kind: type, current=0):
    """`raw` read as the field's type (bool, int, float, str, tuple; untyped None: a Python literal or a string).

    'none' unsets a field only if it is unset now (a typed placeholder such as the model's backbone fields).
    """
    if raw is None:
        if kind is bool:
            return True
        raise ValueError(f"--config.{path} needs a value: --config.{path}=VALUE")
    if kind is type(None):
        return _parse_literal(raw)
    if current is None and raw.lower() == "none":
        return None
    parse, expected = _PARSERS.get(kind, (None, None))
    if parse is None:
        raise ValueError(f"--config.{path}: a field of type {kind.__name__} cannot be set on the command line")
    try:
        return parse(raw)
    except ValueError:
        raise ValueError(f"--config.{path}={raw!r} is not {expected} (the field's type)") from None


def override(cfg: ConfigDict, overrides) -> ConfigDict:
    """A copy of `cfg` with each (path, raw value) set; unknown fields and unparsable values are one line."""
    out = copy.deepcopy(cfg)
    paths = field_paths(out)
    groups = {p.rsplit(".", i)[0] for p in paths for i in range(1, p.count(".") + 1)}
    for path, raw in overrides:
        if path in groups:
            raise ValueError(f"--config.{path} is a group of fields; set one of them, e.g. --config.{path}.FIELD=VALUE")
        if path not in paths:
            raise _unknown_field(path, paths)
        value = parse_value(path, raw, config_path.get_type(path, out), config_path.get_value(path, out))
        parent, _, leaf = path.rpartition(".")
        node = out
        for part in parent.split(".") if parent else ():
            node = node[part]
        try:
            node[leaf] = value
        except (TypeError, ValueError) as e:  # a typed placeholder refusing the value
            raise ValueError(f"--config.{path}={raw!r}: {_first_line(e)}") from None
    return out


def freeze(cfg: ConfigDict) -> FrozenConfigDict:
    """The resolved config, immutable from here on (lists become tuples)."""
    return FrozenConfigDict(cfg)


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def to_plain(cfg) -> dict:
    """The config as JSON-ready nested dicts (tuples as lists, references resolved)."""
    return _plain(cfg.to_dict())


def _tuples(value):
    if isinstance(value, dict):
        return ConfigDict({k: _tuples(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def from_plain(data: dict) -> ConfigDict:
    """A ConfigDict back from `to_plain`'s dicts (lists back to tuples, as the configs write them)."""
    cfg = _tuples(data)
    cfg.lock()
    return cfg
