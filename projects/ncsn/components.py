"""What a config turns into: the SDE (or sigma ladder), the backbone, the loss, the data, the score function."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import ConfigDict

from scoresde import data, nets, objectives
from scoresde import sde as sdes

LOSSES = ("dsm", "ncsn", "ddpm", "ssm", "ssm_vr")
DATASETS = ("toy2d", "digits", "cifar10", "image_folder")


def num_classes(cfg) -> int:
    """Classes the model is conditioned on (0: unconditional); label `num_classes` is the null class."""
    return int(cfg.model.get("num_classes", 0) or 0)


def is_discrete(cfg) -> bool:
    """NCSN v1/v2 style: a ladder of sigmas instead of a continuous-time SDE."""
    return cfg.training.loss == "ncsn"


def build_sde(cfg):
    s = cfg.sde
    if s.name == "ve":
        return sdes.VESDE(sigma_min=s.sigma_min, sigma_max=s.sigma_max)
    return sdes.get_sde(s.name, beta_min=s.beta_min, beta_max=s.beta_max)


def build_process(cfg):
    """What the samplers run on: NCSN's sigma ladder (training.loss='ncsn', time t = sigma) or the SDE."""
    return sdes.SigmaLadder(sigmas(cfg)) if is_discrete(cfg) else build_sde(cfg)


def sigmas(cfg) -> np.ndarray:
    return objectives.geometric_sigmas(cfg.sde.sigma_max, cfg.sde.sigma_min, cfg.sde.num_scales)


# ---- data -------------------------------------------------------------------------------
def _toy_modes(name: str) -> np.ndarray | None:
    """Component means of the mixture toys (their labels are the nearest mode); None for the others."""
    if name == "25gaussians":
        return 2.0 * np.array([(i, j) for i in range(-2, 3) for j in range(-2, 3)], np.float32)
    if name == "8gaussians":
        ang = 2 * np.pi * np.arange(8) / 8
        return 2.0 * np.stack([np.cos(ang), np.sin(ang)], -1).astype(np.float32)
    if name == "two_modes":
        return np.array([[5.0, 5.0], [-5.0, -5.0]], np.float32)
    return None


def toy_labels(name: str, pts: np.ndarray) -> np.ndarray | None:
    """Labels of 2-D toy points: nearest mode (mixtures), nearest radius (rings); None if the toy has no classes."""
    if name == "rings":
        return np.argmin(np.abs(np.linalg.norm(pts, axis=-1)[:, None] - np.array([1.0, 2.0, 3.0])), -1).astype(np.int32)
    modes = _toy_modes(name)
    if modes is None:
        return None
    return np.argmin(np.sum((pts[:, None] - modes[None]) ** 2, -1), -1).astype(np.int32)


def data_num_classes(cfg) -> int:
    """How many classes the configured data has (0: unlabelled)."""
    d = cfg.data
    if d.name == "toy2d":
        if d.toy == "rings":
            return 3
        modes = _toy_modes(d.toy)
        return 0 if modes is None else len(modes)
    return 10 if d.name in ("digits", "cifar10") else 0


def load_examples(cfg, split: str) -> dict[str, np.ndarray]:
    """The split's examples as arrays: 'image' (n, H, W, C) float32 in model scale (or (n, D) points) and 'label'."""
    d = cfg.data
    if d.name not in DATASETS:
        raise ValueError(f"data.name={d.name!r} is not one of {', '.join(map(repr, DATASETS))}")
    if d.name == "toy2d":
        seed = cfg.seed + (0 if split == "train" else 1)
        pts = data.toy2d(d.toy, d.n_train if split == "train" else d.n_test, seed=seed)
        labels = toy_labels(d.toy, pts)
        return {"image": pts, "label": np.zeros(len(pts), np.int32) if labels is None else labels}
    if d.name == "digits":
        img, lab = data.load_digits(split)
    elif d.name == "cifar10":
        img, lab = data.load_cifar10(d.path, split)
    else:
        img = data.load_image_folder(d.path, d.image_size, channels=d.num_channels)
        lab = np.zeros(len(img), np.int32)
    if img.shape[1] != d.image_size or img.shape[-1] != d.num_channels:
        raise ValueError(
            f"data.image_size={d.image_size} / data.num_channels={d.num_channels} do not match the data's "
            f"{img.shape[1]}x{img.shape[2]}x{img.shape[3]} images"
        )
    return {"image": img, "label": lab}


def to_model_layout(x: np.ndarray, cfg) -> np.ndarray:
    """uint8 NHWC images -> float32 NCHW in the model's scale; toy points pass through."""
    if cfg.data.name == "toy2d":
        return x.astype(np.float32)
    return data.scale(x, cfg.data.centered).transpose(0, 3, 1, 2)


def data_shape(cfg) -> tuple[int, ...]:
    if cfg.data.name == "toy2d":
        return (2,)
    return (cfg.data.num_channels, cfg.data.image_size, cfg.data.image_size)


def make_batches(cfg, examples, *, batch_size: int, process_index: int, process_count: int, seed: int):
    def transform(batch):
        x = batch["image"].astype(np.float32) if cfg.data.name == "toy2d" else to_model_layout(batch["image"], cfg)
        return {"x": x, "label": batch["label"]}

    return data.make_dataset(
        examples,
        batch_size=batch_size,
        seed=seed,
        random_flip=cfg.data.get("random_flip", False) and cfg.data.name != "toy2d",
        process_index=process_index,
        process_count=process_count,
        transform=transform,
    )


