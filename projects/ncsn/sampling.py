"""Sampling with the sampler named in config.sampling.method: unconditional, class-conditional, inpainting.

Class conditioning (model.num_classes = K > 0): label K is the null class, trained when
training.label_dropout > 0. Classifier-free guidance with weight w = sampling.guidance uses
scoresde.guidance.classifier_free_score, s_w = (1 + w) s(x, t, y) - w s(x, t, null) (Ho & Salimans
2022): w = 0 is the plain conditional score, larger w sharpens the class. Inpainting runs
scoresde.guidance.inpaint (predictor-corrector with replacement of the known entries).
"""

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from scoresde import guidance, solvers

from . import components

METHODS = ("pc", "reverse_sde", "ode", "annealed_langevin", "langevin", "edm_heun", "dpm_solver_2m")
TASKS = ("unconditional", "conditional", "inpaint")
INPAINT_METHODS = ("pc", "reverse_sde")  # what scoresde.guidance.inpaint can run
IMAGE_MASKS = ("left_half", "right_half", "top_half", "bottom_half", "center")  # the region to fill in
POINT_MASKS = ("x", "y")  # 2-D data: the coordinate to fill in, given the other one


def check_method(cfg) -> None:
    m = cfg.sampling.method
    if m not in METHODS:
        raise ValueError(f"sampling.method={m!r} is not one of {', '.join(map(repr, METHODS))}")
    if components.is_discrete(cfg) and m != "annealed_langevin":
        raise ValueError(
            f"sampling.method={m!r} needs a continuous SDE; training.loss='ncsn' samples with 'annealed_langevin'"
        )
    if cfg.training.loss in ("ssm", "ssm_vr") and m != "langevin":
        raise ValueError(
            f"sampling.method={m!r}: a model trained with {cfg.training.loss} has no noise levels; use 'langevin'"
        )
    if m == "annealed_langevin" and not components.is_discrete(cfg):
        raise ValueError("sampling.method='annealed_langevin' needs training.loss='ncsn' (a sigma ladder)")


# ---- labels and tasks -------------------------------------------------------------------
def task(cfg) -> str:
    return cfg.sampling.get("task", "unconditional")


def guidance_weight(cfg) -> float:
    """The classifier-free guidance weight w (only the conditional task uses it)."""
    return float(cfg.sampling.get("guidance", 0.0)) if task(cfg) == "conditional" else 0.0


def requested_labels(cfg) -> tuple[int, ...]:
    """sampling.labels: 'all' (cycle through the classes) or comma-separated class indices, e.g. '3' or '1,7'."""
    spec = cfg.sampling.get("labels", "all")
    k = components.data_num_classes(cfg) or components.num_classes(cfg)  # the classes the model was trained on
    if isinstance(spec, str) and spec.strip() == "all":
        return tuple(range(k))
    try:
        labels = tuple(int(v) for v in (spec.split(",") if isinstance(spec, str) else np.ravel(spec)))
    except ValueError:
        raise ValueError(f"sampling.labels={spec!r} must be 'all' or comma-separated classes like '1,7'") from None
    bad = [y for y in labels if not 0 <= y < k]
    if not labels or bad:
        raise ValueError(f"sampling.labels={spec!r}: labels must be in [0, {k}), the classes of the training data")
    return labels


def task_labels(cfg, n: int) -> np.ndarray:
    """The n labels of the conditional task: the requested ones, repeated in turn."""
    return np.resize(np.asarray(requested_labels(cfg), np.int32), n)


def unconditional_labels(cfg, n: int) -> np.ndarray | None:
    """What an unconditional sample feeds the network: nothing (K = 0), the null class (trained with label
    dropout), or else the classes in turn (a mixture of the conditionals with a uniform class prior)."""
    k = components.num_classes(cfg)
    if k == 0:
        return None
    if cfg.training.get("label_dropout", 0.0) > 0:
        return np.full(n, k, np.int32)
    return np.resize(np.arange(components.data_num_classes(cfg) or k, dtype=np.int32), n)


