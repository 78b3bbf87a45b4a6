"""CIFAR-10 from the standard `cifar-10-python.tar.gz` archive or its extracted folder.

The batches are Python pickles. They are read with a restricted unpickler that accepts only
what that format holds (dicts, lists, bytes, numpy arrays), so a tampered file cannot run code.
"""

import io
import os
import pickle
import tarfile

import numpy as np

WHERE = (
    "download cifar-10-python.tar.gz (the 'CIFAR-10 python version' from the CIFAR-10 page of "
    "Alex Krizhevsky, University of Toronto) and pass its path, or the path of the extracted "
    "cifar-10-batches-py folder, with --config.data.path=PATH"
)
_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_TEST = ("test_batch",)
_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not part of the CIFAR-10 format")


def _load_batch(raw: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        d = _RestrictedUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as e:  # noqa: BLE001 - any failure means the file is not a CIFAR batch
        raise ValueError(f"{source} is not a readable CIFAR-10 batch ({e}); {WHERE}") from None
    if not isinstance(d, dict):
        raise ValueError(f"{source} is not a CIFAR-10 batch (expected a dict); {WHERE}")
    data = d.get(b"data", d.get("data"))
    labels = d.get(b"labels", d.get("labels"))
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072 or labels is None:
        raise ValueError(f"{source} is not a CIFAR-10 batch (expected data of shape (n, 3072) and labels); {WHERE}")
    labels = np.asarray(labels, np.int32)
    if labels.shape != (data.shape[0],):
        raise ValueError(f"{source}: {labels.shape[0]} labels for {data.shape[0]} images; the file is corrupt")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.uint8)
    return images, labels


def load_cifar10(path: str | None, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (n, 32, 32, 3), labels int32 (n,)) of the 'train' or 'test' split."""
    if split not in ("train", "test"):
        raise ValueError(f"data.split={split!r} is not one of 'train', 'test'")
    if not path:
        raise ValueError(f"data.path is not set: {WHERE}")
    names = _TRAIN if split == "train" else _TEST
    if os.path.isdir(path):
        folder = path
        if os.path.isdir(os.path.join(path, "cifar-10-batches-py")):
            folder = os.path.join(path, "cifar-10-batches-py")
        raws = []
        for name in names:
            f = os.path.join(folder, name)
            if not os.path.isfile(f):
                raise ValueError(f"data.path={path!r} has no {name}: {WHERE}")
            with open(f, "rb") as fh:
                raws.append((fh.read(), f))
    elif os.path.isfile(path):
        try:
            with tarfile.open(path, "r:*") as tar:
                members = {os.path.basename(m.name): m for m in tar.getmembers() if m.isfile()}
                raws = []
                for name in names:
                    if name not in members:
                        raise ValueError(f"data.path={path!r} has no {name} inside: {WHERE}")
                    raws.append((tar.extractfile(members[name]).read(), f"{path}:{name}"))
        except (tarfile.TarError, EOFError, OSError) as e:
            raise ValueError(f"data.path={path!r} is not a readable tar.gz archive ({e}); {WHERE}") from None
    else:
        raise ValueError(f"data.path={path!r} does not exist: {WHERE}")
    parts = [_load_batch(raw, src) for raw, src in raws]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def write_cifar10_archive(path: str, images: np.ndarray, labels: np.ndarray, *, n_train_batches: int = 5) -> str:
    """Write images (n, 32, 32, 3) uint8 in the exact cifar-10-python.tar.gz layout (for tests and tools).

    The last 1/(n_train_batches + 1) of the images becomes the test batch.
    """
    n = images.shape[0]
    chunks = np.array_split(np.arange(n), n_train_batches + 1)
    with tarfile.open(path, "w:gz") as tar:
        for i, idx in enumerate(chunks):
            name = _TRAIN[i] if i < n_train_batches else "test_batch"
            batch = {
                b"batch_label": name.encode(),
                b"labels": [int(v) for v in labels[idx]],
                b"data": images[idx].transpose(0, 3, 1, 2).reshape(len(idx), 3072).astype(np.uint8),
                b"filenames": [f"img_{j}.png".encode() for j in idx],
            }
            raw = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path