# ---- model and loss ---------------------------------------------------------------------
def model_config(cfg) -> ConfigDict:
    """A new registry config: config.model plus the shapes the data implies (the run's config is not touched)."""
    m = ConfigDict(cfg.model.to_dict())
    if cfg.data.name == "toy2d" or m.name == "mlp":
        m.dim = math.prod(data_shape(cfg))
    if cfg.data.name != "toy2d":
        m.image_size = cfg.data.image_size
        m.num_channels = cfg.data.num_channels
    if m.name == "dit" and num_classes(cfg):
        m.class_dropout = 0.0  # labels are dropped once, by the loss (training.label_dropout)
    return m


def build_model(cfg, key):
    return nets.build(model_config(cfg), key)


def check_model(cfg) -> int:
    """Build the backbone abstractly and run it on one abstract input: config errors surface here, cheaply.

    Returns the number of parameters.
    """
    model = eqx.filter_eval_shape(build_model, cfg, jax.random.key(0))
    x = jax.ShapeDtypeStruct(data_shape(cfg), jnp.float32)
    out = eqx.filter_eval_shape(lambda m, x: m(x, jnp.float32(0.5)), model, x)
    if out.shape != x.shape:
        raise ValueError(f"model.name={cfg.model.name!r} maps {x.shape} to {out.shape}; it must keep the data shape")
    if num_classes(cfg):
        try:
            eqx.filter_eval_shape(lambda m, x: m(x, jnp.float32(0.5), label=jnp.int32(0)), model, x)
        except ValueError as e:
            first = str(e).splitlines()[0]
            raise ValueError(f"model.num_classes={num_classes(cfg)}: model.name={cfg.model.name!r} {first}") from None
    return nets.count_params(model)


def check_training_labels(cfg) -> None:
    """A class-conditional model needs labelled data with at most model.num_classes classes."""
    k, p = num_classes(cfg), cfg.training.get("label_dropout", 0.0)
    if k < 0:
        raise ValueError(f"model.num_classes={k} must be >= 0 (0 = unconditional)")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"training.label_dropout={p} must be in [0, 1) (chance of the null class)")
    if k == 0:
        return
    have = data_num_classes(cfg)
    what = f"data.toy={cfg.data.toy!r}" if cfg.data.name == "toy2d" else f"data.name={cfg.data.name!r}"
    if have == 0:
        raise ValueError(f"model.num_classes={k} needs labelled data, but {what} has no labels")
    if k < have:
        raise ValueError(f"model.num_classes={k} is smaller than the {have} classes of {what}")


def _apply(model, x, c, labels):
    """vmap an unbatched net over a batch with a shared scalar condition c and optional labels."""
    if labels is None:
        return jax.vmap(lambda xi: model(xi, c))(x)
    return jax.vmap(lambda xi, yi: model(xi, c, label=yi))(x, labels)


def score_fn(cfg, model, sde, *, key=None, labels=None):
    """The batched score (x, t) of a continuous model, or (x, sigma) of a discrete one; `labels` (batch,) if any."""
    m = cfg.model
    if labels is None and num_classes(cfg):  # a class-conditional model's unconditional score: the null class
        null = num_classes(cfg)
        return lambda x, t: score_fn(cfg, model, sde, key=key, labels=jnp.full(x.shape[:1], null, jnp.int32))(x, t)
    if is_discrete(cfg):
        return nets.sigma_score_fn_from_net(
            model, parameterization=m.parameterization, conditioning=m.conditioning, key=key, labels=labels
        )
    if cfg.training.loss in ("ssm", "ssm_vr"):
        return lambda x, t: _apply(model, x, jnp.float32(0.0), labels)
    return nets.score_fn_from_net(
        model, sde, parameterization=m.parameterization, conditioning=m.conditioning, key=key, labels=labels
    )


def drop_labels(cfg, labels, key):
    """Labels with each one replaced by the null class w.p. training.label_dropout (classifier-free guidance)."""
    k, p = num_classes(cfg), cfg.training.get("label_dropout", 0.0)
    if k == 0:
        return None
    if p == 0:
        return labels
    return jnp.where(jax.random.bernoulli(key, p, labels.shape), k, labels)


def make_loss(cfg, sde):
    """loss(model, batch, key) -> scalar for config.training.loss."""
    t = cfg.training
    if t.loss not in LOSSES:
        raise ValueError(f"training.loss={t.loss!r} is not one of {', '.join(map(repr, LOSSES))}")
    ladder = sigmas(cfg) if is_discrete(cfg) else None

    def loss(model, batch, key):
        k_drop, k_loss = jax.random.split(key)
        k_label = jax.random.fold_in(key, 2)  # a third stream; unconditional runs keep their keys
        drop = k_drop if cfg.model.get("dropout", 0.0) > 0 else None
        x = batch["x"]
        y = drop_labels(cfg, batch["label"], k_label)
        if t.loss == "dsm":
            fn = score_fn(cfg, model, sde, key=drop, labels=y)
            return objectives.dsm_loss(
                sde, fn, x, k_loss, likelihood_weighting=t.likelihood_weighting, reduce_mean=t.reduce_mean, eps=t.eps
            )
        if t.loss == "ncsn":
            return objectives.ncsn_loss(
                score_fn(cfg, model, sde, key=drop, labels=y), ladder, x, k_loss, reduce_mean=t.reduce_mean
            )
        if t.loss == "ddpm":
            eps_net = nets.score_fn_from_net(
                model, sde, parameterization="score", conditioning=cfg.model.conditioning, labels=y
            )
            return objectives.ddpm_loss(sde, eps_net, x, k_loss, eps=t.eps)
        fn = lambda z: _apply(model, z, jnp.float32(0.0), y)  # noqa: E731
        return objectives.sliced_score_matching(fn, x, k_loss, variance_reduction=t.loss == "ssm_vr")

    return loss
