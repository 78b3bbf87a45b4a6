"""Backbones by name: `build(config.model, key)` picks the constructor from `config.model.name`."""

from collections.abc import Callable

_BUILDERS: dict[str, Callable] = {}


def register(name: str):
    """Decorator: make `builder(model_config, key)` available as `name`."""

    def deco(builder):
        if name in _BUILDERS:
            raise ValueError(f"backbone {name!r} is registered twice")
        _BUILDERS[name] = builder
        return builder

    return deco


def available() -> tuple[str, ...]:
    return tuple(sorted(_BUILDERS))


def build(model_config, key):
    """Construct the backbone `model_config.name` from the rest of `model_config`."""
    name = model_config.get("name") if hasattr(model_config, "get") else getattr(model_config, "name", None)
    if name not in _BUILDERS:
        raise ValueError(f"model.name={name!r} is not one of {', '.join(map(repr, available()))}")
    model = _BUILDERS[name](model_config, key)
    policy = model_config.get("compute_dtype", "float32") if hasattr(model_config, "get") else "float32"
    if policy not in (None, "float32") and not hasattr(model, "compute_dtype"):  # DiT casts natively
        from ._policy import DtypePolicy

        model = DtypePolicy(model, policy)
    return model


def require(cfg, field: str):
    """A required config field, with an error naming it."""
    value = cfg.get(field) if hasattr(cfg, "get") else getattr(cfg, field, None)
    if value is None:
        raise ValueError(f"model.{field} is required for model.name={cfg.get('name')!r}")
    return value
