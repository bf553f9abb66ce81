"""Steps of the ReLU-complex study (paper 001). Each opens its inputs, maps a kernel over the
items, and writes its outputs. Path arguments are the named inputs and outputs of the rule of the
same name; keyword-only settings are keys of ``config/schema/relu_complex.yaml``.

An item is one (network, recorded step): the network's weights then, decomposed exactly over the
sweep's box (:mod:`pipeline.kernels.relu_complex`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ... import store, zoo
from ...kernels import relu_complex as rc
from ...kernels import series as events_of
from ...parallel import dask_client
from ...tables import write_result_table
from . import GROKKING_EVENTS

log = logging.getLogger(__name__)

SERIES = (
    "regions", "vertices", "edges", "faces", "cells", "mean_degree",
    "peak_beta0", "peak_beta1", "peak_value", "peak_value_beta0", "peak_value_beta1",
)
# per reading of "weighted" (rc.WEIGHTINGS), [network, snapshot]: agreement of the sign split
# with the decision (fraction of faces) and its balanced form (mean over the two decision classes:
# the decision splits regions unevenly, so chance is not 0.5 for the plain one), with the labels
# (fraction of training points), the ceilings (best threshold on the same Fiedler vector), lambda_2
MEASURES = ("agreement_decision", "balanced_decision", "agreement_labels", "ceiling_decision", "ceiling_labels", "lambda2")
AGREEMENTS = tuple(f"{measure}_{name}" for name in rc.WEIGHTINGS for measure in MEASURES) + ("decision_majority",)
FACE_ARRAYS = ("face_counts",) + tuple(f"face_side_{name}" for name in rc.WEIGHTINGS) + ("face_decision", "face_points")


# ------------------------------------------------------------------------------- the items
def data_box(x: np.ndarray, margin: float) -> list[float]:
    """The bounding box of points ``[n, 2]`` widened by ``margin`` times its extent on each side."""
    low, high = x.min(axis=0), x.max(axis=0)
    pad = margin * (high - low)
    return [float(low[0] - pad[0]), float(high[0] + pad[0]), float(low[1] - pad[1]), float(high[1] + pad[1])]


# the per-network measurement is a kernel now; the old name stays for callers of the step module
item_relu_complex = rc.network_measures


def _network_parameters(group, member: int, snapshot: int, layers: int) -> tuple[list, list]:
    weights = [np.asarray(group[f"layers.{i}.weight"][member, snapshot]) for i in range(layers)]
    biases = [np.asarray(group[f"layers.{i}.bias"][member, snapshot]) for i in range(layers)]
    return weights, biases


def _sweep_items(stores: Sequence[str]) -> tuple[list, list, list, np.ndarray, dict, Mapping]:
    """The items of a sweep's populations, in (network, snapshot) order: ``(index, store,
    member, snapshot)`` each; the networks' names and hyperparameters, the shared recorded steps,
    the snapshot metrics per population, and the last population's spec."""
    items, networks, members, steps, metrics = [], [], [], None, {}
    for path in stores:
        population = store.open_population(path)
        spec = population.attrs["spec"]
        with store.checked(path):
            recorded = np.asarray(population["snapshot_step"][...])
        if steps is not None and not np.array_equal(steps, recorded):
            raise ValueError(f"{path} recorded other steps than {stores[0]}: a sweep's populations share their cadence")
        steps = recorded
        for name, values in store.read_snapshot_metrics(path).items():
            metrics.setdefault(name, []).append(values)
        for m, member in enumerate(spec["members"]):
            items += [(len(networks), path, m, s) for s in range(len(steps))]
            networks.append(f"{spec['sweep']}/{member['network']}")
            members.append({k: member[k] for k in ("lr", "momentum", "weight_decay", "init_seed")})
    return items, networks, members, steps, metrics, spec


def _map_items(compute, items: list, networks: list, steps: np.ndarray, *, threads: int, dask_cluster: Mapping | None) -> tuple[dict, list]:
    """``compute`` over ``items`` on a Dask cluster: the results by (network, snapshot), and the
    failures (an item whose result is its reason), logged and sorted in (network, snapshot) order."""
    results, failures = {}, []
    # The decomposition's Python loops hold the GIL: compute.dask.gil_bound says whether the
    # local cluster runs these items in threads or in single-threaded processes
    with dask_client(threads=threads, holds_gil=True, **(dask_cluster or {})) as client:
        from dask.distributed import as_completed

        for future in as_completed(client.map(compute, items, pure=False)):
            n, snapshot, result = future.result()
            if isinstance(result, str):
                failures.append({"network": networks[n], "snapshot": int(snapshot), "step": int(steps[snapshot]), "reason": result})
                log.error("%s at step %d (snapshot %d): no decomposition: %s", networks[n], steps[snapshot], snapshot, result)
                continue
            results[n, snapshot] = result
    failures.sort(key=lambda f: (networks.index(f["network"]), f["snapshot"]))
    return results, failures


