"""Sweeps of networks ("zoos"): a population job's training into its store, and a sweep's metrics
table. The arithmetic of a sweep (its networks, population jobs and their specs) is
:mod:`pipeline.sweeps`.

Each step is one function with explicit inputs and outputs, callable without Snakemake.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import store

# The sweep arithmetic lives in pipeline.sweeps (below the config and this module); its names stay
# importable from here, where the rules, the studies and the tests use them.
from .sweeps import (  # noqa: F401
    GRID_KEYS,
    n_populations,
    population_spec,
    source_network,
    sweep_paramspace,
    sweep_size,
    sweep_table,
)

# Training (torch, the data loaders) is imported inside the functions that train: the workflow
# imports this module to plan the sweeps each time Snakemake starts, and torch alone takes seconds.

log = logging.getLogger(__name__)


# Stores written before the sweep's precision setting existed record none: they computed float32
# on CPU (bf16 autocast on CUDA, which the spec never recorded), so they are evaluated in fp32.
UNRECORDED_PRECISION = "fp32"


def training_settings(training: Mapping):
    """The shared TrainingSettings of a population spec's ``training`` block."""
    from .train import TrainingSettings

    return TrainingSettings(
        epochs=training["epochs"],
        batch_size=training["batch_size"],
        optimizer=training["optimizer"],
        milestones=tuple(training["schedule"]["milestones"]),
        gamma=training["schedule"]["gamma"],
        augment=training["augment"],
        snapshot_every=training["snapshot_every"],
        seed=training["seed"],
        snapshot_metrics=training["snapshot_metrics"],
        thresholds=tuple(training["snapshot_thresholds"]),
        threshold_every=training["threshold_every"],
        precision=training.get("precision", UNRECORDED_PRECISION),
    )


def spec_precision(spec: Mapping) -> str:
    """The precision a population spec's networks were trained in: a study that evaluates their
    stored parameters evaluates in it too (:data:`UNRECORDED_PRECISION` for a store older than
    the setting)."""
    return spec.get("training", {}).get("precision", UNRECORDED_PRECISION)


def load_spec_dataset(spec: Mapping, data_root: str = "data"):
    """The dataset a population spec trains on, from ``data_root`` (never downloaded: the
    workflow's prepare_datasets job fetches it first)."""
    from .data import load_dataset

    options = {k: v for k, v in spec["dataset_options"].items() if v is not None}
    return load_dataset(spec["dataset"], root=data_root, **options)


def train_population_job(
    spec: Mapping,
    population_store: str | Path,
    *,
    data_root: str = "data",
    device: str = "auto",
    threads: int = 1,
    init_store: str | Path | None = None,
    init_member: int = 0,
    dataset_marker: str | Path | None = None,
    progress: bool = True,
) -> Path:
    """Train one population and write its store at ``population_store``.

    The store is written at ``<population_store>.partial`` and moved into place when complete. A
    partial store left by an interrupted run of the same spec is resumed from its last snapshot,
    which gives the same final weights as an uninterrupted run (on CPU).

    Parameters
    ----------
    spec : mapping
        From :func:`population_spec`.
    population_store : path
        The finished store's path.
    data_root : where the torchvision datasets are (prepared before; never downloaded here).
    device : {"auto", "cpu", "cuda"} or mapping
        The training device, or the runtime's per-sweep devices (:func:`pipeline.parallel.device_of`).
    threads : int
        Torch intra-op threads.
    init_store, init_member
        Store and in-store index of the network every member starts from (fine-tuning).
    dataset_marker : path, optional
        The record of the prepare_datasets job (the workflow passes it so that training waits
        for the data); not read.
    """
    from .train import initial_population, population_from_states, repeat_state

    data = load_spec_dataset(spec, data_root)
    shape = (spec["architecture"], data.input_shape, data.num_outputs)
    if init_store:
        params, buffers = store.read_final_params(init_store, init_member)
        members = len(spec["members"])
        start = population_from_states(*shape, repeat_state(params, members), repeat_state(buffers, members))
    else:
        start = initial_population(*shape, members_of(spec))
    return run_population(spec, population_store, data, start, device=device, threads=threads, progress=progress)


def members_of(spec: Mapping) -> list:
    """The ``Member`` (hyperparameters) of every network of a population spec."""
    from .train import Member

    return [Member(**{k: m[k] for k in GRID_KEYS}) for m in spec["members"]]


def _open_or_resume(output: Path, spec: Mapping, trainer, params: Mapping, buffers: Mapping):
    """The partial store of ``output``: a partial store of the same ``spec`` with a saved state
    (loaded into ``trainer``), or a new one laid out for the population's ``params`` and
    ``buffers``."""
    settings = trainer.settings
    partial = store.partial_path(output)
    root = store.open_partial(partial, spec)
    resumed = store.load_resume_state(root) if root is not None else None
    if resumed is not None:
        step, state = resumed
        trainer.load_state_dict(state)
        log.info("resuming from step %d of %d (partial store %s)", step, trainer.total_steps, partial)
        return root
    output.parent.mkdir(parents=True, exist_ok=True)
    return store.create_population_store(
        partial,
        spec,
        {k: tuple(v.shape[1:]) for k, v in params.items()},
        {k: (tuple(v.shape[1:]), str(v.dtype).removeprefix("torch.")) for k, v in buffers.items()},
        n_snapshots=len(trainer.snapshot_steps),
        n_epochs=settings.epochs,
        snapshot_dtype=spec["training"]["snapshot_dtype"],
        snapshot_metrics=settings.snapshot_metrics,
        n_thresholds=len(settings.thresholds),
    )


