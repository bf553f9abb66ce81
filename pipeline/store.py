"""The only module that reads or writes Zarr stores and Parquet tables.

Population store (Zarr v3, one per training job)::

    attrs       format, sweep, population, members, spec, spec_hash, package version,
                snapshot count, and ``complete`` (written last)
    params/<name>       [member, snapshot, *shape]   parameter snapshots
    buffers/<name>      [member, snapshot, *shape]   BatchNorm statistics (when the model has any)
    snapshot_step       [snapshot]                   optimizer step of each snapshot (-1: not yet)
    metrics/<name>      [member, epoch]              per-epoch metrics (NaN: not yet)
    diverged_at         [member]                     step at which the loss became non-finite (-1: never)
    final/params/<name>, final/buffers/<name>        float32 final state (what fine-tuning starts from)
    state/<slot>/...    resume state, two slots written alternately while training

Analysis stores hold named arrays written once by one step (:func:`write_array_store`).

Every chunk carries a CRC32C checksum, so a corrupted chunk fails loudly on read
(:class:`ChecksumMismatch`), and the only readers this module hands out are checked ones
(:class:`CheckedGroup`, :class:`CheckedArray`), which turn it into :class:`CorruptStoreError` naming
the store, the array and the chunk. Every
output, store or table, is written under ``<path>.partial`` and moved into place once complete
(:func:`atomic_output`), so an interrupted job never leaves something that looks finished. While
it writes, the job holds an exclusive OS lock on that output (:func:`claim_output`), so a second
writer (a re-run started while a killed run's job still lives) fails at once instead of writing
into the same partial store.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Collection, Mapping

import numpy as np
import zarr
from zarr.codecs import Crc32cCodec, ZstdCodec
from zarr.registry import fully_qualified_name, register_codec

from . import __version__

if TYPE_CHECKING:
    import dask.array

FORMAT = "population-store/1"
METRIC_NAMES = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")


class ChecksumMismatch(ValueError):
    """A chunk's bytes do not match the CRC32C stored with them."""


class VerifyingCrc32c(Crc32cCodec):
    """zarr's CRC32C codec, raising :class:`ChecksumMismatch` (not a bare ValueError) on a mismatch.

    Registered as the reader of every ``crc32c`` chunk in this process, so that a corrupted chunk
    is told apart from any other ValueError by its type. On disk it is zarr's ``crc32c`` codec:
    other readers read these stores as they are.
    """

    def _decode_sync(self, chunk_bytes, chunk_spec):
        try:
            return super()._decode_sync(chunk_bytes, chunk_spec)
        except ValueError as error:  # the only ValueError of this codec: the checksum comparison
            raise ChecksumMismatch(str(error)) from None


register_codec("crc32c", VerifyingCrc32c)
zarr.config.set({"codecs.crc32c": fully_qualified_name(VerifyingCrc32c)})

_COMPRESSORS = (ZstdCodec(level=3), VerifyingCrc32c())
# Dense float matrices (diffusion operators, distance matrices) shrink by ~8% under zstd but read
# 1.8x slower (1.6 GB of operators: 6.8 s vs 3.8 s measured), so they keep only the checksum.
_CHECKSUM_ONLY = (VerifyingCrc32c(),)


class StoreError(RuntimeError):
    """A store is missing, incomplete, corrupted or of another format."""


class CorruptStoreError(StoreError):
    """A chunk of a finished store failed its checksum; the store was moved aside."""


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


def spec_hash(spec: Mapping) -> str:
    """Stable hash of a JSON-serializable specification."""
    blob = json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class OutputBusyError(StoreError):
    """Another live process is writing the same output."""


# output (absolute path) -> [file descriptor of its lock, claims by this process]
_CLAIMED: dict[Path, list[int]] = {}


