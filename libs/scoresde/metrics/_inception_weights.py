"""pytorch-fid's Inception weights without torch: read a PyTorch state_dict file and map it onto `InceptionV3`.

`pt_inception-2015-12-05-6726825d.pth` is a `torch.save`d state_dict, read by the library's torch-free
reader (`scoresde.interop._torch_pickle`: both torch formats, restricted unpickler). A .npz with the
same key names works too. `write_torch_state_dict` writes either torch format (tests).
"""

import functools
import os
import pickle
import struct
import zipfile

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..interop import _torch_pickle
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
def read_state_dict(path: str, *, with_data: bool = True) -> dict:
    """name -> numpy array (or just the shape, reading no tensor data) from a torch .pth or a .npz."""
    try:
        return _torch_pickle.read_state_dict(path, with_data=with_data)
    except ValueError as e:
        raise ValueError(f"{str(e).splitlines()[0]}; {WHERE}") from None


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
