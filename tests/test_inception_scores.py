"""IS, KID and FID-from-moments on cases with exact answers."""

import numpy as np
import pytest

from scoresde import metrics


def test_inception_score_exact_cases():
    uniform = np.zeros((40, 1008))
    assert metrics.inception_score(uniform, n_splits=4) == pytest.approx((1.0, 0.0))
    k = 10
    confident = 50.0 * np.tile(np.eye(k), (4, 1))  # each split holds every class once, predicted surely
    mean, std = metrics.inception_score(confident, n_splits=4)
    assert mean == pytest.approx(k, rel=1e-6) and std == pytest.approx(0.0, abs=1e-6)
    half = 50.0 * np.eye(k)[[0, 1] * 10]  # two classes only: IS = 2
    assert metrics.inception_score(half, n_splits=2)[0] == pytest.approx(2.0, rel=1e-6)
    p = np.array([[0.7, 0.3], [0.2, 0.8]])  # by hand: exp(mean_x KL(p_x || mean p))
    py = p.mean(0)
    want = np.exp(np.mean(np.sum(p * np.log(p / py), axis=1)))
    assert metrics.inception_score(np.log(p), n_splits=1)[0] == pytest.approx(want, rel=1e-10)
    with pytest.raises(ValueError, match="n_splits=5"):
        metrics.inception_score(np.zeros((4, 3)), n_splits=5)


def test_kid_exact_cases():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 3))
    b = rng.standard_normal((5, 3)) + 1.0
    # one subset of everything = the full unbiased estimate, computed here by explicit sums
    k = lambda x, y: (x @ y / 3 + 1) ** 3  # noqa: E731
    kaa = np.mean([k(a[i], a[j]) for i in range(6) for j in range(6) if i != j])
    kbb = np.mean([k(b[i], b[j]) for i in range(5) for j in range(5) if i != j])
    kab = np.mean([k(x, y) for x in a for y in b])
    mean, std = metrics.kernel_inception_distance(a[:5], b, n_subsets=1, subset_size=5)
    kaa5 = np.mean([k(a[i], a[j]) for i in range(5) for j in range(5) if i != j])
    kab5 = np.mean([k(x, y) for x in a[:5] for y in b])
    assert mean == pytest.approx(kaa5 + kbb - 2 * kab5, rel=1e-10) and std == 0.0
    assert kaa + kbb - 2 * kab > 0.1  # shifted sets are far apart
    same = rng.standard_normal((400, 8))
    m, s = metrics.kernel_inception_distance(same[:200], same[200:], n_subsets=20, subset_size=100)
    assert abs(m) < 3 * s / np.sqrt(20) + 1e-3  # unbiased: scatters around 0 for one distribution
    m_far, _ = metrics.kernel_inception_distance(same[:200], same[200:] + 2.0, n_subsets=5, subset_size=100)
    assert m_far > 100 * abs(m)


def test_frechet_from_moments_matches_feature_version_and_gaussian_formula():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((300, 4)), 2.0 * rng.standard_normal((200, 4)) + 1.0
    stats = [(v.mean(0), np.cov(v, rowvar=False)) for v in (x, y)]
    got = metrics.frechet_from_moments(*stats[0], *stats[1])
    assert got == pytest.approx(metrics.frechet_distance(x, y), rel=1e-9)
    for n in (3, 4, 200):  # the low-rank route (n <= d) and the d x d one give the same number
        want = metrics.frechet_from_moments(x[:n].mean(0), np.cov(x[:n], rowvar=False), *stats[1])
        assert metrics.frechet_to_moments(x[:n], *stats[1]) == pytest.approx(want, rel=1e-6)  # sqrt of ~0 eigenvalues
    # N(0, I) vs N(1, 4 I) in d = 4: |mu|^2 + d (1 + 4 - 2 * 2) = 4 + 4
    assert metrics.frechet_from_moments(np.zeros(4), np.eye(4), np.ones(4), 4 * np.eye(4)) == pytest.approx(8.0)


def test_statistics_file_round_trip_and_metrics(tmp_path):
    rng = np.random.default_rng(0)
    pool3 = np.abs(rng.standard_normal((30, 2048))).astype(np.float32)
    stats = metrics.feature_statistics(pool3, keep=20)
    path = metrics.save_statistics(str(tmp_path / "s.npz"), stats)
    back = metrics.load_statistics(path)
    assert back["features"].shape == (20, 2048) and int(back["n"]) == 30
    np.testing.assert_allclose(back["mu"], pool3.mean(0), rtol=1e-5)
    small = pool3[:, :16]  # the metrics work in any feature dimension; 16 keeps the matrix square roots cheap
    ref = metrics.feature_statistics(small, keep=20)
    outputs = {"pool3": small, "logits_unbiased": np.zeros((30, 1008))}
    res = metrics.inception_metrics(outputs, ref, kid_subsets=3, kid_subset_size=10)
    assert abs(res["fid"]) < 1e-8 and res["inception_score"] == pytest.approx(1.0) and res["kid_subset_size"] == 10
    assert res["inception_score_splits"] == 10 and np.isfinite(res["kid"]) and res["kid_std"] > 0
    no_kid = metrics.inception_metrics(outputs, {"mu": ref["mu"], "sigma": ref["sigma"]})  # pytorch-fid's files
    assert "kid" not in no_kid and abs(no_kid["fid"]) < 1e-8
    bad = str(tmp_path / "bad.npz")
    np.savez(bad, mu=np.zeros(64), sigma=np.eye(64))
    for p, needle in ((bad, "'mu' has shape (64,)"), (str(tmp_path / "none.npz"), "does not exist")):
        with pytest.raises(ValueError) as e:
            metrics.load_statistics(p)
        assert needle in str(e.value) and "\n" not in str(e.value)