def _series_arrays(results: Mapping, shape: tuple[int, int], names: Sequence[str], filtration_points: int) -> dict[str, np.ndarray]:
    """``item_failed`` and the series ``names`` ``[network, snapshot]`` and ``betti_curve``
    ``[network, snapshot, filtration_points, 2]`` of the items' ``results``, NaN where an item
    failed."""
    order = [(n, s) for n in range(shape[0]) for s in range(shape[1])]
    arrays = {"item_failed": np.array([key not in results for key in order]).reshape(shape)}
    for name in names:
        arrays[name] = np.array([results[key][name] if key in results else np.nan for key in order], dtype=np.float64).reshape(shape)
    missing_curve = np.full((filtration_points, 2), np.nan)
    arrays["betti_curve"] = np.stack([results[key]["betti_curve"] if key in results else missing_curve for key in order])
    arrays["betti_curve"] = arrays["betti_curve"].reshape(*shape, filtration_points, 2)
    return arrays


def _face_arrays(results: Mapping, order: list) -> dict[str, np.ndarray]:
    """The faces and decision boundaries of every item concatenated in ``order``, with their
    offsets."""
    # a failed item holds no faces and no boundary (its offsets repeat)
    empty = {"face_counts": np.zeros(0, np.int64), "face_vertices": np.zeros((0, 2)), "boundary": np.zeros((0, 2, 2))}
    empty.update({name: np.zeros(0, dtype=bool) for name in FACE_ARRAYS if name.startswith("face_side_") or name == "face_decision"})
    empty["face_points"] = np.zeros(0, np.int64)
    held = [results.get(key, empty) for key in order]
    arrays = {name: np.concatenate([item[name] for item in held]) for name in FACE_ARRAYS + ("face_vertices", "boundary")}
    arrays["face_offsets"] = np.cumsum([0] + [len(item["face_counts"]) for item in held])
    arrays["boundary_offsets"] = np.cumsum([0] + [len(item["boundary"]) for item in held])
    return arrays


