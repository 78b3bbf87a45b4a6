"""pytorch-fid's Inception weights without torch: read a PyTorch state_dict file and map it onto `InceptionV3`.

`pt_inception-2015-12-05-6726825d.pth` is a `torch.save`d state_dict. Both of torch's formats are read:
the zip format (torch >= 1.6: `<prefix>/data.pkl` plus one raw little-endian file per storage under
`<prefix>/data/`) and the legacy format (a run of pickles: magic number, protocol, system info, the
state_dict, the storage keys, then each storage as an int64 element count and its raw bytes). The
pickles go through a restricted unpickler that accepts only what a state_dict holds (OrderedDict,
torch's tensor-rebuild functions, typed storages by persistent id), so a tampered file cannot run code.
A .npz with the same key names works too. `write_torch_state_dict` writes either torch format (tests).
"""

import collections
import functools
import os
import pickle
import struct
import zipfile

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._inception import InceptionV3

WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{WEIGHTS_NAME}"
WHERE = f"download {WEIGHTS_NAME} from pytorch-fid's GitHub release ({WEIGHTS_URL})"
WEIGHTS_HELP = WHERE  # what a user must provide, for error messages elsewhere

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_STORAGES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "BFloat16Storage": jnp.bfloat16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
_IGNORED_SUFFIX = ".num_batches_tracked"  # batch-norm bookkeeping, not used at inference


# ---- reading ----------------------------------------------------------------------------
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


class _Tensor:
    def __init__(self, storage, offset: int, shape: tuple, stride: tuple):
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride
        if not all(isinstance(v, int) and v >= 0 for v in (offset, *shape, *stride)):
            raise pickle.UnpicklingError(f"bad tensor layout offset={offset} shape={shape} stride={stride}")
        last = offset + sum((n - 1) * s for n, s in zip(shape, stride, strict=True)) if all(shape) else offset - 1
        if last >= storage.numel:
            raise pickle.UnpicklingError(f"tensor of shape {shape} reaches past its storage of {storage.numel}")

    def array(self) -> np.ndarray:
        base = self.storage.array()
        item = base.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            base[self.offset :], self.shape, tuple(s * item for s in self.stride), writeable=False
        )
        return np.array(view, dtype=base.dtype.newbyteorder("="))


def _rebuild_tensor(storage, offset, shape, stride, *unused):
    return _Tensor(storage, offset, tuple(shape), tuple(stride))


def _rebuild_parameter(data, *unused):
    return data


class _Unpickler(pickle.Unpickler):
    _ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, f, fetch=None):
        super().__init__(f)
        self._fetch, self.storages = fetch, {}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return self._ALLOWED[module, name]
        if module == "torch" and name in _STORAGES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not part of a PyTorch state_dict")

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
        raise ValueError(f"{path} is a zip file but not a PyTorch checkpoint (no <name>/data.pkl inside); {WHERE}")
    prefix = pkl[0][: -len("data.pkl")]
    if f"{prefix}byteorder" in zf.namelist() and zf.read(f"{prefix}byteorder").strip() != b"little":
        raise ValueError(f"{path}: big-endian PyTorch checkpoints are not supported")

    def fetch(key, nbytes):
        name = f"{prefix}data/{key}"
        try:
            return zf.read(name)
        except KeyError:
            raise ValueError(f"storage {name!r} is missing from the zip; the file is truncated") from None

    with zf.open(pkl[0]) as f:
        return _Unpickler(f, fetch).load()


def _read_legacy(path: str, f, with_data: bool):
    try:
        magic = _Unpickler(f).load()
    except Exception:  # noqa: BLE001 - arbitrary bytes can fail in many ways; all mean "not this format"
        magic = None
    if magic != _LEGACY_MAGIC:
        raise ValueError(f"{path} is neither a PyTorch checkpoint nor a .npz (bad magic number); {WHERE}")
    if _Unpickler(f).load() != _LEGACY_PROTOCOL:
        raise ValueError(f"{path}: unsupported legacy PyTorch protocol version")
    info = _Unpickler(f).load()
    if isinstance(info, dict) and not info.get("little_endian", True):
        raise ValueError(f"{path}: big-endian PyTorch checkpoints are not supported")
    blobs: dict[str, bytes] = {}
    body = _Unpickler(f, lambda key, nbytes: blobs[key])
    state = body.load()
    if with_data:
        for key in _Unpickler(f).load():
            storage = body.storages.get(str(key))
            if storage is None:
                raise ValueError(f"{path}: storage {key!r} is listed but no tensor uses it; the file is corrupt")
            (count,) = struct.unpack("<q", f.read(8))  # element count torch writes before each storage
            nbytes = storage.numel * storage.dtype.itemsize
            if count not in (storage.numel, nbytes):
                raise ValueError(f"{path}: storage {key!r} has {count} elements, the state_dict says {storage.numel}")
            blobs[str(key)] = f.read(nbytes)
    return state


