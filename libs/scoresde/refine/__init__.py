"""Sample refinement by density-ratio gradient flows: DGflow (Ansari et al. 2021), DDLS (Che et al. 2020)."""

from ._dgflow import F_DIVERGENCES, ddls, dgflow, velocity_scale

__all__ = ["F_DIVERGENCES", "velocity_scale", "dgflow", "ddls"]