def lock_path(path: str | Path) -> Path:
    """The lock file of an output: ``.<name>.lock`` beside it (kept, never deleted: deleting a
    lock file another process has open would let two writers lock two different files)."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


def claim_output(path: str | Path) -> None:
    """Hold an exclusive lock on writing ``path`` until :func:`release_output` (or the process
    ends: the kernel releases the lock of a dead process, ``kill -9`` included).

    An ``flock`` on the output's lock file: a second process that claims the same output while
    the first lives gets :class:`OutputBusyError` at once, naming the holder, and never touches
    the output. Claims by one process nest. On a cluster the lock needs a file system with
    working ``flock`` (NFSv4, Lustre mounted with ``flock``), as Snakemake's own locks do.
    """
    key = Path(path).absolute()
    if key in _CLAIMED:
        _CLAIMED[key][1] += 1
        return
    lock = lock_path(key)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 256, 0).decode(errors="replace").strip() or "a process that did not say"
        os.close(fd)
        raise OutputBusyError(
            f"{path} is being written by another process ({holder}); a second writer would corrupt it. "
            "Wait for that process to end, or stop it, then run again."
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
    _CLAIMED[key] = [fd, 1]


def release_output(path: str | Path) -> None:
    """Give up one claim of ``path`` (:func:`claim_output`); the lock goes with the last."""
    key = Path(path).absolute()
    held = _CLAIMED.get(key)
    if held is None:
        return
    held[1] -= 1
    if held[1] == 0:
        del _CLAIMED[key]
        os.close(held[0])  # closing the descriptor releases the flock


def partial_path(path: str | Path) -> Path:
    """Where an output (store or file) is written while its job runs."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def publish(written: str | Path, path: str | Path) -> Path:
    """Move a finished output from where it was written to ``path``, replacing what was there."""
    written, path = Path(written), Path(path)
    _remove(path)
    os.replace(written, path)
    return path


@contextlib.contextmanager
def atomic_output(path: str | Path):
    """Yield where to write ``path`` (a file or a folder); move it into place when the block ends.

    The output is written at ``<path>.partial`` (a leftover there is removed first) and renamed to
    ``path`` only if the block completes, so a killed or failing step never leaves an output that
    looks finished. The one way outputs are written here: stores, Parquet and result tables.
    """
    path = Path(path)
    claim_output(path)
    try:
        written = partial_path(path)
        _remove(written)
        path.parent.mkdir(parents=True, exist_ok=True)
        yield written
        publish(written, path)
    finally:
        release_output(path)


def _array(group, name, shape, chunks, dtype, fill_value, shards=None, compress=True):
    return group.create_array(
        name=name,
        shape=shape,
        chunks=chunks,
        shards=shards,
        dtype=dtype,
        fill_value=fill_value,
        compressors=_COMPRESSORS if compress else _CHECKSUM_ONLY,
        overwrite=True,
    )


