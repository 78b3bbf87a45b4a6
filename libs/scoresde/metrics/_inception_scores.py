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


def _trace_sqrt_psd(m: np.ndarray) -> float:
    """tr(m^1/2) of a symmetric PSD matrix: the sum of the square roots of its eigenvalues."""
    return float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None))))


def _check_moments(mu: np.ndarray, sigma: np.ndarray, d: int) -> None:
    if mu.shape != (d,) or sigma.shape != (d, d):
        raise ValueError(f"moments must be mu ({d},) and sigma ({d}, {d}), got {mu.shape} and {sigma.shape}")


def frechet_from_moments(mu_a: np.ndarray, sigma_a: np.ndarray, mu_b: np.ndarray, sigma_b: np.ndarray) -> float:
    """|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2): FID from stored (mu, sigma) statistics."""
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    s_a, s_b = np.asarray(sigma_a, np.float64), np.asarray(sigma_b, np.float64)
    _check_moments(mu_a, s_a, mu_a.shape[0])
    _check_moments(mu_b, s_b, mu_a.shape[0])
    root_a = _sqrtm_psd(s_a)
    cross = _trace_sqrt_psd(root_a @ s_b @ root_a)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b) - 2 * cross)


def frechet_to_moments(feats: np.ndarray, mu_b: np.ndarray, sigma_b: np.ndarray) -> float:
    """FID of a feature set (n, d) against stored moments, exactly, in O(n^2 d + n d^2) when n <= d.

    With A the centred features and S_a = A^T A / (n - 1), the non-zero eigenvalues of S_a S_b are those
    of the n x n matrix A S_b A^T / (n - 1), so tr (S_a^1/2 S_b S_a^1/2)^1/2 needs no d x d square root.
    """
    f = np.asarray(feats, np.float64)
    mu_b, s_b = np.asarray(mu_b, np.float64), np.asarray(sigma_b, np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"features must be (n >= 2, d), got shape {f.shape}")
    n, d = f.shape
    _check_moments(mu_b, s_b, d)
    mu_a = f.mean(0)
    if n > d:
        return frechet_from_moments(mu_a, np.cov(f, rowvar=False), mu_b, s_b)
    a = f - mu_a
    cross = _trace_sqrt_psd(a @ s_b @ a.T / (n - 1))
    return float(np.sum((mu_a - mu_b) ** 2) + np.sum(a**2) / (n - 1) + np.trace(s_b) - 2 * cross)
