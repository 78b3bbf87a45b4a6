"""Noising processes: the forward SDEs (VE, VP, sub-VP) and NCSN's sigma ladder."""

from ._abstract import AbstractProcess, AbstractSDE
from ._ladder import SigmaLadder
from ._ve import VESDE
from ._vp import VPSDE, SubVPSDE


def get_sde(name: str, **kwargs) -> AbstractSDE:
    """Build an SDE by name ('ve', 'vp', 'subvp'), as configs spell it."""
    table = {"ve": VESDE, "vp": VPSDE, "subvp": SubVPSDE}
    key = name.lower().replace("-", "").replace("_", "")
    if key not in table:
        raise ValueError(f"sde name={name!r} is not one of 've', 'vp', 'subvp'")
    return table[key](**kwargs)


__all__ = ["AbstractProcess", "AbstractSDE", "SigmaLadder", "VESDE", "VPSDE", "SubVPSDE", "get_sde"]
