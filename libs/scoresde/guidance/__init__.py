"""Conditional sampling: inpainting by replacement, classifier and classifier-free guidance."""

from ._guided import classifier_free_score, classifier_guided_score
from ._inpaint import inpaint

__all__ = ["inpaint", "classifier_guided_score", "classifier_free_score"]