def analyse_relu_complexes(
    stores: Sequence[str],
    complexes: str,
    *,
    box: Sequence[float] | None,
    box_margin: float,
    betti_orders: int,
    filtration_points: int,
    seed: int,
    weighting_epsilon: float,
    data_root: str = "data",
    dask_cluster: Mapping | None = None,
    threads: int = 1,
) -> Path:
    """The decomposition of every network of a sweep at every recorded step, one Dask task each.

    Writes ``step`` ``[snapshot]``; the snapshot metrics ``train_loss``, ``test_loss``,
    ``train_accuracy``, ``test_accuracy`` and every entry of :data:`SERIES` ``[network,
    snapshot]``; ``betti_curve`` ``[network, snapshot, filtration_points, 2]`` at the fractions
    ``filtration``. Classification sweeps also: the :data:`AGREEMENTS` ``[network, snapshot]``,
    the faces of every item concatenated in (network, snapshot) order with ``face_offsets``
    ``[items + 1]`` (:data:`FACE_ARRAYS`, ``face_vertices`` ``[sum face_counts, 2]``), the
    decision boundaries ``boundary`` ``[segments, 2, 2]`` with ``boundary_offsets``, and the
    training data ``train_x``, ``train_y``. Attrs: sweep, task, networks, their hyperparameters,
    the box.

    An item whose decomposition fails (``ValueError`` from the kernel: no tiling) does not fail the
    step: it is logged as an error naming the network, the step and the reason, flagged in
    ``item_failed`` ``[network, snapshot]`` and listed in the attrs' ``failures`` (network,
    snapshot, step, reason); its values are NaN and it holds no faces.
    """
    spec = store.open_population(stores[0]).attrs["spec"]
    data = zoo.load_spec_dataset(spec, data_root)
    classification = data.task == "classification"
    if classification and data.num_outputs != 2:
        raise ValueError(f"sweep {spec['sweep']!r}: the Fiedler partition is 2-way; its dataset has {data.num_outputs} classes")
    x_train = data.x_train.numpy().astype(np.float64)
    y_train = data.y_train.numpy().astype(np.int64) if classification else None
    box = list(box) if box is not None else data_box(np.concatenate([x_train, data.x_test.numpy()]), box_margin)
    rc.box_polygon(box)  # a bad box is named before any work
    layers = len(spec["architecture"]["hidden"]) + 1
    filtration = np.linspace(0.0, 1.0, filtration_points)
    items, networks, members, steps, metrics, spec = _sweep_items(stores)
    settings = dict(
        points=x_train if classification else None, labels=y_train, betti_orders=betti_orders, filtration=filtration, seed=seed,
        weighting_epsilon=weighting_epsilon,
    )
    # named before any work: inside an item a bad setting would read as a network without a decomposition
    rc.check_measure_settings(settings["points"], y_train, betti_orders, filtration, weighting_epsilon)

    def compute(item):
        n, path, member, snapshot = item
        with store.checked(path):
            weights, biases = _network_parameters(store.open_population(path)["params"], member, snapshot, layers)
        # One bad item must not cost the sweep: its reason comes back instead of its values
        try:
            return n, snapshot, rc.network_measures(weights, biases, box, **settings)
        except ValueError as error:
            return n, snapshot, str(error)

    results, failures = _map_items(compute, items, networks, steps, threads=threads, dask_cluster=dask_cluster)
    shape = (len(networks), len(steps))
    order = [(n, s) for n in range(shape[0]) for s in range(shape[1])]
    arrays = {"step": steps, "filtration": filtration, **{name: np.concatenate(v) for name, v in metrics.items()}}
    arrays.update(_series_arrays(results, shape, SERIES + (AGREEMENTS if classification else ()), filtration_points))
    if classification:
        arrays.update(_face_arrays(results, order))
        arrays["train_x"], arrays["train_y"] = x_train, y_train
    attrs = {
        "sweep": spec["sweep"], "task": data.task, "dataset": spec["dataset"], "networks": networks, "members": members,
        "box": box, "hidden": list(spec["architecture"]["hidden"]), "betti_orders": betti_orders, "seed": seed,
        "weightings": list(rc.WEIGHTINGS), "weighting_epsilon": weighting_epsilon, "failures": failures,
    }
    if failures:
        log.error("%d of %d items failed; their values are NaN (item_failed, attrs 'failures')", len(failures), len(order))
    return store.write_array_store(complexes, arrays, attrs)


# ---------------------------------------------------------------------------------- tables
# the tables' column prefixes of the stored measures
PARTITION_MEASURES = (("decision", "agreement_decision"), ("balanced_decision", "balanced_decision"), ("labels", "agreement_labels"))


