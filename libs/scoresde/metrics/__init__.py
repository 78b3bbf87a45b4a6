"""Sample-quality metrics that run anywhere: sliced Wasserstein, MMD, mode statistics."""

from ._mmd import mmd
from ._modes import mode_quality, mode_weights, nearest_mode
from ._swd import sliced_wasserstein

__all__ = ["sliced_wasserstein", "mmd", "mode_weights", "mode_quality", "nearest_mode"]
