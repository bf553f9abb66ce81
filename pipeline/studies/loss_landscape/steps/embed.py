"""Stage 3, embedding and topology (step ``embed_landscape``): for every optimum of a population
store, cosine PHATE of its jump-and-retrain samples (the Gram of their parameter vectors streamed
from the stores), the loss-level topology of those samples on the kNN graph of PHATE potential
distances (:func:`pipeline.kernels.persistence.landscape_topology`), and cosine PHATE of its grid
and naive samples (their Grams follow from the basis Grams of :mod:`.probes`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from .... import store
from ....kernels import directions as directions_kernel
from ....kernels import distances as distance_kernels
from ....kernels import embedding
from ....kernels import persistence as ph
from ....parallel import dask_client

log = logging.getLogger(__name__)

METRICS = store.METRIC_NAMES  # train_loss, train_accuracy, test_loss, test_accuracy


def trajectory_samples(jr_spec: Mapping, optimum: int, n_snapshots: int) -> pd.DataFrame:
    """The jump-and-retrain samples of one optimum, in the order of the rows of its embedding:
    the optimum first, then every retraining (seed, step size) at the jump (epoch 0) and after
    each epoch."""
    rows = [{"member": -1, "seed": -1, "step_size": 0.0, "epoch": -1}]
    for member in jr_spec["members"]:
        if member["optimum"] == optimum:
            rows += [
                {"member": member["member"], "seed": member["seed"], "step_size": member["step_size"], "epoch": epoch}
                for epoch in range(n_snapshots)
            ]
    return pd.DataFrame(rows)


def sampling_coefficients(probes_root, sampling: str) -> np.ndarray:
    """Each grid or naive sample as coefficients over its basis (the optimum, then directions),
    the optimum itself first (all zero)."""
    coordinates = np.asarray(probes_root[f"{sampling}/coordinates"][...])
    if sampling == "grid":
        coefficients = coordinates
    else:
        directions = int(coordinates[:, 0].max()) + 1
        coefficients = np.zeros((len(coordinates), directions))
        coefficients[np.arange(len(coordinates)), coordinates[:, 0].astype(int)] = coordinates[:, 1]
    return np.vstack([np.zeros((1, coefficients.shape[1])), coefficients])


def _embed_optimum(o, population_store, jump_retrain, probes, samples, metrics, *, phate_knn, phate_seed, graph_knn, filtration_loss):
    """One optimum's stored arrays (``{name: array}``) and its topology
    (:func:`~pipeline.kernels.persistence.landscape_topology`)."""
    probes_root = store.open_array_store(probes)
    members = sorted(set(samples["member"]) - {-1})
    matrix = store.parameter_matrix([(population_store, "final", [o]), (jump_retrain, "snapshots", members)])
    gram = distance_kernels.gram_matrix(matrix)
    coords, potential = embedding.phate_embedding(
        distance_kernels.cosine_distances_from_gram(gram), phate_knn, phate_seed, mds_dist="cosine", potential=True
    )
    sample_metrics = {}
    for name in METRICS:
        optimum_value = float(store.read_array(probes, f"optimum/{name}")[o])
        sample_metrics[name] = np.concatenate([[optimum_value], metrics[name][members].ravel()])
    topology = ph.landscape_topology(potential, sample_metrics[f"{filtration_loss}_loss"], graph_knn)
    values = {
        "jump_retrain/gram": gram, "jump_retrain/embedding": coords, "jump_retrain/potential": potential,
        "total_persistence": topology["total_persistence"],
        **{f"jump_retrain/{name}": v for name, v in sample_metrics.items()},
    }
    for sampling in ("grid", "naive"):
        basis = np.asarray(probes_root[f"{sampling}/basis_gram"][o])
        coefficients = sampling_coefficients(probes_root, sampling)
        cosine = distance_kernels.cosine_distances_from_gram(directions_kernel.gram_of_combinations(basis, coefficients))
        values[f"{sampling}/embedding"] = embedding.phate_embedding(cosine, phate_knn, phate_seed, mds_dist="cosine")
        for name in METRICS:
            optimum_value = np.asarray(probes_root[f"optimum/{name}"][o])[None]
            values[f"{sampling}/{name}"] = np.concatenate([optimum_value, np.asarray(probes_root[f"{sampling}/{name}"][o])])
    return values, topology


def embed_landscape(
    population_store: str,
    jump_retrain: str,
    probes: str,
    landscape: str,
    *,
    phate_knn: int,
    phate_seed: int,
    graph_knn: int,
    filtration_loss: str,
    dask_cluster: Mapping | None = None,
    threads: int = 1,
) -> Path:
    """Cosine PHATE of every optimum's samples and the topology of its jump-and-retrain data.

    For each optimum of the population store: the Gram matrix of its parameter vectors (the
    optimum and every jump-and-retrain sample, streamed from the stores with Dask over parameter
    slabs), cosine distances, PHATE (cosine; potential stored), the kNN graph on the PHATE
    potential distances (each sample joined to its ``graph_knn`` nearest), vertex ``i`` valued by
    sample ``i``'s ``filtration_loss``, and the H0/H1 persistence of both complexes (graph, flag).
    The grid and naive samples are embedded too (cosine distances from their basis Grams).
    """
    spec = store.open_population(population_store).attrs["spec"]
    jr_root = store.open_population(jump_retrain)
    jr_spec = jr_root.attrs["spec"]
    if jr_spec["optima_spec_hash"] != store.spec_hash(spec):
        raise ValueError(f"{jump_retrain} was sampled around other optima than those of {population_store}")
    n_snapshots = int(jr_root.attrs["n_snapshots"])
    metrics = store.read_snapshot_metrics(jump_retrain)
    settings = {"phate_knn": phate_knn, "phate_seed": phate_seed, "graph_knn": graph_knn, "filtration_loss": filtration_loss}
    arrays, diagram_rows = {}, []
    with dask_client(threads=threads, **(dask_cluster or {})):
        for o in range(len(spec["members"])):
            samples = trajectory_samples(jr_spec, o, n_snapshots)
            values, topology = _embed_optimum(o, population_store, jump_retrain, probes, samples, metrics, **settings)
            for c, complex_name in enumerate(ph.COMPLEXES):
                for d, diagram in enumerate(topology["diagrams"][complex_name]):
                    labels = np.tile([o, c, d], (len(diagram), 1))
                    diagram_rows.append(np.column_stack([labels, diagram]))
            for name, value in values.items():
                arrays.setdefault(name, []).append(value)
            log.info(
                "optimum %d: %d samples, %d graph edges, total persistence %s",
                o, len(samples), topology["edges"], topology["total_persistence"].tolist(),
            )
    arrays = {name: np.stack(values) for name, values in arrays.items()}
    samples = trajectory_samples(jr_spec, 0, n_snapshots)
    for column in ("seed", "step_size", "epoch"):
        arrays[f"jump_retrain/{column}"] = samples[column].to_numpy()
    arrays["diagrams"] = np.concatenate(diagram_rows) if diagram_rows else np.empty((0, 5))
    attrs = {
        "optima": [m["network"] for m in spec["members"]],
        "complexes": list(ph.COMPLEXES),
        "filtration_loss": filtration_loss,
        "graph_knn": graph_knn,
        "diagram_columns": ["optimum", "complex", "dimension", "birth", "death"],
    }
    return store.write_array_store(landscape, arrays, attrs)
