"""Figures of the ReLU-complex study: they draw one sweep's stored decompositions and series."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection, PolyCollection  # noqa: E402

from ... import store  # noqa: E402
from ...figures import FigureFiles  # noqa: E402
from ...kernels.relu_complex import loss_spikes  # noqa: E402
from . import CLASSIFICATION_FIGURES, TOPOLOGY_FIGURES  # noqa: E402
from .steps import detect_grokking, item_faces  # noqa: E402

SIDE_COLOURS = np.array([[0.55, 0.75, 0.95, 1.0], [0.98, 0.72, 0.55, 1.0]])  # side 0 blue, side 1 orange


def _names(root) -> list[str]:
    """Short names of a store's networks: the sweep and the hyperparameters that tell them apart."""
    return [
        f"{root.attrs['sweep']}: lr {m['lr']:g}, wd {m['weight_decay']:g}, seed {m['init_seed']}" for m in root.attrs["members"]
    ]


def _shown_network(complexes: str, grokking: Mapping) -> tuple[int, dict]:
    """The network drawn: the one that groks with the longest delay, else the first."""
    steps = store.read_array(complexes, "step")
    train, test = store.read_array(complexes, "train_accuracy"), store.read_array(complexes, "test_accuracy")
    told = [detect_grokking(steps, train[n], test[n], **grokking) for n in range(len(train))]
    grokkers = [n for n, t in enumerate(told) if t["grokked"]]
    n = max(grokkers, key=lambda k: told[k]["delay_steps"]) if grokkers else 0
    return n, told[n]


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
    ax.set_aspect("equal"), ax.set_xticks([]), ax.set_yticks([])


def plot_relu_classification(
    complexes: str, *, grokking: Mapping, spike_ratio: float, weighting: str, dpi: int = 110, **figures: str
) -> list[Path]:
    """For a classification sweep: ``fiedler_partitions``, the decomposition of one network
    coloured by its unweighted and weighted Fiedler partitions (the reading ``weighting`` of
    "weighted"), with its decision boundary (black) and the training points, at the step it fits
    and at the end; ``agreement``, every network's accuracies and partition agreements over
    training (with the decision: balanced, chance 0.5); and the figures of
    :func:`plot_relu_regression`."""
    files = FigureFiles("plot_relu_classification", CLASSIFICATION_FIGURES, figures, dpi)
    _draw_partitions(files, complexes, grokking, weighting)
    _draw_topology(files, complexes, spike_ratio)
    return files.written


def plot_relu_regression(complexes: str, *, spike_ratio: float, dpi: int = 110, **figures: str) -> list[Path]:
    """For any sweep: ``topology_vs_loss``, per network the training loss with its spikes (red),
    the filtration value at which the largest Betti number is reached, the peak beta1 and the
    cell count over training; ``betti_curves``, the first network's averaged Betti curves at a few
    recorded steps."""
    files = FigureFiles("plot_relu_regression", TOPOLOGY_FIGURES, figures, dpi)
    _draw_topology(files, complexes, spike_ratio)
    return files.written


