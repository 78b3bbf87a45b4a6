"""Sampling with the sampler named in config.sampling.method: unconditional, class-conditional, inpainting.

Class conditioning (model.num_classes = K > 0): label K is the null class, trained when
training.label_dropout > 0. Classifier-free guidance with weight w = sampling.guidance uses
scoresde.guidance.classifier_free_score, s_w = (1 + w) s(x, t, y) - w s(x, t, null) (Ho & Salimans
2022): w = 0 is the plain conditional score, larger w sharpens the class. Inpainting runs
scoresde.guidance.inpaint (predictor-corrector with replacement of the known entries).

Sharded: global sample indices 0..n-1 go in batches of sampling.batch_size, each batch split over
the mesh (on several processes each draws its own rows); sample i's noise comes from
fold_in(key, i) alone, so the samples by index do not depend on the devices or processes. One
jitted `draw(score, sampler, ...)` takes the model (inside `score`) and the sampler as arguments:
one compilation per (sampler, batch shape) per run. TRACES counts its traces (tests read it).
"""

import collections
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from tqdm import tqdm

from scoresde import guidance, parallel, solvers

from . import components, placement
from .score import model_score

TASKS = ("unconditional", "conditional", "inpaint")
INPAINT_METHODS = ("pc", "reverse_sde")  # what scoresde.guidance.inpaint can run
IMAGE_MASKS = ("left_half", "right_half", "top_half", "bottom_half", "center")  # the region to fill in
POINT_MASKS = ("x", "y")  # 2-D data: the coordinate to fill in, given the other one


def check_method(cfg) -> None:
    """sampling.method and its sub-dict (scoresde.solvers), and that the trained model can use them; one line."""
    m = cfg.sampling.method
    solvers.sampler_from_config(cfg.sampling, components.build_process(cfg))
    noise_free = cfg.training.loss in ("ssm", "ssm_vr")
    if noise_free and m != "langevin":
        raise ValueError(
            f"sampling.method={m!r}: a model trained with {cfg.training.loss} has no noise levels; use 'langevin'"
        )
    if m == "langevin" and not noise_free:
        raise ValueError(
            f"sampling.method='langevin' needs a noise-free score (training.loss='ssm' or 'ssm_vr'), "
            f"not training.loss={cfg.training.loss!r}"
        )


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


# ---- sharded sampling -------------------------------------------------------------------
TRACES = collections.Counter()  # traces of draw / draw_inpaint in this process


def build_sampler(cfg, process):
    """The configured sampler (sampling.method, its sub-dict), a Module passed to the jitted draw."""
    return solvers.sampler_from_config(cfg.sampling, process)


def inpaint_sampler(cfg, process):
    """The predictor-corrector inpainting runs: sampling.pc, or sampling.reverse_sde's steps with no corrector."""
    sampler = build_sampler(cfg, process)
    if isinstance(sampler, solvers.ReverseSDE):
        return solvers.PredictorCorrector(sampler.n_steps, sampler.predictor, None, sampler.denoise, sampler.eps,
                                          sampler.ts)  # fmt: skip
    return sampler


def _keys(key, indices):
    """One key per sample: fold_in(key, global index), whatever the batch or device."""
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(indices)


@eqx.filter_jit
def draw(score, sampler, key, indices, labels, data_shape: tuple, sharding: NamedSharding):
    """Samples with global indices `indices` (sharded over the mesh); sample i's noise is fold_in(key, i)."""
    TRACES["draw"] += 1
    keys = _keys(key, jax.lax.with_sharding_constraint(indices, sharding))
    shape = (indices.shape[0], *data_shape)
    sol = sampler.sample(score.process, score.conditioned(labels), shape, key=keys)
    replicated = NamedSharding(sharding.mesh, P())
    return jax.lax.with_sharding_constraint(sol.x, sharding), jax.lax.with_sharding_constraint(sol.nfe, replicated)


@eqx.filter_jit
def draw_inpaint(score, sampler, key, indices, x_known, mask, labels, sharding: NamedSharding):
    """Completions of x_known (rows `indices`, sharded) where `mask` (one example) is False."""
    TRACES["draw_inpaint"] += 1
    keys = _keys(key, jax.lax.with_sharding_constraint(indices, sharding))
    full_mask = jnp.broadcast_to(mask, x_known.shape)
    sol = guidance.inpaint_solution(score.process, score.conditioned(labels), x_known, full_mask, key=keys,
                                    sampler=sampler)  # fmt: skip
    replicated = NamedSharding(sharding.mesh, P())
    return jax.lax.with_sharding_constraint(sol.x, sharding), jax.lax.with_sharding_constraint(sol.nfe, replicated)


