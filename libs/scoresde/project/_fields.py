"""Config value checks the projects share: one ValueError line naming the field and what it must be."""

import math


def field(cfg, path: str):
    """The value at a dotted path ('training.n_steps')."""
    node = cfg
    for part in path.split("."):
        node = node[part]
    return node


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def require_positive_int(cfg, *paths: str) -> None:
    for path in paths:
        v = field(cfg, path)
        if not _is_int(v) or v < 1:
            raise ValueError(f"{path}={v!r} must be a positive integer")


def require_nonnegative_int(cfg, *paths: str) -> None:
    for path in paths:
        v = field(cfg, path)
        if not _is_int(v) or v < 0:
            raise ValueError(f"{path}={v!r} must be an integer >= 0")


def require_positive(cfg, *paths: str) -> None:
    for path in paths:
        v = field(cfg, path)
        if not _is_number(v) or not math.isfinite(v) or not v > 0:
            raise ValueError(f"{path}={v!r} must be a positive number")


def require_nonnegative(cfg, *paths: str) -> None:
    for path in paths:
        v = field(cfg, path)
        if not _is_number(v) or not math.isfinite(v) or not v >= 0:
            raise ValueError(f"{path}={v!r} must be a number >= 0")


def require_rate(cfg, *paths: str) -> None:
    """Decay rates (EMA, Adam betas): in [0, 1)."""
    for path in paths:
        v = field(cfg, path)
        if not _is_number(v) or not 0 <= v < 1:
            raise ValueError(f"{path}={v!r} must be in [0, 1)")


def require_choice(cfg, path: str, choices) -> None:
    v = field(cfg, path)
    if v not in choices:
        raise ValueError(f"{path}={v!r} is not one of {', '.join(map(repr, choices))}")


def require_optimizer(cfg, group: str) -> None:
    """An optimizer group as scoresde.train.make_optimizer reads it (optimizer, lr, betas, eps, warmup, ...)."""
    from ..train import OPTIMIZERS

    opt = field(cfg, group)
    require_choice(cfg, f"{group}.optimizer", OPTIMIZERS)
    require_positive(cfg, f"{group}.lr", *(f"{group}.{k}" for k in ("eps",) if k in opt))
    require_rate(cfg, *(f"{group}.{k}" for k in ("beta1", "beta2") if k in opt))
    require_nonnegative_int(cfg, *(f"{group}.{k}" for k in ("warmup",) if k in opt))
    require_nonnegative(cfg, *(f"{group}.{k}" for k in ("weight_decay",) if k in opt))
