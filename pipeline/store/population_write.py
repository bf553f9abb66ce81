"""Writing a population store while its networks train: the layout, snapshots, metrics,
threshold states, the resume state, and the final state written last.

Population store (Zarr v3, one per training job; the whole layout in :mod:`pipeline.store`)::

    params/<name>, buffers/<name>     [member, snapshot, *shape]
    snapshot_step [snapshot], metrics/<name> [member, epoch], diverged_at [member]
    snapshot_metrics/<name>           [member, snapshot]   (sweeps with snapshot_metrics)
    thresholds/...                    [member, threshold, ...]   (sweeps with snapshot_thresholds)
    final/params, final/buffers; state/<slot>/... while training
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import zarr

from .. import __version__
from .checksums import checksummed_array
from .documents import spec_hash
from .outputs import publish, release_output

FORMAT = "population-store/1"
METRIC_NAMES = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")


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
            checksummed_array(
                group,
                name,
                (members, n_snapshots, *shape),
                (1, 1, *shape),
                dtype,
                np.nan if is_float else -1,
                shards=(members, 1, *shape),
            )
    checksummed_array(root, "snapshot_step", (n_snapshots,), (n_snapshots,), "int64", -1)
    metrics = root.create_group("metrics")
    for name in METRIC_NAMES:
        checksummed_array(metrics, name, (members, n_epochs), (members, n_epochs), "float32", np.nan)
    if n_thresholds:
        _create_thresholds(root, layouts, members, n_thresholds)
    if snapshot_metrics:
        group = root.create_group("snapshot_metrics")
        for name in METRIC_NAMES:
            checksummed_array(group, name, (members, n_snapshots), (members, n_snapshots), "float32", np.nan)
    checksummed_array(root, "diverged_at", (members,), (members,), "int64", -1)
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



def _create_thresholds(root: zarr.Group, layouts: Mapping, members: int, n_thresholds: int) -> None:
    """The ``thresholds/`` group of :func:`create_population_store`: each parameter and buffer
    ``[member, threshold, *shape]`` (NaN, or -1 for integers, until reached), ``step`` and
    ``accuracy`` ``[member, threshold]``."""
    thresholds = root.create_group("thresholds")
    for group_name, specs in layouts.items():
        group = thresholds.create_group(group_name)
        for name, (shape, dtype) in specs.items():
            is_float = np.issubdtype(np.dtype(dtype), np.floating)
            checksummed_array(group, name, (members, n_thresholds, *shape), (1, 1, *shape), dtype, np.nan if is_float else -1)
    checksummed_array(thresholds, "step", (members, n_thresholds), (members, n_thresholds), "int64", -1)
    checksummed_array(thresholds, "accuracy", (members, n_thresholds), (members, n_thresholds), "float32", np.nan)


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


def write_diverged(root: zarr.Group, diverged_at: np.ndarray) -> None:
    """Write the step at which each member's loss became non-finite (-1: never)."""
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
        checksummed_array(group, name, value.shape, value.shape or (1,), value.dtype, 0)[...] = value
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
            checksummed_array(group, name, value.shape, (1, *value.shape[1:]), value.dtype, 0)[...] = value
    if "state" in root:
        del root["state"]
    root.attrs.pop("state_slot", None)
    root.attrs.pop("state_step", None)
    root.attrs["complete"] = True  # written last: the marker readers trust
    published = publish(root.store.root, path)
    release_output(path)
    return published