def check_task(cfg) -> None:
    """One-line errors for sampling.task / labels / guidance / mask before anything runs or is written."""
    s, k = cfg.sampling, components.num_classes(cfg)
    name, w = task(cfg), float(s.get("guidance", 0.0))
    dropout = cfg.training.get("label_dropout", 0.0)
    if name not in TASKS:
        raise ValueError(f"sampling.task={name!r} is not one of {', '.join(map(repr, TASKS))}")
    if not w >= 0:
        raise ValueError(f"sampling.guidance={w} must be >= 0 (0 = conditional score, w > 0 = stronger class)")
    if name == "conditional":
        if k == 0:
            raise ValueError(
                "sampling.task='conditional' needs a class-conditional model (trained with model.num_classes > 0)"
            )
        requested_labels(cfg)
        if w > 0 and dropout == 0:
            raise ValueError(
                f"sampling.guidance={w} needs a model trained with training.label_dropout > 0 (an unconditional score)"
            )
    if name == "inpaint":
        if s.method not in INPAINT_METHODS:
            raise ValueError(
                f"sampling.method={s.method!r} cannot inpaint: sampling.task='inpaint' runs with "
                f"{' or '.join(map(repr, INPAINT_METHODS))}"
            )
        masks = POINT_MASKS if cfg.data.name == "toy2d" else IMAGE_MASKS
        if s.get("mask", None) not in masks:
            raise ValueError(f"sampling.mask={s.get('mask', None)!r} is not one of {', '.join(map(repr, masks))}")
        if k and dropout == 0:
            raise ValueError(
                "sampling.task='inpaint' with a class-conditional model needs training.label_dropout > 0 "
                "(the null class is its unconditional score)"
            )


