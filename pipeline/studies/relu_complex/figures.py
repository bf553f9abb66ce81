"""Figures of the ReLU-complex study: they draw one sweep's stored decompositions and series,
and the events over training (loss spikes, when each network fits and generalizes) that the table
step found and stored (``<sweep>/events.zarr``, :func:`.steps.write_events`); nothing here
computes them again."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection, PolyCollection  # noqa: E402

from ... import store  # noqa: E402
from ...figures import FigureFiles, new_figure, short_network_labels, styled  # noqa: E402
from . import CLASSIFICATION_FIGURES, GROKKING_EVENTS, TOPOLOGY_FIGURES  # noqa: E402

SIDE_COLOURS = np.array([[0.55, 0.75, 0.95, 1.0], [0.98, 0.72, 0.55, 1.0]])  # side 0 blue, side 1 orange


def _names(root) -> list[str]:
    """Short names of a store's networks: the sweep and the hyperparameters that tell them apart
    (:func:`pipeline.labels.short_network_labels`)."""
    return [f"{root.attrs['sweep']}: {label}" for label in short_network_labels(root.attrs["networks"])]


def _shown_network(events: str) -> tuple[int, dict]:
    """The network drawn: the one that groks with the longest delay, else the first; with its
    stored events (fit, generalize, ... of :func:`.steps.write_events`)."""
    told = _grokking(events)
    grokkers = np.flatnonzero(told["grokked"])
    n = int(grokkers[np.argmax(told["delay_steps"][grokkers])]) if len(grokkers) else 0
    return n, {name: values[n] for name, values in told.items()}


def _grokking(events: str) -> dict[str, np.ndarray]:
    """Every network's stored grokking events ``[network]`` (fit, generalize, fit_step, ...)."""
    return {name: store.read_array(events, name) for name in GROKKING_EVENTS}


def item_faces(complexes: str, network: int, snapshot: int) -> dict:
    """One item's stored drawing: ``polygons`` (a list of ``[k, 2]``), its per-face arrays
    (``face_counts``, ``face_side_<reading>`` of every stored reading, ``face_decision``,
    ``face_points``) and the decision boundary's segments."""
    root = store.open_array_store(complexes)
    names = ("face_counts", *(f"face_side_{reading}" for reading in root.attrs["weightings"]), "face_decision", "face_points")
    snapshots = len(store.read_array(complexes, "step"))
    item = network * snapshots + snapshot
    offsets = store.read_array(complexes, "face_offsets")
    first, last = int(offsets[item]), int(offsets[item + 1])
    faces = {name: store.read_array(complexes, name)[first:last] for name in names}
    all_counts = store.read_array(complexes, "face_counts")
    start = int(all_counts[:first].sum())
    vertices = store.read_array(complexes, "face_vertices")[start : start + int(faces["face_counts"].sum())]
    faces["polygons"] = np.split(vertices, np.cumsum(faces["face_counts"])[:-1])
    bounds = store.read_array(complexes, "boundary_offsets")
    faces["boundary"] = store.read_array(complexes, "boundary")[int(bounds[item]) : int(bounds[item + 1])]
    return faces


def _failed(complexes: str, shape: tuple) -> np.ndarray:
    """``[network, snapshot]`` the items whose decomposition failed (stores before the flag: none)."""
    root = store.open_array_store(complexes)
    return store.read_array(complexes, "item_failed").astype(bool) if "item_failed" in root else np.zeros(shape, dtype=bool)


def _kept(snapshot: int, failed: np.ndarray) -> int | None:
    """The recorded step drawn for ``snapshot``: itself, else the nearest earlier, else later, item
    that did not fail (None when every item of the network failed)."""
    good = np.flatnonzero(~failed)
    if not len(good):
        return None
    earlier = good[good <= snapshot]
    return int(earlier[-1]) if len(earlier) else int(good[0])


def _draw_partition(ax, faces: dict, side: np.ndarray, box, x, y) -> None:
    ax.add_collection(PolyCollection(faces["polygons"], facecolors=SIDE_COLOURS[side.astype(int)], edgecolors="0.35", linewidths=0.25))
    ax.add_collection(LineCollection(faces["boundary"], colors="k", linewidths=1.4))
    ax.scatter(*x.T, c=np.where(y == 1, "#c0392b", "#1f4e9c"), s=3, linewidths=0, zorder=3)
    ax.set_xlim(box[0], box[1]), ax.set_ylim(box[2], box[3])
    ax.set_aspect("equal"), ax.set_xlabel("input $x_1$"), ax.set_ylabel("input $x_2$")


