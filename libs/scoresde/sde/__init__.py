"""Forward SDEs of score-based generative modelling: VE, VP and sub-VP."""

from ._abstract import AbstractSDE
from ._ve import VESDE
from ._vp import VPSDE, SubVPSDE


def get_sde(name: str, **kwargs) -> AbstractSDE:
    """Build an SDE by name ('ve', 'vp', 'subvp'), as configs spell it."""
    table = {"ve": VESDE, "vp": VPSDE, "subvp": SubVPSDE}
    key = name.lower().replace("-", "").replace("_", "")
    if key not in table:
        raise ValueError(f"sde name={name!r} is not one of 've', 'vp', 'subvp'")
    return table[key](**kwargs)


__all__ = ["AbstractSDE", "VESDE", "VPSDE", "SubVPSDE", "get_sde"]
