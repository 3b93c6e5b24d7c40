"""Sources of arrays read by chunks: ``.npy`` and ``.safetensors`` files
(headers parsed here, data read with ``os.preadv`` into reused buffers),
HDF5 files, and array-likes (``np.memmap``, h5py datasets, zarr arrays).

A source is a logical array (`shape`, `dtype`) read along one axis, its
chunk axis `cax`: ``read(a, b, buf)`` returns slices ``a:b`` along it. For
a file the chunk axis is the one stored outermost (axis 0 of a C-ordered
file, the last axis of a Fortran-ordered one), so each chunk is one
sequential read of the file.
"""
from __future__ import annotations

import json
import math
import os
import struct
from typing import Optional, Tuple

import numpy as np

_NPY_MAGIC = b"\x93NUMPY"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
# safetensors dtype names -> NumPy dtypes (BF16 is read as its bits, uint16)
_ST_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8",
              "I32": "<i4", "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4",
              "U16": "<u2", "U8": "u1", "BOOL": "?"}
_ST_MAX_HEADER = 100 << 20   # the limit the safetensors library itself applies


class Source:
    """A logical array read by chunks along axis `cax`."""
    name: str
    shape: Tuple[int, ...]
    dtype: np.dtype
    cax: int
    bfloat16 = False   # the data are bfloat16 bits (uint16 chunks)

    @property
    def slice_shape(self) -> Tuple[int, ...]:
        return self.shape[:self.cax] + self.shape[self.cax + 1:]

    @property
    def slice_bytes(self) -> int:
        return math.prod(self.slice_shape) * self.dtype.itemsize

    @property
    def length(self) -> int:
        return self.shape[self.cax]

    def buffer(self, n: int) -> Optional[np.ndarray]:
        """A reusable buffer for `n` slices (None: `read` makes its own)."""
        return None

    def read(self, a: int, b: int, buf: Optional[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        pass


class FileSource(Source):
    """C-ordered data at byte `offset` of a file (Fortran order: the data of
    the reversed shape, returned transposed)."""

    def __init__(self, name, path, offset, shape, dtype, fortran=False, bfloat16=False):
        self.name, self.path, self.offset = name, path, offset
        self.shape, self.dtype, self.bfloat16 = tuple(shape), np.dtype(dtype), bfloat16
        self.fortran = fortran and len(self.shape) > 1
        self.stored = self.shape[::-1] if self.fortran else self.shape
        self.cax = len(self.shape) - 1 if self.fortran else 0
        self._fd = os.open(path, os.O_RDONLY)
        if hasattr(os, "posix_fadvise"):   # read once, front to back: a larger readahead
            os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)

    def buffer(self, n):
        return np.empty(n * self.slice_bytes, np.uint8)

    def read(self, a, b, buf):
        nbytes = (b - a) * self.slice_bytes
        view = memoryview(buf)[:nbytes]
        start, done = self.offset + a * self.slice_bytes, 0
        while done < nbytes:
            got = os.preadv(self._fd, [view[done:]], start + done)
            if got == 0:
                row = a + done // max(self.slice_bytes, 1)
                raise ValueError(
                    f"{self.name}: {self.path} ended at row {row} while rows [{a}, {b}) "
                    f"were read (the header promises {self.length} rows; did the file "
                    f"shrink while it was read?)")
            done += got
        chunk = buf[:nbytes].view(self.dtype).reshape((b - a,) + tuple(self.stored[1:]))
        return chunk.T if self.fortran else chunk

    def close(self):
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class ArraySource(Source):
    """An array-like with shape, dtype and slicing, read along `cax`.

    An ndarray's chunks are views. So are an np.memmap's: the reader thread
    touches one byte per page of the next chunk, so that its pages are
    faulted in (and read from storage) while the current one is evaluated,
    and nothing is copied. h5py datasets read into reused buffers; other
    array-likes (zarr) make a new array per chunk."""

    PAGE = 4096

    def __init__(self, name, obj, cax=0, owner=None):
        self.name, self.obj, self._owner = name, obj, owner   # owner: a file to close
        self.shape = tuple(int(n) for n in obj.shape)
        self.dtype = np.dtype(obj.dtype)
        self.cax = cax
        self._direct = hasattr(obj, "read_direct")   # h5py reads into a given buffer
        self._mapped = isinstance(obj, np.memmap)

    def _index(self, a, b):
        return (slice(None),) * self.cax + (slice(a, b),)

    def buffer(self, n):
        if self._direct:
            shp = self.shape[:self.cax] + (n,) + self.shape[self.cax + 1:]
            return np.empty(shp, self.dtype)
        return None

    def read(self, a, b, buf):
        idx = self._index(a, b)
        if buf is None:
            chunk = np.asarray(self.obj[idx])
            if self._mapped and chunk.flags.c_contiguous and chunk.size:
                chunk.reshape(-1).view(np.uint8)[::self.PAGE].max()   # fault the pages in
            return chunk
        out = buf[self._index(0, b - a)]
        self.obj.read_direct(out, source_sel=idx)
        return out

    def close(self):
        if self._owner is not None:
            self._owner.close()
            self._owner = None


def _pick(name, path, key, keys, what) -> str:
    """`key` among `keys` (the only one when key is None), else KeyError."""
    keys = sorted(keys)
    if key is None:
        if len(keys) == 1:
            return keys[0]
        raise KeyError(f"{name}: {path} holds {len(keys)} {what}s {keys}; name one with key=")
    if key not in keys:
        raise KeyError(f"{name}: {path} has no {what} {key!r} (it holds {keys})")
    return key


def _file_error(name, path, what) -> ValueError:
    return ValueError(f"{name}: {path} is not a valid {what}")


def _numeric(name, path, dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt.kind not in "fiub" or dt.fields is not None or dt.subdtype is not None:
        raise ValueError(f"{name}: {path} holds dtype {dt}; expected a numeric array")
    return dt


def _check_size(name, path, offset, shape, dtype, size) -> None:
    need = offset + math.prod(shape) * dtype.itemsize
    if need != size:
        row = math.prod(shape[1:]) * dtype.itemsize if len(shape) > 1 else dtype.itemsize
        fit = (size - offset) // row if row else 0
        raise ValueError(
            f"{name}: {path} has {size} bytes, but its header (shape {tuple(shape)}, dtype "
            f"{dtype}, data at byte {offset}) needs {need}"
            + (f": truncated (about {fit} rows are there)" if need > size else ""))


def open_npy(name: str, path: str) -> FileSource:
    """The array of a .npy file (header parsed once, data not read)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"format version {version} is not known")
        except (ValueError, OSError, SyntaxError, EOFError) as exc:
            raise ValueError(f"{name}: {path} is not a valid .npy file "
                             f"(its header: {exc})") from None
        offset = f.tell()
    dtype = _numeric(name, path, dtype)
    _check_size(name, path, offset, shape, dtype, size)
    return FileSource(name, path, offset, shape, dtype, fortran=fortran)


def _st_header(name, path, size) -> Tuple[dict, int]:
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise _file_error(name, path, "safetensors file (shorter than its 8-byte header "
                                          "length)")
        (n,) = struct.unpack("<Q", head)
        if n > min(size - 8, _ST_MAX_HEADER):
            raise _file_error(name, path, f"safetensors file (header length {n}, file of "
                                          f"{size} bytes)")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _file_error(name, path, f"safetensors file (its JSON header: {exc})") from None
    if not isinstance(header, dict):
        raise _file_error(name, path, "safetensors file (the header is not a JSON object)")
    return header, 8 + n


def open_safetensors(name: str, path: str, key: Optional[str]) -> FileSource:
    """Tensor `key` of a .safetensors file (the only one when key is None)."""
    size = os.path.getsize(path)
    header, base = _st_header(name, path, size)
    key = _pick(name, path, key, [k for k in header if k != "__metadata__"], "tensor")
    info = header[key]
    try:
        kind, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        shape = tuple(int(s) for s in shape)
        begin, end = int(begin), int(end)
    except (KeyError, TypeError, ValueError) as exc:
        raise _file_error(name, path, f"safetensors file (entry {key!r}: {exc!r})") from None
    if kind not in _ST_DTYPES:
        raise ValueError(f"{name}: {path}: tensor {key!r} has dtype {kind}; expected one of "
                         f"{sorted(_ST_DTYPES)}")
    dtype = np.dtype(_ST_DTYPES[kind])
    if any(s < 0 for s in shape) or end - begin != math.prod(shape) * dtype.itemsize \
            or begin < 0 or base + end > size:
        raise _file_error(name, path, f"safetensors file (tensor {key!r}: shape {shape} of "
                                      f"{kind} at data bytes [{begin}, {end}), file of {size} "
                                      f"bytes with data from byte {base})")
    return FileSource(name, path, base + begin, shape, dtype, bfloat16=kind == "BF16")


def _open_hdf5(name, path, key):
    try:
        import h5py
    except ImportError:
        raise ValueError(f"{name}: {path} is an HDF5 file; reading it needs h5py "
                         f"(pip install fastxent[files])") from None
    f = h5py.File(path, "r")
    keys = []
    f.visititems(lambda k, v: keys.append(k) if isinstance(v, h5py.Dataset) else None)
    try:
        key = _pick(name, path, key, keys, "dataset")
    except KeyError:
        f.close()
        raise
    return ArraySource(name, f[key], owner=f)


def _open_zarr(name, path, key):
    try:
        import zarr
    except ImportError:
        raise ValueError(f"{name}: {path} is a folder; reading it as a zarr store needs zarr "
                         f"(pip install fastxent[files])") from None
    try:
        node = zarr.open(path, mode="r")
    except Exception as exc:   # zarr's own errors differ between versions
        raise ValueError(f"{name}: {path} is a folder but not a zarr store ({exc})") from None
    if hasattr(node, "shape"):
        return ArraySource(name, node)
    key = _pick(name, path, key, [k for k, _ in node.arrays()], "array")
    return ArraySource(name, node[key])


def open_path(name: str, path, key: Optional[str] = None) -> Source:
    """The array stored at `path`: .npy, .safetensors or HDF5 (by content),
    or a zarr store (a folder)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name}: no such file: {path}")
    if os.path.isdir(path):
        return _open_zarr(name, path, key)
    if not os.path.isfile(path):
        raise ValueError(f"{name}: {path} is not a regular file")
    with open(path, "rb") as f:
        head = f.read(9)
    if head.startswith(_NPY_MAGIC) or path.endswith(".npy"):
        if key is not None:
            raise ValueError(f"{name}: {path} is a .npy file, which holds one array; a key "
                             f"({key!r}) names a tensor of a .safetensors or HDF5 file")
        return open_npy(name, path)   # its errors say what is wrong
    if head.startswith(_HDF5_MAGIC):
        return _open_hdf5(name, path, key)
    if path.endswith(".safetensors") or head[8:9] == b"{":
        return open_safetensors(name, path, key)
    raise ValueError(f"{name}: {path} is of an unknown format; expected a .npy, .safetensors "
                     f"or HDF5 file")


def open_source(name: str, obj, key: Optional[str] = None) -> Source:
    """A source for a path, an array-like with shape/dtype/slicing, or
    anything np.asarray takes (held in memory)."""
    if isinstance(obj, (str, bytes, os.PathLike)):
        return open_path(name, obj, key)
    if isinstance(obj, Source):
        return obj
    if hasattr(obj, "shape") and hasattr(obj, "dtype") and hasattr(obj, "__getitem__") \
            and not isinstance(obj, np.ndarray):
        try:
            np.dtype(obj.dtype)
        except TypeError:
            pass   # e.g. a torch tensor: np.asarray below
        else:
            return ArraySource(name, obj)
    try:
        return ArraySource(name, np.asarray(obj))
    except ValueError as exc:
        raise ValueError(f"{name}: cannot be made an array ({exc})") from None