class _StoreWriter:
    """The trainer's callbacks (:meth:`pipeline.train.PopulationTrainer.run`), writing into a
    population store ``root``.

    Epoch metrics wait in memory until the next checkpoint: an interrupted run resumes from
    that checkpoint and recomputes the epochs after it, so nothing written is ever missing.
    """

    def __init__(self, root):
        self.root = root
        self.pending: dict[int, dict] = {}

    def flush_epoch_metrics(self) -> None:
        if self.pending:
            first = min(self.pending)
            block = [self.pending[e] for e in range(first, first + len(self.pending))]
            store.write_epoch_metrics(self.root, first, {k: np.stack([m[k] for m in block], axis=1) for k in block[0]})
            self.pending.clear()

    def on_epoch_end(self, epoch, metrics) -> None:
        self.pending[epoch] = metrics

    def on_snapshot(self, index, step, params, buffers) -> None:
        store.write_snapshot(self.root, index, step, params, buffers)

    def on_snapshot_metrics(self, index, metrics) -> None:
        store.write_snapshot_metrics(self.root, index, metrics)

    def on_threshold(self, index, members, step, accuracy, params, buffers) -> None:
        store.write_threshold_snapshot(self.root, index, members, step, accuracy, params, buffers)

    def on_checkpoint(self, step, state) -> None:
        self.flush_epoch_metrics()
        store.write_diverged(self.root, state["diverged_at"])
        store.save_resume_state(self.root, step, state)


def run_population(
    spec: Mapping,
    population_store: str | Path,
    data,
    start: tuple,
    *,
    device: str = "auto",
    threads: int = 1,
    progress: bool = True,
) -> Path:
    """Train a population from its starting state and write its store, resumably.

    Parameters
    ----------
    spec : mapping
        The population spec (JSON): its ``members`` (grid keys, plus any record of the caller's),
        ``training`` block and identity. Stored with its hash; a partial store of the same spec
        is resumed from its last saved state (bit-identical on CPU), any other is started afresh.
    population_store : path
        The finished store's path (written at ``<path>.partial`` and moved into place).
    data : Dataset
        What the population trains on.
    start : (base, params, buffers)
        The starting state, from :mod:`pipeline.train.init` (fresh networks, one network
        repeated, or each member its own); it must follow from ``spec`` alone, since a resumed
        run rebuilds it before loading its saved state.
    device, threads, progress
        Training device (``auto``, ``cpu``, ``cuda``, or the runtime's per-sweep devices:
        :func:`pipeline.parallel.device_of`), torch threads, progress bar.
    """
    import torch

    from .parallel import device_of
    from .train import PopulationTrainer, select_device

    torch.set_num_threads(threads)
    started = time.perf_counter()
    output = Path(population_store)
    # before anything else: a second writer of this store (a killed run's job still alive) stops here
    store.claim_output(output)
    base, params, buffers = start
    settings = training_settings(spec["training"])
    device = select_device(device_of(device, spec["sweep"]))
    trainer = PopulationTrainer(base, params, buffers, members_of(spec), data, settings, device)
    log.info(
        "population %s/%s: %d networks, %d steps on %s (%d threads)",
        spec["sweep"], spec["population"], len(spec["members"]), trainer.total_steps, trainer.device, threads,
    )

    root = _open_or_resume(output, spec, trainer, params, buffers)
    writer = _StoreWriter(root)
    trainer.run(
        writer.on_snapshot, writer.on_epoch_end, writer.on_checkpoint, progress=progress,
        on_snapshot_metrics=writer.on_snapshot_metrics, on_threshold=writer.on_threshold,
    )
    writer.flush_epoch_metrics()
    store.write_diverged(root, trainer.diverged_at.cpu().numpy())
    final = store.finalize_store(root, output, trainer.numpy_params(), trainer.numpy_buffers())
    log.info("population written to %s in %.1f s", final, time.perf_counter() - started)
    return final


def collect_sweep_metrics(stores: Sequence[str | Path], metrics: str | Path) -> pd.DataFrame:
    """One row per network of a sweep: hyperparameters, final metrics, divergence, store path.

    Parameters
    ----------
    stores : sequence of paths
        The sweep's finished population stores.
    metrics : path
        Parquet file to write.
    """
    rows = []
    for path in stores:
        root = store.open_population(path)
        spec = root.attrs["spec"]
        history = store.read_metrics(path)
        for local, member in enumerate(spec["members"]):
            row = {"sweep": spec["sweep"], "population": spec["population"], **member}
            for name in store.METRIC_NAMES:
                row[name] = float(history[name][local, -1])
                row[f"best_{name}"] = float(
                    np.nanmin(history[name][local]) if name.endswith("loss") else np.nanmax(history[name][local])
                ) if np.isfinite(history[name][local]).any() else float("nan")
            row["diverged_at"] = int(history["diverged_at"][local])
            row["store"] = os.fspath(path)
            row["index_in_store"] = local
            rows.append(row)
    frame = pd.DataFrame(rows).sort_values("member").reset_index(drop=True)
    store.write_table(frame, metrics)
    return frame