@styled
def plot_relu_classification(
    complexes: str, events: str, *, weighting: str, dpi: int, formats: Sequence[str], **figures: str
) -> list[Path]:
    """For a classification sweep: ``fiedler_partitions``, the decomposition of one network
    coloured by its unweighted and weighted Fiedler partitions (the reading ``weighting`` of
    "weighted"), with its decision boundary (black) and the training points, at the step it fits
    and at the end; ``agreement``, every network's accuracies and partition agreements over
    training (with the decision: balanced, chance 0.5); and the figures of
    :func:`plot_relu_regression`."""
    files = FigureFiles("plot_relu_classification", CLASSIFICATION_FIGURES, figures, dpi, formats)
    _draw_partitions(files, complexes, events, weighting)
    _draw_topology(files, complexes, events)
    return files.written


@styled
def plot_relu_regression(complexes: str, events: str, *, dpi: int, formats: Sequence[str], **figures: str) -> list[Path]:
    """For any sweep: ``topology_vs_loss``, per network the training loss with its spikes (red),
    the filtration value at which the largest Betti number is reached, the peak beta1 and the
    cell count over training; ``betti_curves``, the first network's averaged Betti curves at a few
    recorded steps."""
    files = FigureFiles("plot_relu_regression", TOPOLOGY_FIGURES, figures, dpi, formats)
    _draw_topology(files, complexes, events)
    return files.written


def _draw_partitions(files: FigureFiles, complexes: str, events: str, weighting: str) -> None:
    root = store.open_array_store(complexes)
    networks, box = _names(root), root.attrs["box"]
    steps = store.read_array(complexes, "step")
    x, y = store.read_array(complexes, "train_x"), store.read_array(complexes, "train_y")
    n, told = _shown_network(events)
    failed = _failed(complexes, (len(networks), len(steps)))[n]
    # a failed item has no faces: the nearest earlier item that did not fail stands for it
    shown = {when: _kept(snapshot, failed) for when, snapshot in (("fits", max(told["fit"], 0)), ("end", len(steps) - 1))}
    kinds = {"unweighted": "unweighted", f"weighted ({weighting})": weighting}  # title: stored reading
    agreements = tuple(f"{measure}_{reading}" for measure in ("balanced_decision", "agreement_labels") for reading in kinds.values())
    names = ("train_accuracy", "test_accuracy", "decision_majority") + agreements
    read = {name: store.read_array(complexes, name) for name in names}  # each stored series once
    aspect = (box[1] - box[0]) / (box[3] - box[2])
    panel = min(3.3, 6.8 / (2 * aspect))  # panel height (in), two panels across <= 7.5 in
    fig, axes = new_figure(2, 2, size=(2 * panel * aspect + 0.8, 2 * panel + 1.8), sharex=True, sharey=True)
    for row, (when, snapshot) in enumerate(shown.items()):
        if snapshot is None:
            for ax in axes[row]:
                ax.set_axis_off(), ax.set_title(f"{when}: every item of this network failed", fontsize=8)
            continue
        faces = item_faces(complexes, n, snapshot)
        for column, (kind, reading) in enumerate(kinds.items()):
            _draw_partition(axes[row, column], faces, faces[f"face_side_{reading}"], box, x, y)
            axes[row, column].label_outer()  # shared axes: labels on the outer panels
            decision = read[f"balanced_decision_{reading}"][n, snapshot]
            labels = read[f"agreement_labels_{reading}"][n, snapshot]
            axes[row, column].set_title(
                f"{kind}, step {steps[snapshot]} ({when}): {len(faces['polygons'])} regions\n"
                f"agrees with decision {decision:.2f} (balanced), labels {labels:.2f}", fontsize=7,
            )
    state = f"groks: test accuracy +{told['rise']:.2f} after it fits" if told["grokked"] else "no grokking"
    fig.suptitle(f"{networks[n]}: Fiedler partitions (colours), decision boundary (black)\n{state}")
    files.save(fig, "fiedler_partitions")

    grokking = _grokking(events)
    fig, axes = new_figure(len(networks), 1, size=(7.0, 1.2 + 2.1 * len(networks)), squeeze=False, sharex=True)
    series = {
        "train accuracy": ("train_accuracy", "0.5", "-"), "test accuracy": ("test_accuracy", "k", "-"),
        "unweighted vs decision (balanced)": ("balanced_decision_unweighted", "#1f77b4", "--"),
        f"{weighting} vs decision (balanced)": (f"balanced_decision_{weighting}", "#d62728", "--"),
        "unweighted vs labels": ("agreement_labels_unweighted", "#1f77b4", ":"),
        f"{weighting} vs labels": (f"agreement_labels_{weighting}", "#d62728", ":"),
        "decision's majority share": ("decision_majority", "0.7", "-."),
    }
    for k, ax in enumerate(axes[:, 0]):
        for label, (name, colour, style) in series.items():
            ax.plot(steps, read[name][k], color=colour, ls=style, lw=1.1, label=label)
        if grokking["fit"][k] >= 0:
            ax.axvline(grokking["fit_step"][k], color="0.6", lw=0.8)
        ax.axvline(grokking["generalize_step"][k], color="k", lw=0.8, ls="-.")
        ax.set_ylim(0.4, 1.02), ax.set_ylabel("accuracy or agreement")
        ax.set_title(f"{networks[k]}{' (groks)' if grokking['grokked'][k] else ''}")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=4)
    axes[-1, 0].set_xlabel("training step (grey line: fits; dash-dot: generalizes)")
    files.save(fig, "agreement")


