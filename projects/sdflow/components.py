"""What a config turns into: source and target sample sets (and mixtures when exact), the sigma schedule, step sizes."""

import math

import numpy as np

from scoresde import data, oracle

TOYS = data.TOY2D
NAMES = ("gaussian", *TOYS, "digits", "cifar10")
MIXTURES = {"25gaussians": oracle.grid_mixture, "two_modes": oracle.two_mode_mixture}


def _images(name: str, path: str, split: str, side: str) -> np.ndarray:
    """float32 NCHW images in [-1, 1]; `side` ('target' or 'source') names the path field in errors."""
    try:
        img, _ = data.load_digits(split) if name == "digits" else data.load_cifar10(path, split)
    except ValueError as e:  # the library names its own field
        raise ValueError(str(e).replace("data.path", f"{side}.path")) from None
    return data.scale(img, True).transpose(0, 3, 1, 2).astype(np.float32)


def target_samples(cfg, split: str) -> np.ndarray:
    """The target's train (the kernel proxy / training data) or test (metrics) samples."""
    t = cfg.target
    if t.name not in NAMES or t.name == "gaussian":
        raise ValueError(f"target.name={t.name!r} is not one of {', '.join(map(repr, NAMES[1:]))}")
    n = t.n if split == "train" else t.n_test
    if n < 1:
        raise ValueError(f"target.{'n' if split == 'train' else 'n_test'}={n}: the target sample set is empty")
    if t.name in TOYS:
        return data.toy2d(t.name, n, seed=cfg.seed + (10 if split == "train" else 11))
    x = _images(t.name, t.path, split, "target")
    if len(x) < n:
        raise ValueError(f"target.{'n' if split == 'train' else 'n_test'}={n} exceeds the {len(x)} {split} images")
    return x[:n]


def data_shape(cfg) -> tuple[int, ...]:
    name = cfg.target.name
    if name in TOYS:
        return (2,)
    return (1, 8, 8) if name == "digits" else (3, 32, 32)


def source_samples(cfg) -> np.ndarray:
    """The initial particles: n_particles draws of the source, in the source's own shape."""
    s, n = cfg.source, cfg.flow.n_particles
    if s.name not in NAMES:
        raise ValueError(f"source.name={s.name!r} is not one of {', '.join(map(repr, NAMES))}")
    if n < 1:
        raise ValueError(f"flow.n_particles={n}: the source sample set is empty")
    if s.name == "gaussian":
        if not s.std > 0:
            raise ValueError(f"source.std={s.std} must be positive")
        rng = np.random.default_rng(cfg.seed + 20)
        return (s.std * rng.standard_normal((n, *data_shape(cfg)))).astype(np.float32)
    if s.name in TOYS:
        return data.toy2d(s.name, n, seed=cfg.seed + 21)
    x = _images(s.name, s.path, "train", "source")
    if len(x) < n:
        raise ValueError(f"flow.n_particles={n} exceeds the {len(x)} source images")
    return x[:n]


def check_shapes(source: np.ndarray, target: np.ndarray) -> None:
    if source.shape[1:] != target.shape[1:]:
        raise ValueError(
            f"source and target must have the same data shape, got source {source.shape[1:]} and target "
            f"{target.shape[1:]}"
        )


def target_mixture(cfg) -> oracle.GaussianMixture:
    """The target's exact law (proxy.target=exact): only for Gaussian-mixture targets."""
    if cfg.target.name not in MIXTURES:
        raise ValueError(
            f"proxy.target='exact' needs a Gaussian-mixture target ({', '.join(map(repr, MIXTURES))}), "
            f"got target.name={cfg.target.name!r}"
        )
    return MIXTURES[cfg.target.name]()


def sigmas(cfg) -> np.ndarray:
    """The annealing schedule sigma_1 > ... > sigma_L (geometric, or flow.sigmas given explicitly)."""
    f = cfg.flow
    if f.sigmas:
        try:
            s = np.array([float(v) for v in str(f.sigmas).split(",")])
        except ValueError:
            raise ValueError(f"flow.sigmas={f.sigmas!r} must be comma-separated numbers") from None
        if not np.all(np.isfinite(s)) or np.any(s <= 0) or np.any(np.diff(s) >= 0):
            raise ValueError(f"flow.sigmas={f.sigmas!r} must be positive and strictly decreasing")
        return s
    if f.n_levels < 1:
        raise ValueError(f"flow.n_levels={f.n_levels} must be a positive integer")
    if not f.sigma_min > 0:
        raise ValueError(f"flow.sigma_min={f.sigma_min} must be positive")
    if f.n_levels == 1:
        return np.array([float(f.sigma_min)])
    if not f.sigma_max > f.sigma_min:
        raise ValueError(
            f"flow.sigma_max={f.sigma_max} must exceed flow.sigma_min={f.sigma_min}: the schedule must decrease"
        )
    return np.geomspace(f.sigma_max, f.sigma_min, f.n_levels)


def step_sizes(cfg, sig: np.ndarray) -> np.ndarray:
    """Per-level step: eta sigma^2 (kernel form: x += eta (m_p - m_q)) or a constant eta."""
    f = cfg.flow
    if not (isinstance(f.eta, int | float) and math.isfinite(f.eta) and f.eta > 0):
        raise ValueError(f"flow.eta={f.eta} must be a positive step size")
    if f.step_scaling not in ("sigma2", "constant"):
        raise ValueError(f"flow.step_scaling={f.step_scaling!r} is not one of 'sigma2', 'constant'")
    return f.eta * sig**2 if f.step_scaling == "sigma2" else np.full_like(sig, f.eta)


def training_sigmas(cfg) -> np.ndarray:
    """Noise ladder of the learned score networks: spans the flow's schedule with a margin."""
    s = sigmas(cfg)
    return np.geomspace(2.0 * s[0], 0.5 * s[-1], cfg.learned.n_sigmas)
