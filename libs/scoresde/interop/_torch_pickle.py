"""Torch-free reader of `torch.save` files: state_dicts and whole checkpoints (dicts, lists, numbers, tensors).

Both of torch's formats are read: the zip format (torch >= 1.6: `<prefix>/data.pkl` plus one raw
little-endian file per storage under `<prefix>/data/`) and the legacy format (a run of pickles: magic
number, protocol, system info, the object, the storage keys, then each storage as an int64 element
count and its raw bytes). The pickles go through a restricted unpickler that accepts only what a
checkpoint holds (builtin containers and numbers, OrderedDict, torch's tensor-rebuild functions, typed
storages by persistent id, argparse.Namespace as a plain namespace), so a tampered file cannot run code.
Tensors come back as `TorchTensor`s whose bytes are read only when `.numpy()` is called, so reading
the EMA weights of a checkpoint does not load its optimiser state.
"""

import collections
import os
import pickle
import struct
import types
import zipfile

import ml_dtypes
import numpy as np

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_STORAGES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name: str):
        self.name, self.dtype = name, np.dtype(_STORAGES[name])


class _Storage:
    """A storage named by the file; its bytes are fetched only when a tensor is materialised."""

    def __init__(self, dtype: np.dtype, key: str, numel: int, fetch):
        self.dtype, self.key, self.numel, self._fetch, self._data = dtype, key, numel, fetch, None

    def array(self) -> np.ndarray:
        if self._data is None:
            nbytes = self.numel * self.dtype.itemsize
            raw = self._fetch(self.key, nbytes)
            if len(raw) < nbytes:
                raise ValueError(
                    f"storage {self.key!r} holds {len(raw)} bytes, expected {nbytes}; the file is truncated"
                )
            self._data = np.frombuffer(raw, self.dtype.newbyteorder("<"), count=self.numel)
        return self._data


class _StorageView:
    """Legacy-format view (root storage, element offset, length)."""

    def __init__(self, root: _Storage, offset: int, numel: int):
        self.dtype, self.key, self.numel, self.root, self.offset = root.dtype, root.key, numel, root, offset

    def array(self) -> np.ndarray:
        return self.root.array()[self.offset : self.offset + self.numel]


class TorchTensor:
    """A tensor of a torch file: `shape`, `dtype`, and `numpy()` (reads and copies its bytes)."""

    def __init__(self, storage, offset: int, shape: tuple, stride: tuple):
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride
        if not all(isinstance(v, int) and v >= 0 for v in (offset, *shape, *stride)):
            raise pickle.UnpicklingError(f"bad tensor layout offset={offset} shape={shape} stride={stride}")
        last = offset + sum((n - 1) * s for n, s in zip(shape, stride, strict=True)) if all(shape) else offset - 1
        if last >= storage.numel:
            raise pickle.UnpicklingError(f"tensor of shape {shape} reaches past its storage of {storage.numel}")

    @property
    def dtype(self) -> np.dtype:
        return self.storage.dtype

    def numpy(self) -> np.ndarray:
        base = self.storage.array()
        item = base.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            base[self.offset :], self.shape, tuple(s * item for s in self.stride), writeable=False
        )
        return np.array(view, dtype=base.dtype.newbyteorder("="))

    def __repr__(self) -> str:
        return f"TorchTensor(shape={self.shape}, dtype={self.dtype})"


def _rebuild_tensor(storage, offset, shape, stride, *unused):
    return TorchTensor(storage, offset, tuple(shape), tuple(stride))


def _rebuild_parameter(data, *unused):
    return data


class _Namespace(types.SimpleNamespace):
    """argparse.Namespace without argparse: a checkpoint's saved command-line arguments."""


class _Unpickler(pickle.Unpickler):
    _ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("argparse", "Namespace"): _Namespace,
    }

    def __init__(self, f, fetch=None):
        super().__init__(f)
        self._fetch, self.storages = fetch, {}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return self._ALLOWED[module, name]
        if module == "torch" and name in _STORAGES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not part of a PyTorch checkpoint")

    def persistent_load(self, pid):
        # zip: ('storage', type, key, location, numel); legacy: the same plus view metadata.
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        stype, key, numel = pid[1], str(pid[2]), pid[4]
        if not isinstance(stype, _StorageType) or not isinstance(numel, int) or numel < 0 or self._fetch is None:
            raise pickle.UnpicklingError(f"unexpected storage record {pid!r}")
        if key not in self.storages:
            self.storages[key] = _Storage(stype.dtype, key, numel, self._fetch)
        root = self.storages[key]
        view = pid[5] if len(pid) == 6 else None
        if view is not None:
            _, offset, size = view
            return _StorageView(root, int(offset), int(size))
        return root