def _draw_partitions(files: FigureFiles, complexes: str, grokking: Mapping, weighting: str) -> None:
    root = store.open_array_store(complexes)
    networks, box = _names(root), root.attrs["box"]
    steps = store.read_array(complexes, "step")
    x, y = store.read_array(complexes, "train_x"), store.read_array(complexes, "train_y")
    n, told = _shown_network(complexes, grokking)
    failed = _failed(complexes, (len(networks), len(steps)))[n]
    # a failed item has no faces: the nearest earlier item that did not fail stands for it
    shown = {when: _kept(snapshot, failed) for when, snapshot in (("fits", max(told["fit"], 0)), ("end", len(steps) - 1))}
    kinds = {"unweighted": "unweighted", f"weighted ({weighting})": weighting}  # title: stored reading
    agreements = tuple(f"{measure}_{reading}" for measure in ("balanced_decision", "agreement_labels") for reading in kinds.values())
    names = ("train_accuracy", "test_accuracy", "decision_majority") + agreements
    read = {name: store.read_array(complexes, name) for name in names}  # each stored series once
    aspect = (box[1] - box[0]) / (box[3] - box[2])
    fig, axes = plt.subplots(2, 2, figsize=(2 * 3.6 * aspect + 0.6, 2 * 3.6 + 1.2), constrained_layout=True)
    for row, (when, snapshot) in enumerate(shown.items()):
        if snapshot is None:
            for ax in axes[row]:
                ax.set_axis_off(), ax.set_title(f"{when}: every item of this network failed", fontsize=8)
            continue
        faces = item_faces(complexes, n, snapshot)
        for column, (kind, reading) in enumerate(kinds.items()):
            _draw_partition(axes[row, column], faces, faces[f"face_side_{reading}"], box, x, y)
            decision = read[f"balanced_decision_{reading}"][n, snapshot]
            labels = read[f"agreement_labels_{reading}"][n, snapshot]
            axes[row, column].set_title(
                f"{kind}, step {steps[snapshot]} ({when}): {len(faces['polygons'])} regions\n"
                f"agrees with decision {decision:.2f} (balanced), labels {labels:.2f}", fontsize=8,
            )
    state = f"groks: test accuracy +{told['rise']:.2f} after it fits" if told["grokked"] else "no grokking"
    fig.suptitle(f"{networks[n]}: Fiedler partitions (colours), decision boundary (black); {state}", fontsize=9)
    files.save(fig, "fiedler_partitions")

    fig, axes = plt.subplots(len(networks), 1, figsize=(7.5, 2.4 * len(networks)), squeeze=False, sharex=True)
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
        t = detect_grokking(steps, read["train_accuracy"][k], read["test_accuracy"][k], **grokking)
        if t["fit"] >= 0:
            ax.axvline(t["fit_step"], color="0.6", lw=0.8)
        ax.axvline(t["generalize_step"], color="k", lw=0.8, ls="-.")
        ax.set_ylim(0.4, 1.02), ax.set_ylabel("fraction", fontsize=8)
        ax.set_title(f"{networks[k]}{' (groks)' if t['grokked'] else ''}", fontsize=8)
    axes[0, 0].legend(fontsize=6, ncol=3, loc="lower right")
    axes[-1, 0].set_xlabel("training step (grey line: fits; dash-dot: generalizes)")
    files.save(fig, "agreement")


def _draw_topology(files: FigureFiles, complexes: str, spike_ratio: float) -> None:
    root = store.open_array_store(complexes)
    networks = _names(root)
    steps = store.read_array(complexes, "step")
    loss = store.read_array(complexes, "train_loss")
    rows = {"peak_value": "filtration value of max Betti", "peak_beta1": "peak beta1", "cells": "cells"}
    fig, axes = plt.subplots(1 + len(rows), len(networks), figsize=(3.6 * len(networks), 8.0), squeeze=False, sharex=True)
    for n in range(len(networks)):
        spikes = loss_spikes(loss[n], spike_ratio)
        axes[0, n].semilogy(steps, loss[n], color="k", lw=1)
        axes[0, n].scatter(steps[spikes], loss[n, spikes], color="red", s=12, zorder=3)
        axes[0, n].set_title(f"{networks[n]}\n{len(spikes)} loss spikes (> x{spike_ratio:g})", fontsize=8)
        for row, (name, label) in enumerate(rows.items(), start=1):
            values = store.read_array(complexes, name)[n]
            axes[row, n].plot(steps, values, lw=1)
            for s in steps[spikes]:
                axes[row, n].axvline(s, color="red", lw=0.5, alpha=0.5)
            axes[row, n].set_ylabel(label, fontsize=8)
        axes[0, n].set_ylabel("training loss", fontsize=8)
        axes[-1, n].set_xlabel("training step", fontsize=8)
    files.save(fig, "topology_vs_loss")

    curves = store.read_array(complexes, "betti_curve")[0]
    filtration = store.read_array(complexes, "filtration")
    failed = _failed(complexes, (len(networks), len(steps)))[0]
    shown = np.unique(np.linspace(0, len(steps) - 1, 4).round().astype(int))
    shown = sorted({k for k in (_kept(int(s), failed) for s in shown) if k is not None})  # failed items skipped
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for s in shown:
        for dim in (0, 1):
            axes[dim].plot(filtration, curves[s, :, dim], lw=1, label=f"step {steps[s]}")
    for dim in (0, 1):
        axes[dim].set_xlabel("filtration value (fraction of the cells: vertices, edges, faces)", fontsize=8)
        axes[dim].set_ylabel(f"beta{dim}, mean of {root.attrs['betti_orders']} random orders", fontsize=8)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{networks[0]}: Betti curves of the random filtration", fontsize=9)
    files.save(fig, "betti_curves")
