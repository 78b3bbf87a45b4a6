"""Inception Score, Kernel Inception Distance and FID from Gaussian moments (numpy, float64).

IS (Salimans et al. 2016): exp E_x KL(p(y|x) || p(y)), p(y) the split's mean prediction, averaged over
splits. KID (Binkowski et al. 2018): the unbiased MMD^2 with the cubic kernel k(a, b) = (a.b / d + 1)^3,
averaged over random subsets. Both follow the usual reference implementations (openai/improved-gan's
IS; torch-fidelity's KID defaults of 100 subsets of 1000).
"""

import numpy as np

from ._frechet import _sqrtm_psd


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def inception_score(logits: np.ndarray, *, n_splits: int = 10) -> tuple[float, float]:
    """(mean, std) over `n_splits` consecutive splits of exp(mean_x KL(softmax(logits_x) || mean softmax)).

    Every class column of `logits` takes part (for the FID Inception: all 1008 outputs, as the original
    TF code did). Uniform predictions give 1; confident, evenly spread predictions over k classes give k.
    """
    logits = np.asarray(logits, np.float64)
    if logits.ndim != 2:
        raise ValueError(f"logits must be (n, classes), got shape {logits.shape}")
    if not 1 <= n_splits <= logits.shape[0]:
        raise ValueError(f"n_splits={n_splits} must be between 1 and the number of samples ({logits.shape[0]})")
    scores = []
    for part in np.array_split(_log_softmax(logits), n_splits):
        log_py = np.log(np.mean(np.exp(part), axis=0))
        kl = np.sum(np.exp(part) * (part - log_py), axis=1)
        scores.append(np.exp(np.mean(kl)))
    return float(np.mean(scores)), float(np.std(scores))


def _poly_mmd2(a: np.ndarray, b: np.ndarray) -> float:
    d, m, n = a.shape[1], a.shape[0], b.shape[0]
    kaa = (a @ a.T / d + 1) ** 3
    kbb = (b @ b.T / d + 1) ** 3
    kab = (a @ b.T / d + 1) ** 3
    off_a = (kaa.sum() - np.trace(kaa)) / (m * (m - 1))
    off_b = (kbb.sum() - np.trace(kbb)) / (n * (n - 1))
    return float(off_a + off_b - 2 * kab.mean())


def kernel_inception_distance(
    feats_a: np.ndarray, feats_b: np.ndarray, *, n_subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """(mean, std) over subsets of the unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3.

    Each subset draws min(subset_size, n_a, n_b) rows of each set without replacement. The estimate
    is unbiased, so identical distributions give values scattered around 0 (possibly negative).
    """
    a, b = np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"features must be (n, d) with the same d, got {a.shape} and {b.shape}")
    m = min(subset_size, len(a), len(b))
    if m < 2 or n_subsets < 1:
        raise ValueError(f"KID needs subsets of at least 2 rows and n_subsets >= 1 (got {m} rows, {n_subsets} subsets)")
    rng = np.random.default_rng(seed)
    vals = [
        _poly_mmd2(a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)])
        for _ in range(n_subsets)
    ]
    return float(np.mean(vals)), float(np.std(vals))


def frechet_from_moments(mu_a: np.ndarray, sigma_a: np.ndarray, mu_b: np.ndarray, sigma_b: np.ndarray) -> float:
    """|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2): FID from stored (mu, sigma) statistics."""
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    s_a, s_b = np.asarray(sigma_a, np.float64), np.asarray(sigma_b, np.float64)
    d = mu_a.shape[0]
    if mu_a.shape != (d,) or mu_b.shape != (d,) or s_a.shape != (d, d) or s_b.shape != (d, d):
        raise ValueError(
            f"moments must be mu (d,), sigma (d, d) alike, got {mu_a.shape}, {s_a.shape}, {mu_b.shape}, {s_b.shape}"
        )
    root_a = _sqrtm_psd(s_a)
    cross = _sqrtm_psd(root_a @ s_b @ root_a)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(cross))
