"""pytorch-fid's FID Inception: architecture, torch-free weight files (zip, legacy, npz), bad files, preprocessing."""

import math
import os
import pickle
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from scoresde import metrics
from scoresde.metrics import _inception


def random_fid_state(seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights with every true shape (plus torch's num_batches_tracked), activations of order one."""
    rng = np.random.default_rng(seed)
    state = {}
    for k, s in metrics.state_dict_shapes().items():
        if k.endswith("conv.weight"):
            state[k] = (rng.standard_normal(s) * math.sqrt(2.0 / np.prod(s[1:]))).astype(np.float32)
        elif k.endswith("running_var"):
            state[k] = rng.uniform(0.5, 1.5, s).astype(np.float32)
            state[k.replace("running_var", "num_batches_tracked")] = np.array(1000, np.int64)
        elif k.endswith("bn.weight"):
            state[k] = rng.uniform(0.8, 1.2, s).astype(np.float32)
        else:
            state[k] = (0.05 * rng.standard_normal(s)).astype(np.float32)
    return state


def write_random_weights(path: str, seed: int = 0, *, legacy: bool = False) -> str:
    """A pytorch-fid-format .pth of random weights (what the tests use in place of the real file)."""
    return metrics.write_torch_state_dict(path, random_fid_state(seed), legacy=legacy)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    state = random_fid_state(0)
    path = metrics.write_torch_state_dict(str(tmp_path_factory.mktemp("w") / metrics.WEIGHTS_NAME), state)
    return state, path, metrics.load_inception(path)


def test_architecture_parameter_count_and_shapes():
    shapes = metrics.state_dict_shapes()
    assert len(shapes) == 94 * 5 + 2  # 94 conv+BN units (5 tensors each) and the fc weight and bias
    count = lambda keep: sum(math.prod(s) for k, s in shapes.items() if keep(k))  # noqa: E731
    # torchvision's inception_v3 has 27,161,264 parameters with its aux head (1000 classes); the FID net
    # has no aux head and 1008 classes. Aux head: conv 768->128 1x1 + BN, conv 128->768 5x5 + BN, fc 768->1000.
    aux = 768 * 128 + 2 * 128 + 128 * 768 * 25 + 2 * 768 + 768 * 1000 + 1000
    assert count(lambda k: "running" not in k) == 27_161_264 - aux + 8 * (2048 + 1) == 23_850_960
    assert count(lambda k: "running" in k) == 2 * 17_216  # BN channels: running mean and var
    assert shapes["Conv2d_1a_3x3.conv.weight"] == (32, 3, 3, 3)
    assert shapes["Mixed_6e.branch7x7_2.conv.weight"] == (192, 192, 1, 7)
    assert shapes["Mixed_7c.branch3x3dbl_3b.conv.weight"] == (384, 384, 3, 1)
    assert shapes["Mixed_7c.branch_pool.conv.weight"] == (192, 2048, 1, 1)
    assert shapes["fc.weight"] == (1008, 2048) and shapes["fc.bias"] == (1008,)


def test_zip_pth_round_trip_and_forward(weights):
    state, path, model = weights
    with zipfile.ZipFile(path) as zf:  # torch's layout: <stem>/data.pkl and one raw file per storage
        names = zf.namelist()
    stem = metrics.WEIGHTS_NAME[: -len(".pth")]
    assert f"{stem}/data.pkl" in names and f"{stem}/data/0" in names
    raw = metrics.read_state_dict(path)  # every tensor as written, int64 scalars included
    assert raw.keys() == state.keys() and all(
        raw[k].dtype == v.dtype and raw[k].shape == v.shape for k, v in state.items()
    )
    back = metrics.to_state_dict(model)
    assert set(back) == {k for k in state if not k.endswith("num_batches_tracked")}
    for k, v in back.items():
        np.testing.assert_array_equal(v, state[k])
    x = np.random.default_rng(1).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    out = metrics.inception_outputs(model, x, batch_size=2, size=75)  # padded last batch
    assert out["pool3"].shape == (3, 2048) and out["logits"].shape == (3, 1008)
    assert np.all(out["pool3"] >= 0) and np.std(out["pool3"]) > 1e-3  # mean of ReLU outputs, not degenerate
    w, b = state["fc.weight"], state["fc.bias"]
    np.testing.assert_allclose(out["logits"], out["pool3"] @ w.T + b, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out["logits_unbiased"], out["pool3"] @ w.T, rtol=1e-4, atol=1e-4)
    one = metrics.inception_outputs(model, x[1:2], size=75)  # batch of one: same numbers as inside a batch
    np.testing.assert_allclose(one["pool3"][0], out["pool3"][1], rtol=1e-4, atol=1e-5)


def test_legacy_pth_and_npz_load_the_same_model(weights, tmp_path):
    state, _, model = weights
    legacy = metrics.write_torch_state_dict(str(tmp_path / "legacy.pth"), state, legacy=True)
    with open(legacy, "rb") as f:
        assert not zipfile.is_zipfile(f)
    npz = metrics.save_inception_npz(str(tmp_path / "w.npz"), model)
    for path in (legacy, npz):
        metrics.check_inception_weights(path)
        other = metrics.load_inception(path)
        for a, b in zip(jax.tree_util.tree_leaves(model), jax.tree_util.tree_leaves(other), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _npz(path, state):
    with open(path, "wb") as f:
        np.savez(f, **state)
    return str(path)


def test_bad_weight_files_fail_in_one_line_naming_file_and_key(weights, tmp_path):
    state, path, _ = weights
    small = {k: v for k, v in state.items() if k != "Mixed_5b.branch1x1.conv.weight"}
    cases = [
        (str(tmp_path / "nope.pth"), ["does not exist", metrics.WEIGHTS_NAME, "github.com/mseitzer/pytorch-fid"]),
        (_npz(tmp_path / "missing.npz", small), ["missing.npz", "missing key 'Mixed_5b.branch1x1.conv.weight'"]),
        (_npz(tmp_path / "shape.npz", {**state, "fc.bias": np.zeros(1000, np.float32)}), ["'fc.bias'", "(1000,)"]),
        (_npz(tmp_path / "extra.npz", {**state, "AuxLogits.fc.bias": np.zeros(3)}), ["unexpected key 'AuxLogits"]),
    ]

    class Call:  # unpickling this would call os.getcwd(): the reader must refuse before running anything
        def __reduce__(self):
            return os.getcwd, ()

    evil = tmp_path / "evil.pth"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("evil/data.pkl", pickle.dumps(Call(), protocol=2))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(os.urandom(4096))
    cut = tmp_path / "cut.pth"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(cut, "w") as dst:
        for name in src.namelist():
            if not name.endswith("/data/3"):
                dst.writestr(name, src.read(name))
    cases += [
        (str(evil), ["evil.pth", "refusing to load posix.getcwd"]),
        (str(junk), ["junk.pth", "neither a PyTorch checkpoint"]),
        (str(cut), ["cut.pth", "data/3", "missing"]),
    ]
    for bad, needles in cases:
        with pytest.raises(ValueError) as e:
            metrics.load_inception(bad)
        msg = str(e.value)
        assert "\n" not in msg and all(n in msg for n in needles), msg


def _torch_bilinear(x: np.ndarray, size: int) -> np.ndarray:
    """F.interpolate(mode='bilinear', align_corners=False, antialias=False) on (H, W, C), written out."""

    def weights(n_in):
        src = np.maximum((np.arange(size) + 0.5) * n_in / size - 0.5, 0.0)
        i0 = np.floor(src).astype(int)
        i1 = np.minimum(i0 + 1, n_in - 1)
        lam = src - i0
        m = np.zeros((size, n_in))
        np.add.at(m, (np.arange(size), i0), 1 - lam)
        np.add.at(m, (np.arange(size), i1), lam)
        return m

    return np.einsum("ph,qw,hwc->pqc", weights(x.shape[0]), weights(x.shape[1]), x)


@pytest.mark.parametrize("size_in", [32, 120])
def test_preprocess_matches_pytorch_fid_resize_and_scaling(size_in):
    x = np.random.default_rng(0).uniform(size=(1, size_in, size_in, 3)).astype(np.float32)
    size = 299 if size_in == 32 else 75  # upsampling (CIFAR -> 299) and downsampling
    got = np.asarray(metrics.preprocess(jnp.asarray(x), size=size))[0]
    np.testing.assert_allclose(got, 2 * _torch_bilinear(x[0], size) - 1, atol=2e-5)
    grey = np.asarray(metrics.preprocess(jnp.asarray(x[..., :1]), size=size))[0]
    assert grey.shape == (size, size, 3) and np.allclose(grey[..., 0], grey[..., 2])


def test_pools_exclude_padding_like_tensorflow():
    x = jnp.arange(16.0).reshape(4, 4, 1)
    avg = np.asarray(_inception.avg_pool_exclude_pad(x))[..., 0]
    assert avg[0, 0] == pytest.approx((0 + 1 + 4 + 5) / 4)  # corner: 4 in-image cells, not 9
    assert avg[0, 1] == pytest.approx((0 + 1 + 2 + 4 + 5 + 6) / 6)
    assert avg[1, 1] == pytest.approx(np.mean([0, 1, 2, 4, 5, 6, 8, 9, 10]))
    mx = np.asarray(_inception.max_pool(-1.0 - x, stride=1, padding=1))[..., 0]
    assert mx[0, 0] == -1.0  # negative inputs: padding never wins a max
    assert np.asarray(_inception.max_pool(x, stride=2)).shape == (1, 1, 1)