def known_mask(cfg) -> np.ndarray:
    """Boolean mask over one example (data shape): True where the entry is known, False where it is filled in."""
    shape = components.data_shape(cfg)
    missing = np.zeros(shape, bool)
    m = cfg.sampling.mask
    if cfg.data.name == "toy2d":
        missing[POINT_MASKS.index(m)] = True
        return ~missing
    h, w = shape[-2:]
    region = {
        "left_half": (slice(None), slice(None, w // 2)),
        "right_half": (slice(None), slice(w // 2, None)),
        "top_half": (slice(None, h // 2), slice(None)),
        "bottom_half": (slice(h // 2, None), slice(None)),
        "center": (slice(h // 4, h - h // 4), slice(w // 4, w - w // 4)),
    }[m]
    missing[(Ellipsis, *region)] = True
    return ~missing


# ---- samplers ---------------------------------------------------------------------------
def model_score(cfg, model, sde, labels, w: float):
    """The batched score the samplers see: unconditional (labels None), conditional, or guided (w > 0)."""
    if labels is None or w == 0:
        return components.score_fn(cfg, model, sde, labels=labels)
    cond = lambda x, t, y: components.score_fn(cfg, model, sde, labels=y)(x, t)  # noqa: E731
    return guidance.classifier_free_score(cond, labels, w, null_label=components.num_classes(cfg))


def sampler(cfg, model, sde, *, guidance_w: float = 0.0):
    """(key, batch_size, labels or None) -> (samples, nfe) for the configured method."""
    s = cfg.sampling
    check_method(cfg)
    shape_of = lambda b: (b, *components.data_shape(cfg))  # noqa: E731
    score = lambda y: model_score(cfg, model, sde, y, guidance_w)  # noqa: E731
    m = s.method
    if m == "pc":
        return lambda k, b, y=None: solvers.pc(
            sde, score(y), k, shape_of(b), n_steps=s.n_steps, snr=s.snr, n_corrector=s.n_corrector,
            predictor=s.predictor, corrector=s.corrector, eps=s.eps,
        )  # fmt: skip
    if m == "reverse_sde":
        return lambda k, b, y=None: solvers.reverse_sde(
            sde, score(y), k, shape_of(b), n_steps=s.n_steps, predictor=s.predictor, eps=s.eps
        )
    if m == "ode":
        n = s.n_steps if s.ode_solver in ("heun", "euler") else None
        return lambda k, b, y=None: solvers.probability_flow(
            sde, score(y), k, shape_of(b), solver=s.ode_solver, rtol=s.rtol, atol=s.atol, n_steps=n, eps=s.eps
        )
    if m == "edm_heun":
        return lambda k, b, y=None: solvers.edm_heun(
            sde, score(y), k, shape_of(b), n_steps=s.n_steps, churn=s.churn, eps=s.eps
        )
    if m == "dpm_solver_2m":
        return lambda k, b, y=None: solvers.dpm_solver_2m(sde, score(y), k, shape_of(b), n_steps=s.n_steps, eps=s.eps)
    if m == "langevin":

        def run(k, b, y=None):
            k0, k1 = jax.random.split(k)
            x0 = s.init_scale * jax.random.normal(k0, shape_of(b))
            fn = score(y)  # a noise-free model: its condition is ignored
            return solvers.langevin(
                lambda x: fn(x, jnp.zeros(x.shape[:1])), k1, x0, step_size=s.step_size, n_steps=s.n_steps
            )

        return run
    ladder = components.sigmas(cfg)
    return lambda k, b, y=None: solvers.annealed_langevin(
        score(y), ladder, k, shape_of(b), n_steps_each=s.n_steps_each, step_lr=s.step_lr, denoise=s.denoise
    )


def generate(cfg, model, sde, key, n: int, *, labels=None, guidance_w: float = 0.0, progress: bool = True):
    """n samples in batches of sampling.batch_size; returns (numpy samples, nfe per sample).

    `labels` (n,) condition a class-conditional model; without them it draws unconditional samples.
    """
    if labels is None:
        labels = unconditional_labels(cfg, n)
    run = jax.jit(sampler(cfg, model, sde, guidance_w=guidance_w), static_argnums=1)
    b = cfg.sampling.batch_size
    out, nfe = [], 0
    for i in tqdm(range(0, n, b), desc="sampling", disable=not progress or jax.process_index() != 0):
        y = None if labels is None else jnp.asarray(np.resize(labels[i : i + b], b))
        x, nfe = run(jax.random.fold_in(key, i), b, y)
        out.append(np.asarray(jax.device_get(x)))
    return np.concatenate(out)[:n], int(jnp.asarray(nfe))


def inpaint(cfg, model, sde, key, x_known: np.ndarray, *, progress: bool = True):
    """Fill in the sampling.mask region of each example of x_known (model layout and scale).

    Returns (completions with the known entries exactly x_known, known mask over one example, nfe per sample).
    """
    s = cfg.sampling
    keep = known_mask(cfg)
    n, b = len(x_known), s.batch_size
    corrector = "none" if s.method == "reverse_sde" else s.corrector
    predictor = s.predictor

    def run(k, xk, y):
        mask = jnp.broadcast_to(jnp.asarray(keep), xk.shape)
        return guidance.inpaint(
            sde, model_score(cfg, model, sde, y, 0.0), k, xk, mask, n_steps=s.n_steps, predictor=predictor,
            corrector=corrector, n_corrector=s.n_corrector, snr=s.snr, eps=s.eps,
        )  # fmt: skip

    run = jax.jit(run)
    labels = unconditional_labels(cfg, b)
    y = None if labels is None else jnp.asarray(labels)
    out, nfe = [], 0
    for i in tqdm(range(0, n, b), desc="inpainting", disable=not progress or jax.process_index() != 0):
        chunk = x_known[i : i + b]
        padded = np.resize(chunk, (b, *chunk.shape[1:]))  # the last batch repeats its examples
        x, nfe = run(jax.random.fold_in(key, i), jnp.asarray(padded), y)
        out.append(np.asarray(jax.device_get(x))[: len(chunk)])
    return np.concatenate(out), keep, int(jnp.asarray(nfe))
