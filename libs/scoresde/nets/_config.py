"""The one config adapter: a backbone's fields, their defaults and types, read from any model config.

Every backbone declares a `Spec`: its fields with complete defaults (the reference's standard
settings, so a config names only what differs), the score-wrapper defaults it was designed for
(parameterization, conditioning), aliases, and the context fields callers fill in for any backbone
(image_size, num_channels, ...). A field whose value is None counts as unset, so a model config may
carry every backbone's fields as placeholders and still swap backbones by `model.name`; a set field of
another registered backbone configures that one and is left alone. A field no backbone has (a typo)
is an error naming it and listing the chosen backbone's fields.
"""

import dataclasses
import numbers
from collections.abc import Collection, Mapping
from typing import Any

# Fields of the training / sampling code, accepted by every backbone.
WRAPPER_FIELDS = ("name", "parameterization", "conditioning", "ema_rate", "compute_dtype", "sigma_data")
# Types of the required (default None) fields every spec may share.
REQUIRED_TYPES = {"image_size": int, "num_channels": int, "dim": int, "in_dim": int, "latent_dim": int}


@dataclasses.dataclass(frozen=True)
class Spec:
    """What a backbone reads from a model config.

    fields: name -> default (None: required unless in `types` with a derived default); the type of a
    field is the default's type or `types[name]`. wrapper: default parameterization / conditioning.
    context: fields callers set for any backbone (accepted, ignored unless also in `fields`).
    aliases: alternative name -> field name (e.g. nf -> ngf).
    """

    name: str
    fields: Mapping[str, Any]
    wrapper: Mapping[str, str] = dataclasses.field(default_factory=dict)
    context: tuple[str, ...] = ()
    aliases: Mapping[str, str] = dataclasses.field(default_factory=dict)
    types: Mapping[str, type] = dataclasses.field(default_factory=dict)
    optional: tuple[str, ...] = ()  # fields whose None default means "derived" rather than "required"

    def field_type(self, field: str) -> type:
        if field in self.types:
            return self.types[field]
        default = self.fields[field]
        if default is None:
            return REQUIRED_TYPES[field]
        return type(default) if not isinstance(default, list) else tuple

    def valid(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.fields, *self.aliases, *self.context, *WRAPPER_FIELDS)))


def config_items(cfg) -> dict[str, Any]:
    """The set (non-None) fields of a ConfigDict, dict or attribute object."""
    if hasattr(cfg, "items"):
        items = dict(cfg.items())
    else:
        items = {k: v for k, v in vars(cfg).items() if not k.startswith("_")}
    return {k: v for k, v in items.items() if v is not None}


def _coerce(field: str, value, kind: type, spec_name: str):
    where = f"model.{field}"
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be True or False for model.name={spec_name!r}, got {value!r}")
        return value
    if kind is int:
        integral = isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not integral:
            raise ValueError(f"{where} must be an integer for model.name={spec_name!r}, got {value!r}")
        return int(value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"{where} must be a number for model.name={spec_name!r}, got {value!r}")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a string for model.name={spec_name!r}, got {value!r}")
        return value
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise ValueError(f"{where} must be a sequence for model.name={spec_name!r}, got {value!r}")
    return tuple(value)


def resolve(spec: Spec, cfg, others: Collection[str] = ()) -> dict[str, Any]:
    """The backbone's keyword arguments: the config's set fields over the defaults, type-checked.

    `others`: fields of the other registered backbones (accepted and ignored). Raises one ValueError
    naming the first unknown field (with the valid ones), a field of the wrong type, or a missing
    required field.
    """
    items = config_items(cfg)
    valid = spec.valid()
    for field in items:
        if field not in valid and field not in others:
            raise ValueError(
                f"model.{field} is not a field of model.name={spec.name!r}; valid fields: {', '.join(valid)}"
            )
    for alias, target in spec.aliases.items():
        if alias in items:
            if target in items and items[target] != items[alias]:
                raise ValueError(f"model.{target}={items[target]} and model.{alias}={items[alias]} disagree; give one")
            items.setdefault(target, items[alias])
    out = {}
    for field, default in spec.fields.items():
        if field in items:
            out[field] = _coerce(field, items[field], spec.field_type(field), spec.name)
        elif default is None and field not in spec.optional:
            raise ValueError(f"model.{field} is required for model.name={spec.name!r}")
        else:
            out[field] = tuple(default) if isinstance(default, list) else default
    return out


def wrapper_settings(spec: Spec, cfg) -> dict[str, str]:
    """parameterization / conditioning: the config's if set, else the backbone's standard ones."""
    items = config_items(cfg)
    return {k: items.get(k, spec.wrapper.get(k)) for k in ("parameterization", "conditioning")}
