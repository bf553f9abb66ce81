"""Figures of the loss-landscape study: they draw the stored embeddings, diagrams and tables."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ... import store  # noqa: E402
from ...figures import STYLE, FigureFiles, new_figure, short_network_labels, styled  # noqa: E402
from ...kernels.persistence import COMPLEXES  # noqa: E402
from . import FIGURES  # noqa: E402


def _find(landscapes: Sequence[str], network: str) -> tuple[str, int]:
    for path in landscapes:
        names = store.open_array_store(path).attrs["optima"]
        if network in names:
            return path, names.index(network)
    raise ValueError(f"optimum {network!r} is in none of the landscape stores")


def _log_loss(values: np.ndarray) -> np.ndarray:
    return np.log10(np.maximum(values, 1e-12))


def _labels(optima: pd.DataFrame) -> dict[str, str]:
    """Short labels of the optima (:func:`pipeline.labels.short_network_labels`: the grid keys
    that vary among them), by network name."""
    names = list(dict.fromkeys(optima["network"]))
    return dict(zip(names, short_network_labels(names)))


def _row_title(dataset: str, labels: dict[str, str]) -> str:
    """The row title of a data set of the embedding comparison (``jump_retrain (<network>)``, ``tree``)."""
    if dataset.startswith("jump_retrain (") and dataset.endswith(")"):
        network = dataset[len("jump_retrain ("):-1]
        return f"jump-and-retrain samples around the optimum {labels.get(network, network)} (colours: retraining seed)"
    if dataset == "tree":
        return "artificial tree, phate.tree.gen_dla (colours: branch)"
    return dataset


def _embedding_methods(comparison: pd.DataFrame, labels: dict[str, str]):
    """Fig. 1: embedding methods on J&R samples and on the artificial tree."""
    datasets = list(dict.fromkeys(comparison["dataset"]))
    methods = list(dict.fromkeys(comparison["method"]))
    # one subfigure per data set, its title the row's label (the optimum by its short label)
    fig = plt.figure(figsize=(min(7.5, 1.9 * len(methods)), 2.3 * len(datasets)), layout="constrained")
    for sub, dataset in zip(np.atleast_1d(fig.subfigures(len(datasets), 1)), datasets):
        sub.suptitle(_row_title(dataset, labels), fontsize=STYLE["axes.titlesize"])
        for ax, method in zip(np.atleast_1d(sub.subplots(1, len(methods))), methods):
            frame = comparison[(comparison["dataset"] == dataset) & (comparison["method"] == method)]
            ax.scatter(frame["x"], frame["y"], c=frame["group"], cmap="tab10", s=5, alpha=0.8)
            ax.set_title(method)
            ax.set_xticks([]), ax.set_yticks([])  # the coordinates of an embedding have no units
            ax.set_xlabel(f"{method} 1"), ax.set_ylabel(f"{method} 2")
    return fig


def _samplings(landscapes: Sequence[str], example: str, labels: dict[str, str]):
    """Fig. 2 (top): the three samplings of the example optimum, coloured by log train loss."""
    path, o = _find(landscapes, example)
    fig, axes = new_figure(1, 3, size=(7.5, 2.9))
    for ax, sampling in zip(axes, ("grid", "naive", "jump_retrain")):
        coords = store.read_array(path, f"{sampling}/embedding")[o]
        loss = _log_loss(store.read_array(path, f"{sampling}/train_loss")[o])
        sc = ax.scatter(coords[1:, 0], coords[1:, 1], c=loss[1:], cmap="viridis", s=6)
        ax.scatter(coords[0, 0], coords[0, 1], marker="*", s=120, c="red", edgecolors="k", label="optimum")
        ax.set_title({"grid": "grid sampling", "naive": "naive sampling", "jump_retrain": "jump and retrain"}[sampling])
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_xlabel("PHATE 1"), ax.set_ylabel("PHATE 2")
        fig.colorbar(sc, ax=ax, label="log10 train loss", shrink=0.8)
    axes[0].legend(loc="best")
    fig.suptitle(f"cosine PHATE of the samples around the optimum {labels.get(example, example)}")
    return fig


def _trajectories(ax, path: str, o: int) -> None:
    """One optimum's J&R samples in its PHATE embedding: seeds in colours (lighter = later), jumps
    as diamonds, the optimum as a star."""
    coords = store.read_array(path, "jump_retrain/embedding")[o]
    seeds, steps, epochs = (store.read_array(path, f"jump_retrain/{k}") for k in ("seed", "step_size", "epoch"))
    cmaps = ["Blues", "Oranges", "Greens", "Purples", "Reds", "Greys"]
    for i, seed in enumerate(sorted(set(seeds) - {-1})):
        on = (seeds == seed) & (epochs > 0)
        ax.scatter(coords[on, 0], coords[on, 1], c=epochs[on], cmap=cmaps[i % len(cmaps)] + "_r", s=6)
    jumps = epochs == 0
    ax.scatter(
        coords[jumps, 0], coords[jumps, 1], marker="D", c=steps[jumps], cmap="autumn", s=22, edgecolors="k", linewidths=0.4
    )
    ax.scatter(coords[0, 0], coords[0, 1], marker="*", s=140, c="red", edgecolors="k")
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_xlabel("PHATE 1"), ax.set_ylabel("PHATE 2")


def _diagram(ax, path: str, o: int, c: int) -> None:
    """One optimum's persistence diagrams (complex ``c``) of its J&R train loss, essential classes
    on the top line, its total persistence in the title."""
    rows = store.read_array(path, "diagrams")
    mine = rows[(rows[:, 0] == o) & (rows[:, 1] == c)]
    loss = store.read_array(path, "jump_retrain/train_loss")[o]
    low, high = float(loss.min()), float(loss.max())
    for d, marker in ((0, "o"), (1, "^")):
        points = mine[mine[:, 2] == d]
        finite = np.isfinite(points[:, 4])
        ax.scatter(points[finite, 3], points[finite, 4], marker=marker, s=12, label=f"H{d}")
        if (~finite).any():  # essential classes: on the top line
            ax.scatter(points[~finite, 3], np.full((~finite).sum(), high * 1.05), marker=marker, s=20,
                       facecolors="none", edgecolors="k", label=f"H{d} never dies")
    ax.plot([low, high], [low, high], "k--", lw=0.7)
    total = store.read_array(path, "total_persistence")[o, c]
    ax.set_title(f"total persistence\nH0 {total[0]:.3g}, H1 {total[1]:.3g}", fontsize=8)
    ax.set_xlabel("birth (train loss)"), ax.set_ylabel("death (train loss)")
    ax.legend(fontsize=6)


def _good_bad_memorization(landscapes: Sequence[str], optima: pd.DataFrame, labels: dict[str, str], complex: str):
    """Fig. 2 (bottom) / 3A: good, bad and memorization optima with their persistence diagrams."""
    ranked = optima[~optima["memorization"]].sort_values("optimum_test_loss")
    chosen = [("good", ranked["network"].iloc[0]), ("bad", ranked["network"].iloc[-1])]
    memorized = optima[optima["memorization"]]
    if len(memorized):
        chosen.append(("memorization", memorized["network"].iloc[0]))
    fig, axes = new_figure(2, len(chosen), size=(min(7.5, 2.5 * len(chosen)), 6.0), squeeze=False)
    for column, (label, network) in enumerate(chosen):
        path, o = _find(landscapes, network)
        _trajectories(axes[0, column], path, o)
        row = optima[optima["network"] == network].iloc[0]
        axes[0, column].set_title(f"{label}: {labels.get(network, network)}\ntest loss {row['optimum_test_loss']:.3f}", fontsize=8)
        _diagram(axes[1, column], path, o, COMPLEXES.index(complex))
    fig.suptitle(
        f"Jump and retrain around {len(chosen)} optima: seeds in colours (lighter = later), jumps as diamonds;\n"
        f"persistence diagrams of the train loss ({complex} complex)"
    )
    return fig


def _total_persistence(optima: pd.DataFrame, complex: str):
    """Fig. 3B: total persistence (H0) against test loss at the optimum, coloured by weight decay."""
    fig, ax = new_figure(size=(4.5, 3.4))
    shown = optima[~optima["memorization"]]
    decays = sorted(shown["weight_decay"].unique())
    for i, wd in enumerate(decays):
        group = shown[shown["weight_decay"] == wd]
        colour = plt.cm.viridis(i / max(1, len(decays) - 1))
        ax.scatter(group["optimum_test_loss"], group["total_persistence_h0"], s=18, label=f"{wd:g}", color=colour)
    ax.set_xlabel("test loss at the optimum"), ax.set_ylabel(f"total persistence H0 ({complex})")
    ax.legend(title="weight decay")
    return fig


@styled
def plot_loss_landscape(
    landscapes: Sequence[str],
    embedding_comparison: str,
    optima_table: str,
    *,
    example: str | None,
    complex: str,
    dpi: int,
    formats: Sequence[str],
    **figures: str,
) -> list[Path]:
    """Write the study's figures (names in :data:`FIGURES`; ``figures`` maps each to its files,
    :class:`pipeline.figures.FigureFiles`), one drawing function each."""
    files = FigureFiles("plot_loss_landscape", FIGURES, figures, dpi, formats)
    optima = pd.read_csv(optima_table)  # the optima table (tabulate_loss_landscape), its CSV form
    labels = _labels(optima)
    example = example if example is not None else optima["network"].iloc[0]
    files.save(_embedding_methods(store.read_table(embedding_comparison), labels), "embedding_methods")
    files.save(_samplings(landscapes, example, labels), "samplings")
    files.save(_good_bad_memorization(landscapes, optima, labels, complex), "good_bad_memorization")
    files.save(_total_persistence(optima, complex), "total_persistence")
    return files.written
