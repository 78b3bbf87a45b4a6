"""Data sources and grain pipelines: formats, errors, per-process shards, resumable iterators."""

import io
import os
import pickle
import tarfile

import numpy as np
import pytest
from PIL import Image

from scoresde import data


def _fake_cifar(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), (np.arange(n) % 10).astype(np.int32)


def test_cifar_archive_and_folder_round_trip(tmp_path):
    images, labels = _fake_cifar()
    path = data.write_cifar10_archive(str(tmp_path / "cifar-10-python.tar.gz"), images, labels)
    x, y = data.load_cifar10(path, "train")
    np.testing.assert_array_equal(x, images[:50])
    np.testing.assert_array_equal(y, labels[:50])
    xt, _ = data.load_cifar10(path, "test")
    np.testing.assert_array_equal(xt, images[50:])
    with tarfile.open(path) as tar:
        tar.extractall(tmp_path / "extracted", filter="data")
    x2, _ = data.load_cifar10(str(tmp_path / "extracted"), "train")
    np.testing.assert_array_equal(x2, images[:50])


def test_cifar_errors_say_where_to_get_it(tmp_path):
    with pytest.raises(ValueError, match=r"data.path.*cifar-10-python.tar.gz.*--config.data.path"):
        data.load_cifar10(str(tmp_path / "missing.tar.gz"))
    with pytest.raises(ValueError, match="data.path is not set"):
        data.load_cifar10(None)
    bad = tmp_path / "corrupt.tar.gz"
    bad.write_bytes(b"not a tar file at all")
    with pytest.raises(ValueError, match="not a readable tar.gz"):
        data.load_cifar10(str(bad))


def test_cifar_restricted_unpickler_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    raw = pickle.dumps({b"data": Evil(), b"labels": [0]}, protocol=2)
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)]:
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(ValueError, match="refusing to load"):
        data.load_cifar10(str(path))


def test_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    x = data.load_image_folder(str(tmp_path), 16)
    assert x.shape == (3, 16, 16, 3) and x.dtype == np.uint8
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no .png"):
        data.load_image_folder(str(empty), 16)


def test_digits_and_toys():
    x, y = data.load_digits("train")
    xt, _ = data.load_digits("test")
    assert x.shape[1:] == (8, 8, 1) and x.max() == 255 and len(x) + len(xt) == 1797
    assert set(np.unique(y)) == set(range(10))
    for name in data.TOY2D:
        pts = data.toy2d(name, 500, seed=1)
        assert pts.shape == (500, 2) and np.all(np.isfinite(pts))
        np.testing.assert_array_equal(pts, data.toy2d(name, 500, seed=1))
    g = data.toy2d("25gaussians", 5000)
    d = np.abs(g - np.round(g / 2) * 2).max()
    assert d < 0.05 * 5  # every point within 5 std of a grid node
    with pytest.raises(ValueError, match="data.name"):
        data.toy2d("spiral", 10)


def test_pipeline_shards_are_disjoint_and_cover_everything():
    ex = {"image": np.arange(40)[:, None, None, None].astype(np.uint8), "label": np.arange(40)}
    seen = []
    for p in range(4):
        ds = data.make_dataset(ex, batch_size=20, seed=0, repeat=False, process_index=p, process_count=4)
        seen.append(np.concatenate([b["label"] for b in ds]))
    allv = np.concatenate(seen)
    assert sorted(allv.tolist()) == list(range(40))


def test_global_batches_do_not_depend_on_the_process_count():
    ex = {"image": np.random.default_rng(1).integers(0, 256, (64, 4, 4, 1), dtype=np.uint8), "label": np.arange(64)}
    one = iter(data.make_dataset(ex, batch_size=16, seed=5, random_flip=True))
    two = [
        iter(data.make_dataset(ex, batch_size=16, seed=5, random_flip=True, process_index=p, process_count=2))
        for p in range(2)
    ]
    for _ in range(6):
        whole = next(one)
        halves = [next(it) for it in two]
        for k in ("image", "label"):
            np.testing.assert_array_equal(whole[k], np.concatenate([h[k] for h in halves]))


def test_pipeline_state_resumes_exactly():
    ex = {"image": np.random.default_rng(0).integers(0, 256, (50, 4, 4, 1), dtype=np.uint8), "label": np.arange(50)}
    it = iter(data.make_dataset(ex, batch_size=8, seed=3, random_flip=True))
    for _ in range(9):  # past one epoch
        next(it)
    state = it.get_state()
    expected = [next(it) for _ in range(4)]
    it2 = iter(data.make_dataset(ex, batch_size=8, seed=3, random_flip=True))
    it2.set_state(state)
    for e in expected:
        got = next(it2)
        np.testing.assert_array_equal(got["image"], e["image"])
        np.testing.assert_array_equal(got["label"], e["label"])


def test_random_flip_flips_about_half():
    img = np.zeros((200, 2, 2, 1), np.uint8)
    img[:, :, 0] = 255
    batches = data.make_dataset({"image": img}, batch_size=200, seed=0, random_flip=True, repeat=False)
    out = next(iter(batches))["image"]
    flipped = np.mean(out[:, 0, 1, 0] == 255)
    assert 0.35 < flipped < 0.65


def test_scale():
    x = np.array([0, 255], np.uint8)
    np.testing.assert_allclose(data.scale(x, True), [-1, 1])
    np.testing.assert_allclose(data.scale(x, False), [0, 1])
