"""Sample-quality metrics: sliced Wasserstein, MMD, mode statistics; FID / IS / KID with pytorch-fid's Inception."""

from ._classifier import FeatureClassifier, batched_features, batched_predict, load_classifier, save_classifier
from ._frechet import frechet_distance
from ._inception import FID_SIZE, InceptionV3, preprocess
from ._inception_scores import frechet_from_moments, frechet_to_moments, inception_score, kernel_inception_distance
from ._inception_stats import (
    feature_statistics,
    inception_metrics,
    inception_outputs,
    load_statistics,
    save_statistics,
    to_unit_images,
)
from ._inception_weights import (
    WEIGHTS_HELP,
    WEIGHTS_NAME,
    WEIGHTS_URL,
    check_inception_weights,
    from_state_dict,
    load_inception,
    read_state_dict,
    save_inception_npz,
    state_dict_shapes,
    to_state_dict,
    write_torch_state_dict,
)
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
    "InceptionV3",
    "FID_SIZE",
    "preprocess",
    "WEIGHTS_NAME",
    "WEIGHTS_HELP",
    "WEIGHTS_URL",
    "read_state_dict",
    "state_dict_shapes",
    "check_inception_weights",
    "from_state_dict",
    "to_state_dict",
    "load_inception",
    "write_torch_state_dict",
    "save_inception_npz",
    "inception_outputs",
    "to_unit_images",
    "feature_statistics",
    "save_statistics",
    "load_statistics",
    "inception_metrics",
    "inception_score",
    "kernel_inception_distance",
    "frechet_from_moments",
    "frechet_to_moments",
]