def sample_batches(cfg, model, key, n: int, mesh, *, labels=None, guidance_w: float = 0.0, batch_size=None,
                   skip=(), progress: bool = True):  # fmt: skip
    """Yield (batch number j, its sample indices, samples on the host, nfe) for the batches j not in `skip`.

    Batch j holds samples j b .. (j + 1) b - 1 (the last one cut to n). `labels` (n,) condition a
    class-conditional model; without them the unconditional labels (null class or classes in turn).
    """
    b = cfg.sampling.batch_size if batch_size is None else batch_size
    placement.check_batch_size(b, mesh, "sampling.batch_size" if batch_size is None else "batch_size")
    if labels is None:
        labels = unconditional_labels(cfg, n)
    elif len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries for {n} samples")
    process = components.build_process(cfg)
    score = model_score(cfg, placement.on_mesh(model, mesh), process, guidance_w=guidance_w)
    sampler = build_sampler(cfg, process)
    sharding = parallel.batch_sharding(mesh)
    key = parallel.shard_tree(key, parallel.replicated(mesh))
    todo = [j for j in range(math.ceil(n / b)) if j not in set(skip)]
    show = progress and jax.process_index() == 0
    for count, j in enumerate(tqdm(todo, desc="sampling", disable=not show)):
        idx = np.arange(j * b, (j + 1) * b, dtype=np.int32)
        y = None if labels is None else np.asarray(labels, np.int32)[np.minimum(idx, n - 1)]
        idx_d, y_d = placement.place_rows(mesh, idx, y)
        x, nfe = draw(score, sampler, key, idx_d, y_d, components.data_shape(cfg), sharding)
        if count == 0:
            placement.log_rows(x, b)
        keep = min(b, n - j * b)
        yield j, idx[:keep], placement.to_host(x)[:keep], int(jax.device_get(nfe))


def generate(cfg, model, key, n: int, mesh, *, labels=None, guidance_w: float = 0.0, batch_size=None,
             progress: bool = True):  # fmt: skip
    """n samples (sample i from fold_in(key, i)) in sharded batches; returns (numpy samples, nfe per sample)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of samples must be a positive integer, got {n!r}")
    batches = sample_batches(cfg, model, key, n, mesh, labels=labels, guidance_w=guidance_w, batch_size=batch_size,
                             progress=progress)  # fmt: skip
    out = [(x, nfe) for _, _, x, nfe in batches]
    return np.concatenate([x for x, _ in out]), out[-1][1]


def inpaint(cfg, model, key, x_known: np.ndarray, mesh, *, progress: bool = True):
    """Fill in the sampling.mask region of each example of x_known (model layout and scale), sharded by row.

    Returns (completions with the known entries exactly x_known, known mask over one example, nfe per sample).
    """
    n, b = len(x_known), cfg.sampling.batch_size
    placement.check_batch_size(b, mesh)
    keep = known_mask(cfg)
    process = components.build_process(cfg)
    score = model_score(cfg, placement.on_mesh(model, mesh), process)
    sampler = inpaint_sampler(cfg, process)
    sharding = parallel.batch_sharding(mesh)
    key = parallel.shard_tree(key, parallel.replicated(mesh))
    mask = parallel.shard_tree(jnp.asarray(keep), parallel.replicated(mesh))
    labels = unconditional_labels(cfg, n)
    out, nfe = [], 0
    show = progress and jax.process_index() == 0
    for j in tqdm(range(math.ceil(n / b)), desc="inpainting", disable=not show):
        idx = np.arange(j * b, (j + 1) * b, dtype=np.int32)
        rows = np.minimum(idx, n - 1)  # the last batch repeats the last example
        y = None if labels is None else labels[rows]
        idx_d, xk_d, y_d = placement.place_rows(mesh, idx, np.asarray(x_known[rows], np.float32), y)
        x, nfe = draw_inpaint(score, sampler, key, idx_d, xk_d, mask, y_d, sharding)
        if j == 0:
            placement.log_rows(x, b)
        out.append(placement.to_host(x)[: min(b, n - j * b)])
        nfe = int(jax.device_get(nfe))
    return np.concatenate(out), keep, nfe
