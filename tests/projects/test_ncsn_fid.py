"""--mode=eval with FID / IS / KID: a tiny CIFAR-format run, random full-shape Inception weights, stats two ways."""

import json
import os
import sys

import numpy as np
import pytest

from projects.ncsn import checks, evaluation, training  # noqa: E402  (path set by helpers)
from scoresde import data
from tests.projects._ncsn_helpers import ROOT, mesh_of, run_cli
from tests.test_inception import write_random_weights

sys.path.insert(0, os.path.join(ROOT, "tools"))
import dataset_stats  # noqa: E402


def _config(archive: str, **eval_fields):
    from configs.toy2d import get_config

    c = get_config()  # an MLP score model, here on 32x32x3 images
    c.data.name, c.data.path, c.data.image_size, c.data.num_channels = "cifar10", archive, 32, 3
    c.model.width, c.model.depth = 32, 1
    c.training.batch_size, c.training.n_steps, c.training.checkpoint_every = 8, 2, 2
    c.training.log_every, c.training.snapshot_every = 1, 0
    c.sampling.pc.n_steps, c.sampling.batch_size, c.eval.n_samples = 4, 8, 12  # more than the 2 test images
    c.eval.inception_batch_size = 2  # one compiled Inception shape for train images and samples
    for k, v in eval_fields.items():
        c.eval[k] = v
    return c


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("fid")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)  # 5 train batches of 2, a test batch of 2
    archive = data.write_cifar10_archive(str(d / "cifar.tar.gz"), images, rng.integers(0, 10, 12))
    weights = write_random_weights(str(d / "pt_inception-2015-12-05-6726825d.pth"))
    workdir = str(d / "run")
    training.run(_config(archive), workdir, mesh_of(1))
    return d, archive, weights, workdir


@pytest.mark.slow
def test_eval_reports_fid_is_kid_with_stats_from_the_train_split_or_a_file(run):
    d, archive, weights, workdir = run
    cfg = _config(archive, inception_path=weights)
    mesh = checks.validate(cfg, workdir, "eval")
    res = evaluation.run(cfg, workdir, mesh)
    assert res["inception_reference"] == "train split (10 images)"
    assert res["n_samples"] == 12  # two sample batches, not capped by the test split
    assert res["fid"] > 0 and res["inception_score"] > 1.0 and res["inception_score_splits"] == 6
    assert np.isfinite(res["kid"]) and res["kid_subset_size"] == 10  # min(1000, 10 reference features, 12)
    with np.load(os.path.join(workdir, "eval", "step_2", "shard_00001.npz")) as z:  # batch 1: samples 8..11
        kept = {k: (z[k].shape, z[k].dtype) for k in z.files}
    assert kept == {  # 8-bit samples and Inception outputs only, never the 299x299 inputs
        "indices": ((4,), np.int32), "nfe": ((1,), np.int64), "images": ((4, 32, 32, 3), np.uint8),
        "pool3": ((4, 2048), np.float32), "logits_unbiased": ((4, 1008), np.float32),
    }  # fmt: skip
    with open(os.path.join(workdir, "eval", "step_2.json")) as f:
        saved = json.load(f)
    assert {k: saved[k] for k in ("fid", "inception_score", "kid")} == {
        k: res[k] for k in ("fid", "inception_score", "kid")
    }

    stats = str(d / "train_stats.npz")
    dataset_stats.compute(weights, "cifar10", stats, path=archive, batch_size=2)
    cfg2 = _config(archive, inception_path=weights, dataset_stats=stats)
    res2 = evaluation.run(cfg2, workdir, checks.validate(cfg2, workdir, "eval"))
    assert res2["inception_reference"] == stats
    for k in ("fid", "inception_score", "kid"):  # the same statistics by the tool and on the fly
        assert res2[k] == pytest.approx(res[k], rel=1e-4, abs=1e-6), k


def test_eval_inputs_are_checked_up_front_in_one_line(run, tmp_path):
    d, archive, weights, workdir = run
    cases = [
        (
            dict(inception_path=str(d / "missing.pth")),
            ["pt_inception-2015-12-05-6726825d.pth", "--config.eval.inception_path"],
        ),
        (dict(dataset_stats=str(d / "s.npz")), ["needs eval.inception_path"]),
        (dict(inception_path=weights, dataset_stats=str(d / "none.npz")), ["eval.dataset_stats", "does not exist"]),
        (dict(inception_path=archive), ["eval.inception_path: ", "cifar.tar.gz"]),
        (dict(inception_path=weights, inception_batch_size=0), ["eval.inception_batch_size=0"]),
    ]
    for fields, needles in cases:
        with pytest.raises(ValueError) as e:
            checks.validate(_config(archive, **fields), workdir, "eval")
        assert "\n" not in str(e.value) and all(n in str(e.value) for n in needles), str(e.value)
    toy = _config(archive, inception_path=weights)
    toy.data.name = "toy2d"
    with pytest.raises(ValueError, match="has no images"):
        checks.validate(toy, workdir, "eval")
    listing = lambda: sorted(os.path.relpath(os.path.join(r, f), workdir) for r, _, fs in os.walk(workdir) for f in fs)  # noqa: E731
    before = listing()
    out = run_cli(
        [
            "--config=configs/toy2d.py",
            f"--workdir={workdir}",
            "--mode=eval",
            "--config.data.name=cifar10",
            f"--config.data.path={archive}",
            "--config.data.image_size=32",
            "--config.data.num_channels=3",
            f"--config.eval.inception_path={tmp_path / 'nowhere.pth'}",
        ]
    )
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: eval.inception_path=") and "github.com/mseitzer/pytorch-fid" in last
    assert listing() == before  # nothing written
