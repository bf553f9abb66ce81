"""Analysis stores: named arrays written once by one step (NumPy or Dask, computed chunk by chunk
into the store), complete-marked and moved into place; read back only through checked readers."""

from __future__ import annotations

from pathlib import Path
from typing import Collection, Mapping

import numpy as np
import zarr

from .. import __version__
from .checked import CheckedGroup, checked, lazy
from .checksums import checksummed_array
from .errors import StoreError
from .outputs import atomic_output

ANALYSIS_FORMAT = "analysis-store/1"


def write_array_store(
    path: str | Path,
    arrays: Mapping,
    attrs: Mapping | None = None,
    chunks: Mapping | None = None,
    uncompressed: Collection[str] = (),
) -> Path:
    """Write named arrays (NumPy or Dask; names may contain '/') as one Zarr store, atomically.

    Dask arrays are computed chunk by chunk into the store (memory bounded by their chunks).
    The store is written aside, marked complete, then renamed to ``path``. Every chunk carries a
    CRC32C checksum; arrays named in ``uncompressed`` (dense float data that compression barely
    shrinks) are stored without zstd, which makes them much faster to read.
    """
    unknown = set(uncompressed) - set(arrays)
    if unknown:
        raise ValueError(f"uncompressed names arrays that are not written: {sorted(unknown)}")
    with atomic_output(path) as written:
        _write_arrays(zarr.open_group(str(written), mode="w", zarr_format=3), arrays, attrs, chunks, uncompressed)
    return Path(path)


def _write_arrays(root: zarr.Group, arrays: Mapping, attrs, chunks, uncompressed) -> None:
    import dask.array as da

    for name, value in arrays.items():
        *groups, leaf = name.split("/")
        group = root
        for g in groups:
            group = group.require_group(g)
        if isinstance(value, da.Array):
            chunk = tuple(c[0] for c in value.chunks)
            target = checksummed_array(group, leaf, value.shape, chunk, value.dtype, 0, compress=name not in uncompressed)
            da.store(value, target, lock=False)
        else:
            value = np.asarray(value)
            # a 0-d array is one 0-d chunk; an empty axis still needs a chunk of length 1
            chunk = (chunks or {}).get(name) or tuple(max(1, d) for d in value.shape)
            checksummed_array(group, leaf, value.shape, chunk, value.dtype, 0, compress=name not in uncompressed)[...] = value
    root.attrs.update({**(attrs or {}), "format": ANALYSIS_FORMAT, "package_version": __version__})
    root.attrs["complete"] = True


def open_array_store(path: str | Path) -> CheckedGroup:
    """Open a finished analysis store read-only (StoreError when absent or incomplete)."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"store {path} does not exist")
    root = zarr.open_group(str(path), mode="r")
    if root.attrs.get("format") != ANALYSIS_FORMAT or not root.attrs.get("complete", False):
        raise StoreError(f"store {path} is not a complete analysis store")
    return CheckedGroup(root, path)


def read_array(path: str | Path, name: str) -> np.ndarray:
    """One whole array of a finished analysis store (CorruptStoreError on a failed checksum)."""
    root = open_array_store(path)
    with checked(path):
        return root[name][...]


def dask_array(path: str | Path, name: str, *, all_items: bool = False):
    """One array of a finished analysis store as a lazy Dask array.

    One task per stored chunk; with ``all_items``, one task per stored chunk of the trailing axes
    that reads it for every item of axis 0 at once (the shape of read the Gram-form distances
    want, without a rechunk through the scheduler).
    """

    array = open_array_store(path)[name]
    chunks = (array.shape[0], *array.chunks[1:]) if all_items else array.chunks
    return lazy(array, chunks)
