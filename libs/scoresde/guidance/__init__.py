"""Conditional sampling: inpainting by replacement, classifier and classifier-free guidance."""

from ._guided import classifier_free_score, classifier_guided_score
from ._inpaint import inpaint, inpaint_solution

__all__ = ["inpaint", "inpaint_solution", "classifier_guided_score", "classifier_free_score"]
