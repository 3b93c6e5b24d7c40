"""from_npy: a dask array over a .npy file whose tasks open it by path.

``da.from_array(np.load(path, mmap_mode="r"))`` pickles the memmap's data
into the graph (tens of MiB for a modest file, sent to the scheduler and
the workers); here each task holds only the path and its block's slices.
"""
from __future__ import annotations

import os
from typing import Any, Optional

import dask.array as da
import numpy as np
from dask.base import tokenize

from .._args import normalize_axis


def _open(path: str):
    """The array of a .npy file, memory-mapped."""
    return np.load(path, mmap_mode="r", allow_pickle=False)


def _read_block(path: str, block_info=None):
    loc = block_info[None]["array-location"]
    arr = _open(path)
    view = arr[tuple(slice(s, e) for s, e in loc)]
    # a plain ndarray over the mapping: no copy; the mapping closes with it
    return np.asarray(view)


def _chunks(chunks: Any, shape: tuple, dtype: Any, ax: Optional[int]) -> tuple:
    """Normalised chunks, the class axis `ax` (None: none) in one chunk."""
    ndim = len(shape)
    row_axis = 1 if ax == 0 else 0
    spec: Any
    if isinstance(chunks, (int, np.integer)) and not isinstance(chunks, bool):
        if chunks < 1:
            raise ValueError(f"chunks: expected a positive number of rows, got {chunks}")
        spec = tuple(int(chunks) if i == row_axis else -1 for i in range(ndim))
    elif isinstance(chunks, str):
        spec = tuple(-1 if i == ax else chunks for i in range(ndim))
    else:
        spec = chunks
    try:
        norm = da.core.normalize_chunks(spec, shape, dtype=dtype)
    except (ValueError, TypeError) as e:
        raise ValueError(f"chunks: cannot chunk an array of shape {shape}: {e}") from None
    if ax is not None and len(norm[ax]) > 1:
        raise ValueError(f"chunks: expected the class axis {ax} in one chunk (the kernels read "
                         f"whole rows), got {len(norm[ax])} chunks along it")
    return norm


def from_npy(path, chunks="auto", *, axis=-1):
    """A dask array over a ``.npy`` file, read by path inside each task.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npy`` file every worker can open at this path.
    chunks : int, tuple or "auto", default "auto"
        As in ``dask.array``; an int is a number of rows along the first
        axis (the second if `axis` is 0). The class axis stays in one chunk.
    axis : int or None, default -1
        The class axis; None for a file without one (labels, weights,
        segment ids: one value per row).

    Returns
    -------
    dask.array.Array
        Each task memory-maps the file (``np.load(path, mmap_mode="r")``)
        and returns its block without a copy: the graph holds the path and
        the slices only, never the data. Zarr stores need nothing of
        fastxent: ``da.from_zarr`` already reads them inside the tasks.

    Examples
    --------
    >>> import numpy as np, os, tempfile, fastxent.dask
    >>> p = os.path.join(tempfile.mkdtemp(), "x.npy"); np.save(p, np.ones((10, 3)))
    >>> fastxent.dask.from_npy(p, chunks=4).chunks
    ((4, 4, 2), (3,))
    """
    path = os.path.abspath(os.fspath(path))
    arr = _open(path)
    shape, dtype = arr.shape, arr.dtype
    del arr
    if len(shape) == 0:
        raise ValueError(f"path: expected an array, got a scalar in {path}")
    ax = None if axis is None else normalize_axis(axis, len(shape))
    norm = _chunks(chunks, shape, dtype, ax)
    st = os.stat(path)
    name = "from_npy-" + tokenize(path, st.st_size, st.st_mtime_ns, norm)
    return da.map_blocks(_read_block, path, chunks=norm, dtype=dtype, name=name,
                         meta=np.empty((0,) * len(shape), dtype))
