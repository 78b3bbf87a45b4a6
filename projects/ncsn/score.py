"""The trained backbone as a batched score s(x, t): an equinox Module, so jitted samplers take it as an argument.

Its weights are traced inputs of the compiled program (never constants baked into it), so every
snapshot, checkpoint and eval batch reuses one compilation. Class conditioning: label K =
model.num_classes is the null class; guidance weight w > 0 gives classifier-free guidance
(1 + w) s(x, t, y) - w s(x, t, null) (Ho & Salimans 2022).
"""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array

from scoresde import guidance, nets

from . import components

KINDS = ("sde", "ladder", "noise_free")  # t is the SDE time / t is sigma (NCSN) / no noise condition (SSM)


class ModelScore(eqx.Module):
    """s(x, t) of `model` on `process`; `labels` (batch,) condition a class-conditional model (None: null class)."""

    model: eqx.Module
    process: eqx.Module
    kind: str = eqx.field(static=True)
    parameterization: str = eqx.field(static=True)
    conditioning: str = eqx.field(static=True)
    num_classes: int = eqx.field(static=True, default=0)
    guidance_w: float = eqx.field(static=True, default=0.0)
    labels: Array | None = None

    def conditioned(self, labels) -> "ModelScore":
        """The same score with these per-sample labels (None: unconditional)."""
        return dataclasses.replace(self, labels=labels)

    def _plain(self, x, t, labels):
        if self.kind == "noise_free":
            c = jnp.float32(0.0)
            if labels is None:
                return jax.vmap(lambda xi: self.model(xi, c))(x)
            return jax.vmap(lambda xi, yi: self.model(xi, c, label=yi))(x, labels)
        if self.kind == "ladder":
            fn = nets.sigma_score_fn_from_net(
                self.model, parameterization=self.parameterization, conditioning=self.conditioning, labels=labels
            )
        else:
            fn = nets.score_fn_from_net(
                self.model, self.process, parameterization=self.parameterization,
                conditioning=self.conditioning, labels=labels,
            )  # fmt: skip
        return fn(x, t)

    def __call__(self, x, t):
        labels, k = self.labels, self.num_classes
        if k and labels is None:  # a class-conditional model's unconditional score: the null class
            labels = jnp.full(x.shape[:1], k, jnp.int32)
        if labels is None or self.guidance_w == 0:
            return self._plain(x, t, labels)
        guided = guidance.classifier_free_score(self._plain, labels, self.guidance_w, null_label=k)
        return guided(x, t)


def kind(cfg) -> str:
    if components.is_discrete(cfg):
        return "ladder"
    return "noise_free" if cfg.training.loss in ("ssm", "ssm_vr") else "sde"


def model_score(cfg, model, process, *, guidance_w: float = 0.0) -> ModelScore:
    """The score the samplers see for this config's model (parameterization and conditioning from model.*)."""
    m = cfg.model
    return ModelScore(
        model, process, kind(cfg), m.parameterization, m.conditioning,
        num_classes=components.num_classes(cfg), guidance_w=float(guidance_w),
    )  # fmt: skip
