"""tools/dataset_stats.py: statistics of a tiny CIFAR-10 archive through random full-shape Inception weights."""

import os
import subprocess
import sys

import numpy as np
import pytest

from scoresde import data
from tests._processes import child_env
from tests.test_inception import write_random_weights

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import dataset_stats  # noqa: E402


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("stats")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)  # 5 train batches of 2, a test batch of 2
    archive = data.write_cifar10_archive(str(d / "cifar-10-python.tar.gz"), images, rng.integers(0, 10, 12))
    return d, write_random_weights(str(d / "pt_inception-2015-12-05-6726825d.pth")), archive


def test_statistics_of_the_train_split(inputs):
    d, weights, archive = inputs
    out = str(d / "out" / "cifar_stats.npz")
    dataset_stats.compute(weights, "cifar10", out, path=archive, keep_features=10, batch_size=4)  # 299x299
    with np.load(out) as z:
        mu, sigma, feats, n = z["mu"], z["sigma"], z["features"], int(z["n"])
    assert n == 10 and mu.shape == (2048,) and sigma.shape == (2048, 2048) and feats.shape == (10, 2048)
    np.testing.assert_allclose(mu, feats.mean(0), rtol=1e-5, atol=1e-7)  # all features kept: same moments
    np.testing.assert_allclose(sigma, np.cov(feats.astype(np.float64), rowvar=False), rtol=1e-4, atol=1e-9)
    assert np.all(feats >= 0) and len(np.unique(feats[:, 0])) == 10  # ReLU means, one distinct row per image
    assert os.listdir(d / "out") == ["cifar_stats.npz"]  # no temporary file left behind


def _cli(*args):
    cmd = [sys.executable, os.path.join(ROOT, "tools", "dataset_stats.py"), *args]
    return subprocess.run(cmd, env=child_env(), cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_bad_inputs_fail_in_one_line_and_write_nothing(inputs):
    d, weights, archive = inputs
    out = str(d / "bad" / "s.npz")
    res = _cli("--data=cifar10", f"--path={archive}", f"--out={out}")
    assert res.returncode == 1 and not os.path.exists(out)
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("error: --inception is required") and "pt_inception-2015-12-05-6726825d.pth" in last
    cases = [
        (dict(inception=str(d / "none.pth")), "--inception: "),
        (dict(path=str(d / "no_archive.tar.gz")), "--data=cifar10 --path="),
        (dict(out=str(d / "stats.txt")), "must name the .npz"),
        (dict(data="image_folder", path=""), "--path is required"),
    ]
    for overrides, needle in cases:
        kw = dict(inception=weights, data="cifar10", out=out, path=archive) | overrides
        with pytest.raises(ValueError) as e:
            dataset_stats.compute(kw.pop("inception"), kw.pop("data"), kw.pop("out"), **kw)
        assert needle in str(e.value) and "\n" not in str(e.value), str(e.value)
    assert not os.path.exists(d / "bad")