def _read_torch(path: str, with_data: bool) -> dict:
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                state = _read_zip(path, zf)
                return _materialise(path, state, with_data)
        with open(path, "rb") as f:
            state = _read_legacy(path, f, with_data)
            return _materialise(path, state, with_data)
    except (pickle.UnpicklingError, EOFError, struct.error, KeyError, zipfile.BadZipFile, TypeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"{path} is not a readable PyTorch state_dict ({msg}); {WHERE}") from None


def _materialise(path: str, state, with_data: bool) -> dict:
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state_dict; {WHERE}")
    out = {}
    for name, t in state.items():
        if not isinstance(t, _Tensor):
            raise ValueError(f"{path}: entry {name!r} is not a tensor; {WHERE}")
        try:
            out[str(name)] = t.array() if with_data else t.shape
        except ValueError as e:
            raise ValueError(f"{path}: key {name!r}: {e}") from None
    return out


def read_state_dict(path: str, *, with_data: bool = True) -> dict:
    """name -> numpy array (or just the shape, reading no tensor data) from a torch .pth or a .npz."""
    if not os.path.isfile(path):
        raise ValueError(f"{path} does not exist: {WHERE}")
    with open(path, "rb") as f:
        head = f.read(6)
    if head.startswith(b"PK") and path.endswith(".npz"):
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: (z[k] if with_data else z[k].shape) for k in z.files}
        except (ValueError, OSError, zipfile.BadZipFile) as e:
            raise ValueError(f"{path} is not a readable .npz ({e}); {WHERE}") from None
    return _read_torch(path, with_data)


# ---- mapping onto the model -------------------------------------------------------------
def _name(path) -> str:
    return ".".join(p.name for p in path)


@functools.cache
def _template() -> InceptionV3:
    return eqx.filter_eval_shape(lambda: InceptionV3(key=jax.random.key(0)))


def _torch_shape(name: str, shape: tuple) -> tuple:
    """Model leaf shape -> the shape PyTorch stores (conv kernels HWIO -> OIHW)."""
    return (shape[3], shape[2], shape[0], shape[1]) if name.endswith("conv.weight") else tuple(shape)


def state_dict_shapes() -> dict[str, tuple[int, ...]]:
    """Every state_dict key the model needs, with PyTorch's shape (num_batches_tracked is optional)."""
    leaves = jax.tree_util.tree_leaves_with_path(_template())
    return {_name(p): _torch_shape(_name(p), leaf.shape) for p, leaf in leaves}


def _check_keys(source: str, shapes: dict) -> None:
    want = state_dict_shapes()
    missing = [k for k in want if k not in shapes]
    if missing:
        raise ValueError(
            f"{source}: missing key {missing[0]!r} ({len(missing)} missing); not pytorch-fid's FID Inception; {WHERE}"
        )
    extra = [k for k in shapes if k not in want and not k.endswith(_IGNORED_SUFFIX)]
    if extra:
        raise ValueError(
            f"{source}: unexpected key {extra[0]!r} ({len(extra)} unexpected); not pytorch-fid's FID Inception"
        )
    for k, shape in want.items():
        if tuple(shapes[k]) != shape:
            raise ValueError(f"{source}: key {k!r} has shape {tuple(shapes[k])}, expected {shape}")


def check_inception_weights(path: str) -> None:
    """Validate the names and shapes of a weights file without reading its tensors (cheap, up front)."""
    _check_keys(path, read_state_dict(path, with_data=False))


def from_state_dict(state: dict, *, source: str = "state_dict") -> InceptionV3:
    """Build the model from a PyTorch-named state_dict of numpy arrays (every key and shape checked)."""
    _check_keys(source, {k: np.shape(v) for k, v in state.items()})
    template = _template()
    paths, treedef = jax.tree_util.tree_flatten_with_path(template)
    leaves = []
    for p, _ in paths:
        name = _name(p)
        a = np.asarray(state[name], np.float32)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{source}: key {name!r} holds non-finite values")
        leaves.append(jnp.asarray(a.transpose(2, 3, 1, 0) if name.endswith("conv.weight") else a))
    return jax.tree_util.tree_unflatten(treedef, leaves)


