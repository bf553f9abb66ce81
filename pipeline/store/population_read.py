"""Reading finished population stores, every read checked: the store opened, its metrics,
snapshot metrics, threshold states and final parameters, and lazy matrices of many networks'
parameters for Dask."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import zarr

from .checked import CheckedGroup, checked, lazy
from .errors import StoreError
from .population_write import FORMAT

if TYPE_CHECKING:
    import dask.array


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