def _at_fit_final_mean(values: np.ndarray, fit: int) -> tuple[float, float, float]:
    """A series at the fit (NaN: never fits), at the last recorded step, and its mean over
    training (failed items, NaN, skipped)."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(np.nanmean(values)) if np.isfinite(values).any() else np.nan
    return (float(values[fit]) if fit >= 0 else np.nan), float(values[-1]), mean


def tabulate_relu_complex(
    complexes: Sequence[str], partitions: str, loss_spikes: str, weightings: str, events: Sequence[str], *,
    grokking: Mapping, spike_ratio: float, weighting: str,
) -> dict[str, pd.DataFrame]:
    """``partitions``: one row per classification network (its grokking, and the agreement of its
    unweighted and weighted partitions, the weighted one being the reading ``weighting`` of
    :data:`rc.WEIGHTINGS`, with the decision, plain and balanced, beside the decision's majority
    fraction of regions, the plain agreement's chance level, and with the labels; at the fit, at
    the end, and averaged over training). ``weightings``: one row per (classification network,
    reading of "weighted"), every reading side by side, with each sign split's agreements and the
    ceilings (best threshold on the same Fiedler vector). ``loss_spikes``: one row per (network,
    series) with :func:`events_of.spike_response` of the peak filtration value, the peak Betti
    numbers and the cell count. Each gives its network's ``failed_items`` (items without a
    decomposition; left out of means and changes). ``events``: one store per store of
    ``complexes``, in the same order, with what the figures mark (:func:`write_events`), found
    here once so that the figures only draw."""
    if weighting not in rc.WEIGHTINGS[1:]:
        raise ValueError(f"relu_complex.weighting must be one of {rc.WEIGHTINGS[1:]}, got {weighting!r}")
    if len(events) != len(complexes):
        raise ValueError(f"one events store per complexes store: {len(events)} for {len(complexes)}")
    partition_rows, spike_rows, weighting_rows = [], [], []
    for path, events_path in zip(complexes, events):
        root = store.open_array_store(path)
        steps = store.read_array(path, "step")
        members = root.attrs["members"]
        read = lambda name: store.read_array(path, name)  # noqa: E731
        loss = read("train_loss")
        failed = read("item_failed").astype(bool) if "item_failed" in root else np.zeros(loss.shape, dtype=bool)
        classification = root.attrs["task"] == "classification"
        told_all = [
            events_of.detect_grokking(steps, train, test, **grokking)
            for train, test in zip(read("train_accuracy"), read("test_accuracy"))
        ] if classification else None
        write_events(events_path, root.attrs, steps, loss, told_all, spike_ratio=spike_ratio, grokking=grokking)
        for n, network in enumerate(root.attrs["networks"]):
            # every row says how many of the network's items failed (their values are NaN, skipped)
            identity = {"sweep": root.attrs["sweep"], "network": network, **members[n], "failed_items": int(failed[n].sum())}
            for measured in ("peak_value", "peak_beta1", "cells"):
                spike_rows.append({
                    **identity, "series": measured, "snapshots": len(steps), "spike_ratio": spike_ratio,
                    **events_of.spike_response(loss[n], read(measured)[n], spike_ratio),
                })
            if not classification:
                continue
            told = told_all[n]
            row = {**identity, **{k: v for k, v in told.items() if k not in ("fit", "generalize")}}
            row["final_train_accuracy"] = float(read("train_accuracy")[n, -1])
            row["final_test_accuracy"] = float(read("test_accuracy")[n, -1])
            final_regions = read("regions")[n, -1]
            row["final_regions"] = int(final_regions) if np.isfinite(final_regions) else np.nan  # NaN: the last item failed
            row["weighting"] = weighting
            columns = {
                f"{short}_{kind}": f"{measure}_{reading}"
                for short, measure in PARTITION_MEASURES
                for kind, reading in (("unweighted", "unweighted"), ("weighted", weighting))
            }
            columns["decision_majority"] = "decision_majority"
            for short, name in columns.items():
                row[f"{short}_at_fit"], row[f"{short}_final"], row[f"{short}_mean"] = _at_fit_final_mean(read(name)[n], told["fit"])
            partition_rows.append(row)
            majority = _at_fit_final_mean(read("decision_majority")[n], told["fit"])
            for reading in rc.WEIGHTINGS:
                entry = {**identity, "grokked": told["grokked"], "reading": reading, "headline": reading in ("unweighted", weighting)}
                for short, measure in PARTITION_MEASURES + (("ceiling_decision", "ceiling_decision"), ("ceiling_labels", "ceiling_labels")):
                    values = _at_fit_final_mean(read(f"{measure}_{reading}")[n], told["fit"])
                    entry[f"{short}_at_fit"], entry[f"{short}_final"], entry[f"{short}_mean"] = values
                entry["decision_majority_at_fit"], entry["decision_majority_final"], entry["decision_majority_mean"] = majority
                weighting_rows.append(entry)
    tables = {
        "partitions": pd.DataFrame(partition_rows), "loss_spikes": pd.DataFrame(spike_rows), "weightings": pd.DataFrame(weighting_rows),
    }
    write_result_table(tables["partitions"], partitions)
    write_result_table(tables["loss_spikes"], loss_spikes)
    write_result_table(tables["weightings"], weightings)
    return tables


def write_events(
    path: str, attrs: Mapping, steps: np.ndarray, loss: np.ndarray, told: Sequence[Mapping] | None, *,
    spike_ratio: float, grokking: Mapping,
) -> Path:
    """One sweep's events over training, for its figures: ``step`` ``[snapshot]``; ``spike``
    ``[network, snapshot]``, the loss spikes (:func:`events_of.loss_spikes` of the training loss
    at ``spike_ratio``); with ``told`` (classification: :func:`events_of.detect_grokking` of each
    network) each entry of :data:`GROKKING_EVENTS` ``[network]``. Attrs: the sweep, its task and
    networks, ``spike_ratio`` and ``grokking`` (the settings they were found with)."""
    spike = np.zeros(loss.shape, dtype=bool)
    for n, network_loss in enumerate(loss):
        spike[n, events_of.loss_spikes(network_loss, spike_ratio)] = True
    arrays = {"step": steps, "spike": spike}
    if told is not None:
        for name in GROKKING_EVENTS:
            arrays[name] = np.array([t[name] for t in told])
    kept = {key: attrs[key] for key in ("sweep", "task", "networks")}
    return store.write_array_store(path, arrays, {**kept, "spike_ratio": spike_ratio, "grokking": dict(grokking)})