def _read_zip(path: str, zf: zipfile.ZipFile):
    pkl = [n for n in zf.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
    if len(pkl) != 1:
        raise ValueError(f"{path} is a zip file but not a PyTorch file (no <name>/data.pkl inside)")
    prefix = pkl[0][: -len("data.pkl")]
    if f"{prefix}byteorder" in zf.namelist() and zf.read(f"{prefix}byteorder").strip() != b"little":
        raise ValueError(f"{path}: big-endian PyTorch files are not supported")

    def fetch(key, nbytes):
        name = f"{prefix}data/{key}"
        try:
            return zf.read(name)
        except KeyError:
            raise ValueError(f"storage {name!r} is missing from the zip; the file is truncated") from None

    with zf.open(pkl[0]) as f:
        return _Unpickler(f, fetch).load()


def _read_legacy(path: str, f):
    try:
        magic = _Unpickler(f).load()
    except Exception:  # noqa: BLE001 - arbitrary bytes can fail in many ways; all mean "not this format"
        magic = None
    if magic != _LEGACY_MAGIC:
        raise ValueError(f"{path} is neither a PyTorch checkpoint nor a .npz (bad magic number)")
    if _Unpickler(f).load() != _LEGACY_PROTOCOL:
        raise ValueError(f"{path}: unsupported legacy PyTorch protocol version")
    info = _Unpickler(f).load()
    if isinstance(info, dict) and not info.get("little_endian", True):
        raise ValueError(f"{path}: big-endian PyTorch files are not supported")
    blobs: dict[str, bytes] = {}
    body = _Unpickler(f, lambda key, nbytes: blobs[key])
    obj = body.load()
    for key in _Unpickler(f).load():
        storage = body.storages.get(str(key))
        if storage is None:
            raise ValueError(f"{path}: storage {key!r} is listed but no tensor uses it; the file is corrupt")
        (count,) = struct.unpack("<q", f.read(8))  # element count torch writes before each storage
        nbytes = storage.numel * storage.dtype.itemsize
        if count not in (storage.numel, nbytes):
            raise ValueError(f"{path}: storage {key!r} has {count} elements, the file says {storage.numel}")
        blobs[str(key)] = f.read(nbytes)
    return obj


class TorchFile:
    """An open torch file: `.obj` is its unpickled content (tensors lazy); use as a context manager."""

    def __init__(self, path: str):
        if not os.path.isfile(path):
            raise ValueError(f"{path} does not exist")
        self.path, self._zip = path, None
        try:
            if zipfile.is_zipfile(path):
                self._zip = zipfile.ZipFile(path)
                self.obj = _read_zip(path, self._zip)
            else:
                with open(path, "rb") as f:
                    self.obj = _read_legacy(path, f)
        except (pickle.UnpicklingError, EOFError, struct.error, KeyError, zipfile.BadZipFile, TypeError) as e:
            self.close()
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ValueError(f"{path} is not a readable PyTorch file ({msg})") from None

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def is_tensor(x) -> bool:
    return isinstance(x, TorchTensor)


def tensor_dict(path: str, obj, what: str = "state_dict") -> dict[str, TorchTensor]:
    """`obj` as a flat name -> tensor dict, or one line naming the first entry that is not a tensor."""
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: the {what} is a {type(obj).__name__}, not a dict of tensors")
    for name, t in obj.items():
        if not is_tensor(t):
            raise ValueError(f"{path}: {what} entry {name!r} is a {type(t).__name__}, not a tensor")
    return {str(k): v for k, v in obj.items()}


def read_state_dict(path: str, *, with_data: bool = True) -> dict:
    """name -> numpy array (or just the shape, reading no tensor data) of a torch state_dict file or a .npz."""
    if not os.path.isfile(path):
        raise ValueError(f"{path} does not exist")
    with open(path, "rb") as f:
        head = f.read(6)
    if head.startswith(b"PK") and path.endswith(".npz"):
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: (z[k] if with_data else z[k].shape) for k in z.files}
        except (ValueError, OSError, zipfile.BadZipFile) as e:
            raise ValueError(f"{path} is not a readable .npz ({e})") from None
    with TorchFile(path) as tf:
        tensors = tensor_dict(path, tf.obj)
        out = {}
        for name, t in tensors.items():
            try:
                out[name] = t.numpy() if with_data else t.shape
            except ValueError as e:
                raise ValueError(f"{path}: key {name!r}: {e}") from None
        return out
