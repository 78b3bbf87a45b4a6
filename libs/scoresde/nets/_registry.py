"""Backbones by name: `build(config.model, key)` picks the constructor from `config.model.name`.

A backbone registered with a `Spec` receives its resolved keyword arguments (defaults filled, types
checked, unknown fields refused; see `_config`); `model.compute_dtype` other than float32 wraps any
backbone in `DtypePolicy`.
"""

from collections.abc import Callable

from ._config import Spec, config_items, resolve
from ._policy import DtypePolicy

_BUILDERS: dict[str, Callable] = {}
_SPECS: dict[str, Spec] = {}


def register(name: str, spec: Spec | None = None):
    """Decorator: make `builder` available as `name`.

    With a spec the builder is `builder(kwargs, key)` with the resolved fields; without one it is the
    raw `builder(model_config, key)`.
    """

    def deco(builder):
        if name in _BUILDERS:
            raise ValueError(f"backbone {name!r} is registered twice")
        _BUILDERS[name] = builder
        if spec is not None:
            _SPECS[name] = spec
        return builder

    return deco


def available() -> tuple[str, ...]:
    return tuple(sorted(_BUILDERS))


def spec(name: str) -> Spec:
    """The config spec of a registered backbone (fields, defaults, wrapper settings)."""
    if name not in _SPECS:
        raise ValueError(f"model.name={name!r} is not one of {', '.join(map(repr, sorted(_SPECS)))}")
    return _SPECS[name]


def model_name(model_config) -> str:
    name = config_items(model_config).get("name")
    if name not in _BUILDERS:
        raise ValueError(f"model.name={name!r} is not one of {', '.join(map(repr, available()))}")
    return name


def build(model_config, key):
    """Construct the backbone `model_config.name` from the rest of `model_config`."""
    name = model_name(model_config)
    if name in _SPECS:
        s = _SPECS[name]
        try:
            model = _BUILDERS[name](resolve(s, model_config, others=config_fields()), key)
        except ValueError as e:  # a constructor's check: name the config field it is about
            msg = str(e)
            field = next((f for f in s.fields if msg.startswith((f"{f}=", f"{f} "))), None)
            raise ValueError(f"model.{msg}" if field else msg) from None
    else:
        model = _BUILDERS[name](model_config, key)
    policy = config_items(model_config).get("compute_dtype", "float32")
    if policy != "float32":
        model = DtypePolicy(model, policy)
    return model


def config_fields() -> dict[str, type]:
    """Every field of every registered backbone with its type (for placeholders in model configs)."""
    out: dict[str, type] = {}
    for s in _SPECS.values():
        for field in s.fields:
            out.setdefault(field, s.field_type(field))
        for alias, target in s.aliases.items():
            out.setdefault(alias, s.field_type(target))
    return out


def require(cfg, field: str):
    """A required config field, with an error naming it."""
    value = config_items(cfg).get(field)
    if value is None:
        raise ValueError(f"model.{field} is required for model.name={config_items(cfg).get('name')!r}")
    return value
