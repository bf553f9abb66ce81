"""The only package that reads or writes Zarr stores, Parquet tables and JSON documents.

``from pipeline import store; store.X``: every name below is importable from here; each module
holds one concern:

- :mod:`.checksums`: every chunk carries a CRC32C checksum (the verifying codec, registered on import)
- :mod:`.errors`: :class:`StoreError`, :class:`CorruptStoreError`, :class:`OutputBusyError`
- :mod:`.outputs`: atomic outputs (written at ``<path>.partial``, moved into place) and their locks
- :mod:`.documents`: Parquet tables and JSON documents; :func:`spec_hash`
- :mod:`.checked`: the checked readers (:class:`CheckedGroup`, :class:`CheckedArray`, :func:`checked`)
- :mod:`.population_write` / :mod:`.population_read`: population stores, written while training
  and read once finished
- :mod:`.analysis`: analysis stores, named arrays written once by one step
- :mod:`.items`: item stores, written item by item by a long step, resumable after a kill

Population store (Zarr v3, one per training job)::

    attrs       format, sweep, population, members, spec, spec_hash, package version,
                snapshot count, and ``complete`` (written last)
    params/<name>       [member, snapshot, *shape]   parameter snapshots
    buffers/<name>      [member, snapshot, *shape]   BatchNorm statistics (when the model has any)
    snapshot_step       [snapshot]                   optimizer step of each snapshot (-1: not yet)
    metrics/<name>      [member, epoch]              per-epoch metrics (NaN: not yet)
    snapshot_metrics/<name>  [member, snapshot]      train/test loss and accuracy of each snapshot's
                                                     parameters (sweeps with snapshot_metrics; NaN: not yet)
    thresholds/params/<name>, thresholds/buffers/<name>  [member, threshold, *shape]  the state the
                        first time the training accuracy reached each snapshot_thresholds entry (NaN: never)
    thresholds/step, thresholds/accuracy  [member, threshold]   that step (-1: never) and the accuracy
    diverged_at         [member]                     step at which the loss became non-finite (-1: never)
    final/params/<name>, final/buffers/<name>        float32 final state (what fine-tuning starts from)
    state/<slot>/...    resume state, two slots written alternately while training

Analysis stores hold named arrays written once by one step (:func:`write_array_store`); item
stores, results written one item at a time (:func:`open_resumable`).

Every chunk carries a CRC32C checksum, so a corrupted chunk fails loudly on read
(:class:`ChecksumMismatch`), and the only readers this package hands out are checked ones
(:class:`CheckedGroup`, :class:`CheckedArray`), which turn it into :class:`CorruptStoreError` naming
the store, the array and the chunk. Every output, store or table, is written under
``<path>.partial`` and moved into place once complete (:func:`atomic_output`), so an interrupted
job never leaves something that looks finished. While it writes, the job holds an exclusive OS
lock on that output (:func:`claim_output`), so a second writer (a re-run started while a killed
run's job still lives) fails at once instead of writing into the same partial store.
"""

from __future__ import annotations

from .analysis import ANALYSIS_FORMAT, dask_array, open_array_store, read_array, write_array_store
from .checked import CheckedArray, CheckedGroup, checked, lazy, quarantine_path
from .checksums import ChecksumMismatch, VerifyingCrc32c
from .documents import read_json, read_table, spec_hash, write_json, write_table
from .errors import CorruptStoreError, OutputBusyError, StoreError
from .items import create_item_array, open_resumable, publish_resumable
from .outputs import atomic_output, claim_output, lock_path, partial_path, publish, release_output
from .population_read import (
    final_weights_flat,
    open_population,
    parameter_matrix,
    read_final_params,
    read_metrics,
    read_snapshot_metrics,
    read_thresholds,
    snapshot_arrays,
)
from .population_write import (
    FORMAT,
    METRIC_NAMES,
    create_population_store,
    finalize_store,
    load_resume_state,
    open_partial,
    save_resume_state,
    write_diverged,
    write_epoch_metrics,
    write_snapshot,
    write_snapshot_metrics,
    write_threshold_snapshot,
)

__all__ = [
    "ANALYSIS_FORMAT", "FORMAT", "METRIC_NAMES",
    "ChecksumMismatch", "VerifyingCrc32c",
    "StoreError", "CorruptStoreError", "OutputBusyError",
    "atomic_output", "claim_output", "release_output", "lock_path", "partial_path", "publish",
    "spec_hash", "read_json", "write_json", "read_table", "write_table",
    "CheckedArray", "CheckedGroup", "checked", "lazy", "quarantine_path",
    "create_population_store", "open_partial", "write_snapshot", "write_epoch_metrics", "write_snapshot_metrics",
    "write_threshold_snapshot", "write_diverged", "save_resume_state", "load_resume_state", "finalize_store",
    "open_population", "snapshot_arrays", "read_final_params", "final_weights_flat", "read_snapshot_metrics",
    "read_metrics", "read_thresholds", "parameter_matrix",
    "write_array_store", "open_array_store", "read_array", "dask_array",
    "open_resumable", "create_item_array", "publish_resumable",
]