def create_population_store(
    path: str | Path,
    spec: Mapping,
    param_shapes: Mapping[str, tuple],
    buffer_specs: Mapping[str, tuple[tuple, str]],
    n_snapshots: int,
    n_epochs: int,
    snapshot_dtype: str = "float32",
    snapshot_metrics: bool = False,
    n_thresholds: int = 0,
) -> zarr.Group:
    """Create an empty population store laid out for ``spec``.

    Parameters
    ----------
    path : str or Path
        Store folder (created, replacing anything there).
    spec : mapping
        The population specification (JSON-serializable); stored with its hash.
    param_shapes : mapping
        Shape of each parameter of one network.
    buffer_specs : mapping
        ``(shape, dtype)`` of each buffer of one network (BatchNorm statistics).
    n_snapshots, n_epochs : int
        Sizes of the snapshot and epoch axes.
    snapshot_dtype : {"float32", "float16"}
        Precision of the snapshot arrays.
    snapshot_metrics : bool
        Whether to hold ``snapshot_metrics/<name>`` [member, snapshot] (each snapshot's
        parameters evaluated on the whole training and test sets).
    n_thresholds : int
        Training-accuracy thresholds: ``thresholds/params/<name>`` and ``thresholds/buffers/<name>``
        [member, threshold, *shape] (NaN until reached), ``thresholds/step`` [member, threshold]
        (-1: never reached) and ``thresholds/accuracy``.
    """
    members = len(spec["members"])
    root = zarr.open_group(str(path), mode="w", zarr_format=3)
    layouts = {
        "params": {name: (shape, snapshot_dtype) for name, shape in param_shapes.items()},
        "buffers": dict(buffer_specs),
    }
    for group_name, specs in layouts.items():
        group = root.create_group(group_name)
        for name, (shape, dtype) in specs.items():
            is_float = np.issubdtype(np.dtype(dtype), np.floating)
            # One chunk = one member's snapshot (one Dask task); one shard file per snapshot.
            _array(
                group,
                name,
                (members, n_snapshots, *shape),
                (1, 1, *shape),
                dtype,
                np.nan if is_float else -1,
                shards=(members, 1, *shape),
            )
    _array(root, "snapshot_step", (n_snapshots,), (n_snapshots,), "int64", -1)
    metrics = root.create_group("metrics")
    for name in METRIC_NAMES:
        _array(metrics, name, (members, n_epochs), (members, n_epochs), "float32", np.nan)
    if n_thresholds:
        thresholds = root.create_group("thresholds")
        for group_name, specs in layouts.items():
            group = thresholds.create_group(group_name)
            for name, (shape, dtype) in specs.items():
                is_float = np.issubdtype(np.dtype(dtype), np.floating)
                _array(group, name, (members, n_thresholds, *shape), (1, 1, *shape), dtype, np.nan if is_float else -1)
        _array(thresholds, "step", (members, n_thresholds), (members, n_thresholds), "int64", -1)
        _array(thresholds, "accuracy", (members, n_thresholds), (members, n_thresholds), "float32", np.nan)
    if snapshot_metrics:
        group = root.create_group("snapshot_metrics")
        for name in METRIC_NAMES:
            _array(group, name, (members, n_snapshots), (members, n_snapshots), "float32", np.nan)
    _array(root, "diverged_at", (members,), (members,), "int64", -1)
    root.attrs.update(
        {
            "format": FORMAT,
            "package_version": __version__,
            "spec": dict(spec),
            "spec_hash": spec_hash(spec),
            "n_snapshots": n_snapshots,
            "n_epochs": n_epochs,
            "complete": False,
        }
    )
    return root