def _draw_topology(files: FigureFiles, complexes: str, events: str) -> None:
    root = store.open_array_store(complexes)
    networks = _names(root)
    steps = store.read_array(complexes, "step")
    loss = store.read_array(complexes, "train_loss")
    cells = store.read_array(complexes, "cells")
    orders = root.attrs["betti_orders"]
    spike, spike_ratio = store.read_array(events, "spike").astype(bool), store.open_array_store(events).attrs["spike_ratio"]
    # The peak's filtration value as a fraction of the cells added, the x axis of betti_curves
    # (stored as a count, 1 .. cells).
    rows = {
        "peak position\n(fraction of cells)": store.read_array(complexes, "peak_value") / cells,
        f"peak beta1\n(mean of {orders} orders)": store.read_array(complexes, "peak_beta1"),
        "cells\n(vertices+edges+faces)": cells,
    }
    width = min(7.5, 1.0 + 2.6 * len(networks))
    height = 1.0 + 1.55 * (1 + len(rows))
    fig, axes = new_figure(1 + len(rows), len(networks), size=(width, height), squeeze=False, sharex=True, sharey="row")
    for n in range(len(networks)):
        spikes = np.flatnonzero(spike[n])
        axes[0, n].semilogy(steps, loss[n], color="k")
        axes[0, n].scatter(steps[spikes], loss[n, spikes], color="red", s=12, zorder=3)
        axes[0, n].set_title(f"{networks[n]}\n{len(spikes)} loss spikes (> x{spike_ratio:g})", fontsize=8)
        for row, values in enumerate(rows.values(), start=1):
            axes[row, n].plot(steps, values[n])
            for s in steps[spikes]:
                axes[row, n].axvline(s, color="red", lw=0.5, alpha=0.5)
        axes[-1, n].set_xlabel("training step")
    for row, label in enumerate(["training loss", *rows]):
        axes[row, 0].set_ylabel(label)
    for ax in axes[:, 1:].ravel():
        ax.set_ylabel("")
    files.save(fig, "topology_vs_loss")

    curves = store.read_array(complexes, "betti_curve")[0]
    filtration = store.read_array(complexes, "filtration")
    failed = _failed(complexes, (len(networks), len(steps)))[0]
    shown = np.unique(np.linspace(0, len(steps) - 1, 4).round().astype(int))
    shown = sorted({k for k in (_kept(int(s), failed) for s in shown) if k is not None})  # failed items skipped
    fig, axes = new_figure(1, 2, size=(7.0, 3.0))
    for s in shown:
        for dim in (0, 1):
            axes[dim].plot(filtration, curves[s, :, dim], label=f"step {steps[s]}")
    for dim in (0, 1):
        axes[dim].set_xlabel("filtration value (fraction of cells added)")
        axes[dim].set_ylabel(f"beta{dim} (mean of {orders} random orders)")
    axes[0].legend()
    fig.suptitle(f"{networks[0]}: Betti curves of the random filtration")
    files.save(fig, "betti_curves")
