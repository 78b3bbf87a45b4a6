"""Reader of Flax checkpoints (`flax.training.checkpoints`: a msgpack of the state dict) without flax.

The file is memory-mapped and decoded lazily: maps, arrays, strings and numbers are parsed, and each
array (msgpack ext type 1: a packed (shape, dtype name, bytes) triple; type 3 for a numpy scalar)
becomes a `FlaxArray` that reads its bytes only when `.numpy()` is called, so loading the EMA
parameters of a checkpoint does not load its optimiser state. Flax's chunked arrays (a dict with
`__msgpack_chunked_array__`, for arrays above 2^30 bytes) are joined. msgpack executes no code.
"""

import mmap
import os
import struct

import numpy as np

_EXT_NDARRAY, _EXT_COMPLEX, _EXT_SCALAR = 1, 2, 3


class FlaxArray:
    """An array of a Flax checkpoint: `shape`, `dtype` and `numpy()` (a copy out of the mapped file)."""

    def __init__(self, buf, offset: int, length: int):
        payload = _Decoder(buf, offset, offset + length).value()
        if not (isinstance(payload, list) and len(payload) == 3 and isinstance(payload[2], _Bin)):
            raise ValueError("malformed array record")
        shape, dtype, data = payload
        self.shape, self.dtype, self._buf, self._data = tuple(int(d) for d in shape), np.dtype(dtype), buf, data
        if int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize != data.length:
            raise ValueError(f"array of shape {self.shape} and dtype {dtype} holds {data.length} bytes")

    def numpy(self) -> np.ndarray:
        count = int(np.prod(self.shape, dtype=np.int64))
        return np.frombuffer(self._buf, self.dtype, count, self._data.offset).reshape(self.shape).copy()

    def __repr__(self) -> str:
        return f"FlaxArray(shape={self.shape}, dtype={self.dtype})"


class _Bin:
    """Where a msgpack bin lies in the file (read only when an array needs it)."""

    def __init__(self, offset: int, length: int):
        self.offset, self.length = offset, length


class _Chunked:
    """Flax's chunked array: pieces of a flattened array, joined when read."""

    def __init__(self, shape, chunks: list[FlaxArray]):
        self.shape, self._chunks = tuple(int(d) for d in shape), chunks
        self.dtype = chunks[0].dtype if chunks else np.dtype(np.float32)

    def numpy(self) -> np.ndarray:
        return np.concatenate([c.numpy().ravel() for c in self._chunks]).reshape(self.shape)


class _Decoder:
    def __init__(self, buf, start: int, end: int):
        self.buf, self.pos, self.end = buf, start, end

    def _take(self, n: int) -> int:
        at = self.pos
        if at + n > self.end:
            raise ValueError("unexpected end of data (the file is truncated)")
        self.pos += n
        return at

    def _unpack(self, fmt: str) -> int | float:
        at = self._take(struct.calcsize(fmt))
        return struct.unpack_from(fmt, self.buf, at)[0]

    def _str(self, n: int) -> str:
        at = self._take(n)
        return bytes(self.buf[at : at + n]).decode("utf-8")

    def value(self):
        b = self._unpack(">B")
        if b <= 0x7F:
            return b
        if b >= 0xE0:
            return b - 0x100
        if 0x80 <= b <= 0x8F:
            return self._map(b & 0x0F)
        if 0x90 <= b <= 0x9F:
            return [self.value() for _ in range(b & 0x0F)]
        if 0xA0 <= b <= 0xBF:
            return self._str(b & 0x1F)
        simple = {0xC0: None, 0xC2: False, 0xC3: True}
        if b in simple:
            return simple[b]
        if b in (0xC4, 0xC5, 0xC6):
            n = self._unpack({0xC4: ">B", 0xC5: ">H", 0xC6: ">I"}[b])
            return _Bin(self._take(n), n)
        if b in (0xC7, 0xC8, 0xC9):
            n = self._unpack({0xC7: ">B", 0xC8: ">H", 0xC9: ">I"}[b])
            return self._ext(n)
        if b in (0xCA, 0xCB):
            return self._unpack(">f" if b == 0xCA else ">d")
        ints = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q"}
        if b in ints:
            return self._unpack(ints[b])
        if 0xD4 <= b <= 0xD8:
            return self._ext(1 << (b - 0xD4))
        if b in (0xD9, 0xDA, 0xDB):
            return self._str(self._unpack({0xD9: ">B", 0xDA: ">H", 0xDB: ">I"}[b]))
        if b in (0xDC, 0xDD):
            return [self.value() for _ in range(self._unpack(">H" if b == 0xDC else ">I"))]
        if b in (0xDE, 0xDF):
            return self._map(self._unpack(">H" if b == 0xDE else ">I"))
        raise ValueError(f"byte 0x{b:02x} at offset {self.pos - 1} is not msgpack")

    def _map(self, n: int) -> dict:
        out = {}
        for _ in range(n):
            key = self.value()
            out[key if isinstance(key, str) else str(key)] = self.value()
        if out.get("__msgpack_chunked_array__") is True:
            chunks = out["chunks"]
            return _Chunked(out["shape"], [chunks[str(i)] for i in range(len(chunks))])
        return out

    def _ext(self, n: int):
        code = self._unpack(">b")
        at = self._take(n)
        if code in (_EXT_NDARRAY, _EXT_SCALAR):
            return FlaxArray(self.buf, at, n)
        if code == _EXT_COMPLEX:
            real, imag = _Decoder(self.buf, at, at + n).value()
            return complex(real, imag)
        raise ValueError(f"unknown msgpack extension type {code}")


class FlaxFile:
    """An open Flax checkpoint: `.obj` is its state dict (arrays lazy); use as a context manager."""

    def __init__(self, path: str):
        if not os.path.isfile(path):
            raise ValueError(f"{path} does not exist")
        self.path = path
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close() / __exit__
        try:
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
            decoder = _Decoder(self._map, 0, len(self._map))
            self.obj = decoder.value()
            if not isinstance(self.obj, dict) or decoder.pos != len(self._map):
                raise ValueError("it does not hold one msgpack map (a Flax state dict)")
        except (ValueError, struct.error, UnicodeDecodeError, KeyError, RecursionError) as e:
            self.close()
            raise ValueError(f"{path} is not a readable Flax (msgpack) checkpoint ({str(e).splitlines()[0]})") from None

    def close(self) -> None:
        self.obj = None
        m, self._map = getattr(self, "_map", None), None
        if m is not None:
            m.close()
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def flatten(tree, prefix: str = "") -> dict[str, object]:
    """Nested dicts -> {'a/b/c': leaf}."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    out = {}
    for k, v in tree.items():
        out.update(flatten(v, f"{prefix}/{k}" if prefix else k))
    return out