def open_partial(path: str | Path, spec: Mapping) -> zarr.Group | None:
    """Open an interrupted store for resumption, or None when there is none to resume.

    A partial store written for another specification (changed hyperparameters) or one that
    cannot be read is not resumed; the caller starts afresh.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        root = zarr.open_group(str(path), mode="r+")
        if root.attrs.get("format") != FORMAT or root.attrs.get("spec_hash") != spec_hash(spec):
            return None
        return root
    except Exception:  # an unreadable leftover is simply not resumable
        return None


def write_snapshot(root: zarr.Group, index: int, step: int, params: Mapping, buffers: Mapping) -> None:
    """Write one snapshot of every member (arrays shaped [member, *shape])."""
    for group_name, tensors in (("params", params), ("buffers", buffers)):
        group = root[group_name]
        for name, value in tensors.items():
            array = group[name]
            array[:, index] = np.asarray(value).astype(array.dtype, copy=False)
    root["snapshot_step"][index] = step


def write_epoch_metrics(root: zarr.Group, epoch: int, metrics: Mapping[str, np.ndarray]) -> None:
    """Write the metrics of consecutive epochs from 0-based ``epoch``: each ``[member]`` (one
    epoch) or ``[member, epochs]`` (a block, one write per metric: a zarr write costs about as
    much as a small network's training step)."""
    for name, values in metrics.items():
        values = np.asarray(values, dtype=np.float32)
        if values.ndim == 1:
            root["metrics"][name][:, epoch] = values
        else:
            root["metrics"][name][:, epoch : epoch + values.shape[1]] = values


def write_snapshot_metrics(root: zarr.Group, index: int, metrics: Mapping[str, np.ndarray]) -> None:
    """Write one snapshot's metrics (each [member]) at snapshot ``index``."""
    for name, values in metrics.items():
        root["snapshot_metrics"][name][:, index] = np.asarray(values, dtype=np.float32)


def write_threshold_snapshot(root: zarr.Group, index: int, members, step: int, accuracy, params: Mapping, buffers: Mapping) -> None:
    """Write the parameters of ``members`` that first reached threshold ``index`` at ``step``."""
    group = root["thresholds"]
    for member, acc, position in zip(members, accuracy, range(len(members))):
        for group_name, tensors in (("params", params), ("buffers", buffers)):
            for name, value in tensors.items():
                array = group[group_name][name]
                array[int(member), index] = np.asarray(value[position]).astype(array.dtype, copy=False)
    steps, accuracies = group["step"][...], group["accuracy"][...]
    steps[members, index] = step
    accuracies[members, index] = accuracy
    group["step"][...] = steps
    group["accuracy"][...] = accuracies


def read_thresholds(path: str | Path) -> dict:
    """``{"step": [member, threshold], "accuracy": ..., "params": {name: [member, threshold, *shape]},
    "buffers": ...}`` of a finished store that saved threshold snapshots (NaN / -1 where never reached)."""
    root = open_population(path)
    if "thresholds" not in root:
        raise StoreError(f"population store {path} holds no threshold snapshots (its sweep had no snapshot_thresholds)")
    group = root["thresholds"]
    with checked(path):
        out = {"step": group["step"][...], "accuracy": group["accuracy"][...]}
        for group_name in ("params", "buffers"):
            out[group_name] = {name: array[...] for name, array in group[group_name].arrays()}
    return out


def write_diverged(root: zarr.Group, diverged_at: np.ndarray) -> None:
    root["diverged_at"][:] = np.asarray(diverged_at, dtype=np.int64)


def save_resume_state(root: zarr.Group, step: int, state: Mapping[str, np.ndarray]) -> None:
    """Save the full training state (float32/int64 arrays) for an exact resume.

    Two slots are written alternately and ``state_slot`` is flipped only after the new slot is
    complete, so a kill during this write leaves the previous state intact.
    """
    current = root.attrs.get("state_slot")
    slot = "b" if current == "a" else "a"
    group = root.require_group("state").require_group(slot)
    for name, value in state.items():
        value = np.ascontiguousarray(value)
        _array(group, name, value.shape, value.shape or (1,), value.dtype, 0)[...] = value
    group.attrs["names"] = sorted(state)
    root.attrs.update({"state_slot": slot, "state_step": int(step)})


def load_resume_state(root: zarr.Group) -> tuple[int, dict[str, np.ndarray]] | None:
    """Return ``(step, state)`` of the last saved resume state, or None."""
    slot = root.attrs.get("state_slot")
    if slot is None:
        return None
    group = root["state"][slot]
    return int(root.attrs["state_step"]), {name: group[name][...] for name in group.attrs["names"]}


def finalize_store(root: zarr.Group, path: str | Path, final_params: Mapping, final_buffers: Mapping) -> Path:
    """Write the float32 final state, drop the resume state, mark complete and move into place."""
    final = root.require_group("final")
    for group_name, tensors in (("params", final_params), ("buffers", final_buffers)):
        group = final.require_group(group_name)
        for name, value in tensors.items():
            value = np.ascontiguousarray(value)
            _array(group, name, value.shape, (1, *value.shape[1:]), value.dtype, 0)[...] = value
    if "state" in root:
        del root["state"]
    root.attrs.pop("state_slot", None)
    root.attrs.pop("state_step", None)
    root.attrs["complete"] = True  # written last: the marker readers trust
    published = publish(root.store.root, path)
    release_output(path)
    return published


def open_population(path: str | Path) -> CheckedGroup:
    """Open a finished population store read-only.

    Raises
    ------
    StoreError
        When the store is absent, of another format, or was never completed.
    """
    path = Path(path)
    if not path.exists():
        raise StoreError(f"population store {path} does not exist")
    try:
        root = zarr.open_group(str(path), mode="r")
    except Exception as exc:
        raise StoreError(f"population store {path} cannot be opened: {exc}") from exc
    if root.attrs.get("format") != FORMAT:
        raise StoreError(f"{path} is not a population store (format {root.attrs.get('format')!r})")
    if not root.attrs.get("complete", False):
        raise StoreError(f"population store {path} is incomplete (its training job did not finish)")
    return CheckedGroup(root, path)


def snapshot_arrays(path: str | Path, group: str = "params") -> dict:
    """Lazy Dask arrays ``{name: [member, snapshot, *shape]}`` of a finished store."""

    root = open_population(path)
    return {name: lazy(array) for name, array in root[group].arrays()}


def read_final_params(path: str | Path, member: int | slice | None = None) -> tuple[dict, dict]:
    """Float32 final parameters and buffers (all members, one, or a slice) of a finished store."""
    root = open_population(path)
    select = slice(None) if member is None else member
    out = []
    with checked(path):
        for group_name in ("params", "buffers"):
            group = root["final"][group_name]
            out.append({name: array[select] for name, array in group.arrays()})
    return out[0], out[1]


def final_weights_flat(path: str | Path, name: str) -> dask.array.Array:
    """One final parameter of every member of a finished store, lazily: ``[member, features]``.

    One task per member, each reading that member's array only (inside :func:`checked`), so a
    computation over many stores holds a few networks' layers at a time, never a population's.
    """
    import dask
    import dask.array as da

    array = open_population(path)["final"]["params"][name]
    features = int(np.prod(array.shape[1:], dtype=np.int64))

    def read(member):
        with checked(path):
            return np.asarray(array[member]).reshape(1, features)

    parts = [
        da.from_delayed(dask.delayed(read)(member), shape=(1, features), dtype=array.dtype)
        for member in range(array.shape[0])
    ]
    return da.concatenate(parts)


def read_snapshot_metrics(path: str | Path) -> dict[str, np.ndarray]:
    """Per-snapshot metrics ``{name: [member, snapshot]}`` of a finished store that recorded them."""
    root = open_population(path)
    if "snapshot_metrics" not in root:
        raise StoreError(f"population store {path} holds no snapshot metrics (its sweep had snapshot_metrics: false)")
    with checked(path):
        return {name: array[...] for name, array in root["snapshot_metrics"].arrays()}


def read_metrics(path: str | Path) -> dict[str, np.ndarray]:
    """Per-epoch metrics ``{name: [member, epoch]}`` and ``diverged_at`` of a finished store."""
    root = open_population(path)
    with checked(path):
        out = {name: array[...] for name, array in root["metrics"].arrays()}
        out["diverged_at"] = root["diverged_at"][...]
    return out


def write_table(frame, path: str | Path) -> None:
    """Write a pandas DataFrame as Parquet, atomically (written aside, then renamed)."""
    with atomic_output(path) as written:
        frame.to_parquet(written, index=False)


def read_table(path: str | Path):
    import pandas as pd

    return pd.read_parquet(path)


# ---------------------------------------------------------------------------------------------
# Analysis stores: named arrays written once by one step, complete-marked and moved into place.

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
            target = _array(group, leaf, value.shape, chunk, value.dtype, 0, compress=name not in uncompressed)
            da.store(value, target, lock=False)
        else:
            value = np.asarray(value)
            # a 0-d array is one 0-d chunk; an empty axis still needs a chunk of length 1
            chunk = (chunks or {}).get(name) or tuple(max(1, d) for d in value.shape)
            _array(group, leaf, value.shape, chunk, value.dtype, 0, compress=name not in uncompressed)[...] = value
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


def write_json(value, path: str | Path) -> None:
    """Write a small JSON document (sorted keys), atomically."""
    with atomic_output(path) as written:
        written.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def read_json(path: str | Path):
    """Read a JSON document written by :func:`write_json`."""
    return json.loads(Path(path).read_text())


def _runs(values: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs ``(first, last)`` of a list of integers, in order."""
    runs = []
    for value in values:
        if runs and value == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


def parameter_matrix(sources, target_bytes: int = 2**24):
    """Flattened parameter vectors of many networks as one lazy Dask array ``[rows, features]``.

    Parameters
    ----------
    sources : sequence of (path, kind, members)
        Finished population stores. ``kind`` ``"final"`` gives one row per listed member (its
        final parameters), ``"snapshots"`` one row per (member, snapshot), member-major.
    target_bytes : int
        About how many bytes (float32, all rows) one chunk holds.

    Returns
    -------
    dask.array.Array
        float32 ``[rows, features]``: every parameter tensor (sorted by name) flattened, rows in
        the order of ``sources``. One chunk holds every row and a slab of one tensor's leading
        axis (output channels), read straight from the stores, so a Gram matrix over the rows
        (:func:`pipeline.kernels.distances.gram_matrix`) holds a few slabs at a time, whatever
        the networks' size. A corrupted chunk raises :class:`CorruptStoreError` naming its store.
    """
    import dask
    import dask.array as da

    opened = [(Path(path), open_population(path), kind, [int(m) for m in members]) for path, kind, members in sources]
    for path, _, kind, _ in opened:
        if kind not in ("final", "snapshots"):
            raise ValueError(f"parameter source kind must be 'final' or 'snapshots', got {kind!r} for {path}")
    shapes = {name: array.shape[1:] for name, array in opened[0][1]["final"]["params"].arrays()}
    n = sum(len(members) * (root.attrs["n_snapshots"] if kind == "snapshots" else 1) for _, root, kind, members in opened)

    def read(name, start, stop):
        blocks = []
        for path, root, kind, members in opened:
            array = root["final"]["params"][name] if kind == "final" else root["params"][name]
            # runs of consecutive members, each read with a basic slice and one snapshot (one shard
            # file) at a time: zarr decodes every chunk a read touches at once, and orthogonal
            # indexing by a list of members held ~40x the slab (1.3 GB for 33 MB, measured)
            for first, last in _runs(members):
                with checked(path):
                    if kind == "final":
                        parts = [array[first : last + 1, start:stop]]
                    else:
                        parts = [array[first : last + 1, s, start:stop] for s in range(array.shape[1])]
                # member-major rows: [member, snapshot, ...] flattened
                block = np.stack(parts, axis=1) if kind == "snapshots" else parts[0]
                blocks.append(np.asarray(block, dtype=np.float32).reshape(-1, (stop - start) * int(np.prod(shapes[name][1:]))))
        return np.concatenate(blocks)

    columns = []
    for name in sorted(shapes):
        shape = shapes[name]
        per_unit = int(np.prod(shape[1:], dtype=np.int64))
        step = max(1, int(target_bytes // (4 * n * per_unit)))
        for start in range(0, shape[0], step):
            stop = min(shape[0], start + step)
            columns.append(
                da.from_delayed(dask.delayed(read)(name, start, stop), shape=(n, (stop - start) * per_unit), dtype=np.float32)
            )
    return da.concatenate(columns, axis=1)


# ---------------------------------------------------------------------------------------------
# Item stores: written one item at a time by a long step, resumable after a kill.


def open_resumable(path: str | Path, fingerprint: str, create) -> tuple[zarr.Group, bool]:
    """The partial store of a step that writes its results item by item.

    A partial store left by a killed run with the same ``fingerprint`` (a hash of the step's
    inputs and settings) is reopened, so the step computes only the items it lacks; any other
    leftover is removed and ``create(root)`` lays out a fresh one. Finish with
    :func:`publish_resumable`.

    Returns
    -------
    (zarr.Group, bool)
        The store at ``<path>.partial``, and whether it was resumed.
    """
    claim_output(path)  # held until publish_resumable, or until the process ends
    partial = partial_path(path)
    if partial.exists():
        try:
            root = zarr.open_group(str(partial), mode="r+")
            if root.attrs.get("fingerprint") == fingerprint:
                return root, True
        except Exception:  # an unreadable leftover is simply not resumed
            pass
        _remove(partial)
    partial.parent.mkdir(parents=True, exist_ok=True)
    root = zarr.open_group(str(partial), mode="w", zarr_format=3)
    create(root)
    root.attrs.update({"fingerprint": fingerprint, "format": ANALYSIS_FORMAT, "package_version": __version__, "complete": False})
    return root, False


def create_item_array(root: zarr.Group, name: str, shape: tuple, chunks: tuple, dtype: str, fill_value) -> zarr.Array:
    """An array of an item store (checksummed, compressed), created empty."""
    return _array(root, name, shape, chunks, dtype, fill_value)


def publish_resumable(root: zarr.Group, path: str | Path, attrs: Mapping | None = None) -> Path:
    """Mark an item store complete and move it into place (see :func:`open_resumable`)."""
    root.attrs.update({**(attrs or {}), "complete": True})
    published = publish(root.store.root, path)
    release_output(path)
    return published