def to_state_dict(model: InceptionV3) -> dict[str, np.ndarray]:
    """The model's parameters under PyTorch's names and layouts (inverse of `from_state_dict`)."""
    out = {}
    for p, leaf in jax.tree_util.tree_leaves_with_path(model):
        name, a = _name(p), np.asarray(leaf)
        out[name] = a.transpose(3, 2, 0, 1) if name.endswith("conv.weight") else a
    return out


def load_inception(path: str) -> InceptionV3:
    """pytorch-fid's FID Inception-v3 from its .pth (zip or legacy torch format) or a .npz of the same keys."""
    return from_state_dict(read_state_dict(path), source=path)


# ---- writing (tests, tools) -------------------------------------------------------------
_STORAGE_NAME = {np.dtype(v): k for k, v in _STORAGES.items()}


def _global(module: str, name: str) -> bytes:
    return pickle.GLOBAL + f"{module}\n{name}\n".encode()


def _str(s: str) -> bytes:
    b = s.encode()
    return pickle.BINUNICODE + struct.pack("<I", len(b)) + b


def _int(v: int) -> bytes:
    return pickle.LONG1 + bytes([8]) + struct.pack("<q", v)


def _tuple(*items: bytes) -> bytes:
    return pickle.MARK + b"".join(items) + pickle.TUPLE


def _state_pickle(arrays: dict[str, np.ndarray], *, legacy: bool) -> bytes:
    """The protocol-2 pickle torch.save writes for an OrderedDict of contiguous tensors (storage i = tensor i)."""
    empty_ordered_dict = _global("collections", "OrderedDict") + pickle.EMPTY_TUPLE + pickle.REDUCE
    out = [pickle.PROTO + b"\x02", empty_ordered_dict, pickle.MARK]
    for i, (name, a) in enumerate(arrays.items()):
        pid = [_str("storage"), _global("torch", _STORAGE_NAME[a.dtype]), _str(str(i)), _str("cpu"), _int(a.size)]
        if legacy:
            pid.append(pickle.NONE)
        strides = [int(np.prod(a.shape[d + 1 :])) for d in range(a.ndim)]
        args = _tuple(
            _tuple(*pid) + pickle.BINPERSID,
            _int(0),
            _tuple(*map(_int, a.shape)),
            _tuple(*map(_int, strides)),
            pickle.NEWFALSE,
            empty_ordered_dict,
        )
        out += [_str(name), _global("torch._utils", "_rebuild_tensor_v2"), args, pickle.REDUCE]
    # state_dict()'s `_metadata` attribute (module versions), set by BUILD as torch's pickle does
    version = pickle.EMPTY_DICT + _str("version") + _int(1) + pickle.SETITEM
    metadata = empty_ordered_dict + _str("") + version + pickle.SETITEM
    out += [pickle.SETITEMS, pickle.EMPTY_DICT, _str("_metadata"), metadata, pickle.SETITEM, pickle.BUILD, pickle.STOP]
    return b"".join(out)


def write_torch_state_dict(path: str, state: dict, *, legacy: bool = False) -> str:
    """Write name -> array as torch.save would (zip format, or the pre-1.6 legacy one), without torch."""
    arrays = {k: np.array(v, dtype=np.asarray(v).dtype.newbyteorder("<"), order="C") for k, v in state.items()}
    pkl = _state_pickle(arrays, legacy=legacy)
    if legacy:
        with open(path, "wb") as f:
            f.write(pickle.dumps(_LEGACY_MAGIC, protocol=2))
            f.write(pickle.dumps(_LEGACY_PROTOCOL, protocol=2))
            f.write(pickle.dumps(dict(protocol_version=_LEGACY_PROTOCOL, little_endian=True), protocol=2))
            f.write(pkl)
            f.write(pickle.dumps([str(i) for i in range(len(arrays))], protocol=2))
            for a in arrays.values():
                f.write(struct.pack("<q", a.size) + a.tobytes())
        return path
    stem = os.path.splitext(os.path.basename(path))[0] or "archive"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{stem}/data.pkl", pkl)
        zf.writestr(f"{stem}/byteorder", "little")
        for i, a in enumerate(arrays.values()):
            zf.writestr(f"{stem}/data/{i}", a.tobytes())
        zf.writestr(f"{stem}/version", "3\n")
    return path


def save_inception_npz(path: str, model: InceptionV3) -> str:
    """The model's weights as a .npz under PyTorch's names (a torch-free alternative to the .pth)."""
    with open(path, "wb") as f:
        np.savez(f, **to_state_dict(model))
    return path
