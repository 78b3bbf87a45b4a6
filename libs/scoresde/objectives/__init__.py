"""Score-matching objectives: continuous DSM, NCSN multi-sigma DSM, DDPM eps, sliced and exact SM."""

from ._ddpm import ddpm_loss
from ._dsm import dsm_loss, sample_times
from ._ncsn import geometric_sigmas, ncsn_loss
from ._sliced import draw_probes, exact_score_matching, sliced_score_matching

__all__ = [
    "dsm_loss",
    "sample_times",
    "ncsn_loss",
    "geometric_sigmas",
    "ddpm_loss",
    "sliced_score_matching",
    "exact_score_matching",
    "draw_probes",
]
