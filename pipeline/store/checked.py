"""The only readers of a finished store: checked ones.

:class:`CheckedGroup` and :class:`CheckedArray` turn a chunk failing its checksum
(:class:`~pipeline.store.checksums.ChecksumMismatch`) into :class:`CorruptStoreError` naming the
store, the array and the chunk, and move the store aside (``<store>.corrupt``) so that the next
run re-creates it; :func:`checked` does the same around any other read (Dask computations
included), :func:`lazy` hands a checked array to Dask.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import numpy as np
import zarr

from .checksums import ChecksumMismatch
from .documents import spec_hash
from .errors import CorruptStoreError


def quarantine_path(path: str | Path) -> Path:
    """Where a corrupted store is kept for inspection (``<store>.corrupt``)."""
    path = Path(path)
    return path.with_name(path.name + ".corrupt")


@contextlib.contextmanager
def checked(path: str | Path):
    """Turn a checksum failure while reading ``path`` into a CorruptStoreError naming the store.

    Wrap every read of a finished store in it, Dask computations that read it included (their
    tasks' errors are raised again where the result is gathered).

    The store is moved to ``<store>.corrupt`` (an older one there is replaced): its producer's
    output is then missing, so the next Snakemake run re-creates it instead of trusting it.
    """
    try:
        yield
    except ChecksumMismatch as exc:
        _quarantine_and_raise(Path(path), "a chunk", exc)


def _quarantine_and_raise(path: Path, what: str, exc: Exception):
    """Move a corrupted store to ``<store>.corrupt`` (an older one there is replaced), so that its
    producer's output is missing and the next run re-creates it; raise CorruptStoreError."""
    kept = quarantine_path(path)
    if path.exists():
        if kept.exists():
            shutil.rmtree(kept)
        os.replace(path, kept)
    raise CorruptStoreError(
        f"store {path} is corrupted: {what} failed its CRC32C checksum ({exc}); the store was moved to "
        f"{kept} for inspection, and the next snakemake run re-creates it"
    ) from None


class CheckedArray:
    """An array of a finished store whose every read is checked: the only kind of array
    :func:`open_population` and :func:`open_array_store` hand out.

    A read that meets a chunk failing its checksum moves the store aside (``<store>.corrupt``) and
    raises :class:`CorruptStoreError` naming the store, the array and the chunk, so that no step
    can read a store unchecked. Anything else (shape, dtype, chunks, attrs) is the zarr array's.
    """

    def __init__(self, array: zarr.Array, store_path: Path):
        self._array = array
        self._store = store_path

    def __getattr__(self, name):
        if name.startswith("_"):  # not yet set (unpickling in a Dask worker): no recursion
            raise AttributeError(name)
        return getattr(self._array, name)

    def __len__(self) -> int:
        return len(self._array)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self[...], dtype=dtype)

    def __getitem__(self, key):
        try:
            return self._array[key]
        except ChecksumMismatch as exc:
            _quarantine_and_raise(self._store, f"chunk {self._failing_chunk()} of array {self._array.path!r}", exc)

    def _failing_chunk(self) -> str:
        # only after a failure: read chunk by chunk to name the one that fails
        import itertools
        import math

        grid = [range(math.ceil(n / c)) for n, c in zip(self._array.shape, self._array.chunks)]
        for coords in itertools.product(*grid):
            try:
                self._array.get_block_selection(coords)
            except ChecksumMismatch:
                return "(" + ", ".join(map(str, coords)) + ")"
            except Exception:  # noqa: BLE001 - naming the chunk is best effort
                break
        return "(unknown)"


class CheckedGroup:
    """A group of a finished store whose arrays are :class:`CheckedArray` (and subgroups checked
    groups); attrs, keys and membership are the zarr group's."""

    def __init__(self, group: zarr.Group, store_path: Path):
        self._group = group
        self._store = store_path

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._group, name)

    def _wrap(self, member):
        if isinstance(member, zarr.Array):
            return CheckedArray(member, self._store)
        if isinstance(member, zarr.Group):
            return CheckedGroup(member, self._store)
        return member

    def __getitem__(self, key):
        return self._wrap(self._group[key])

    def __contains__(self, key) -> bool:
        return key in self._group

    def __iter__(self):
        return iter(self._group)

    def arrays(self):
        for name, array in self._group.arrays():
            yield name, CheckedArray(array, self._store)

    def groups(self):
        for name, group in self._group.groups():
            yield name, CheckedGroup(group, self._store)

    def members(self):
        for name, member in self._group.members():
            yield name, self._wrap(member)


def lazy(array: CheckedArray, chunks=None):
    """A checked array as a lazy Dask array (one task per chunk of ``chunks``, default the stored
    chunks); each task's read is checked."""
    import dask.array as da

    chunks = chunks or array.chunks
    name = f"read-{spec_hash({'store': str(array._store), 'array': array._array.path, 'chunks': list(chunks)})}"
    meta = np.empty((0,) * array.ndim, array.dtype)
    return da.from_array(array, chunks=chunks, name=name, asarray=True, lock=False, fancy=False, meta=meta)
