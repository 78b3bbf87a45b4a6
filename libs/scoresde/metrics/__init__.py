"""Sample-quality metrics that run anywhere: sliced Wasserstein, MMD, mode statistics."""

from ._classifier import FeatureClassifier, batched_features, batched_predict, load_classifier, save_classifier
from ._frechet import frechet_distance
from ._mmd import mmd
from ._modes import mode_quality, mode_weights, nearest_mode
from ._swd import sliced_wasserstein

__all__ = [
    "frechet_distance",
    "FeatureClassifier",
    "save_classifier",
    "load_classifier",
    "batched_features",
    "batched_predict",
    "sliced_wasserstein",
    "mmd",
    "mode_weights",
    "mode_quality",
    "nearest_mode",
]
