"""Figures of the network-manifold study, one PNG each, for one sweep. They only draw: every
embedding, linkage and matrix shown was computed and stored by a step."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ... import store  # noqa: E402
from ...figures import FigureFiles, new_figure, short_network_labels, styled  # noqa: E402
from . import FIGURES  # noqa: E402


def _top_and_random(accuracy: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-accuracy, kind="stable")
    top = order[:n]
    rest = np.setdiff1d(np.arange(len(accuracy)), top)
    random = np.random.default_rng(seed).choice(rest, size=min(n, len(rest)), replace=False)
    return top, random


def _manifolds_figure(emb, sweep: str):
    """Manifolds of networks, one panel per distance, coloured by test accuracy."""
    kinds = list(dict.fromkeys(emb["kind"]))
    columns = min(len(kinds), 4)
    rows = -(-len(kinds) // columns)
    fig, axes = new_figure(rows, columns, size=(min(7.5, 1.9 * columns + 0.8), 0.6 + 1.9 * rows), squeeze=False)
    for ax, kind in zip(axes.ravel(), kinds):
        frame = emb[emb["kind"] == kind]
        sc = ax.scatter(frame["phate1"], frame["phate2"], c=frame["test_accuracy"], cmap="viridis", s=10)
        ax.set_title(kind)
        ax.set_xticks([]), ax.set_yticks([])  # embedding coordinates have no units
        ax.set_xlabel("PHATE 1"), ax.set_ylabel("PHATE 2")
    fig.colorbar(sc, ax=axes, label="test accuracy", shrink=0.8)
    fig.suptitle(f"{sweep}: PHATE of networks\n(Frobenius distances; Wasserstein between diagrams)")
    return fig


def _entropy_figure(feats, entropy_t: float, sweep: str):
    """Entropy against accuracy, coloured by learning rate."""
    fig, ax = new_figure(size=(4.2, 3.2))
    sc = ax.scatter(feats["test_accuracy"], feats["entropy"], c=np.log10(feats["lr"]), cmap="plasma", s=14)
    fig.colorbar(sc, label="log10 learning rate")
    ax.set_xlabel("test accuracy"), ax.set_ylabel("diffusion spectral entropy")
    ax.set_title(f"{sweep}: entropy (t = {entropy_t:g})")
    return fig


def _wasserstein_figure(matrix: np.ndarray, accuracy: np.ndarray, chosen: np.ndarray, top: int, random: int, sweep: str):
    """Wasserstein distances between the diagrams of the ``chosen`` networks (``top`` top ones
    first, then ``random`` random ones)."""
    fig, ax = new_figure(size=(4.4, 3.8))
    im = ax.imshow(matrix, cmap="magma")
    ticks = [f"{accuracy[i]:.2f}" for i in chosen]
    ax.set_xticks(range(len(chosen)), ticks, rotation=90), ax.set_yticks(range(len(chosen)), ticks)
    ax.set_xlabel("network (test accuracy)"), ax.set_ylabel("network (test accuracy)")
    fig.colorbar(im, label="Wasserstein distance\n(H0-H2 summed)")
    ax.set_title(f"{sweep}: {top} top (first) vs {random} random networks")
    return fig


def _dendrograms_figure(linkages: np.ndarray, top: np.ndarray, random: np.ndarray, named):
    """Dendrograms (Ward, stored by characterize_networks) of the top and the random networks."""
    from scipy.cluster.hierarchy import dendrogram

    fig, axes = new_figure(2, len(top), size=(min(7.5, 1.5 * len(top) + 0.5), 4.4), squeeze=False)
    for row, group in enumerate((top, random)):
        for ax, i in zip(axes[row], group):
            dendrogram(linkages[i], ax=ax, no_labels=True, color_threshold=0, above_threshold_color="k")
            ax.set_title(named(i), fontsize=7)
    for row, group in enumerate(("top networks", "random networks")):
        axes[row, 0].set_ylabel(f"{group}\nWard merge height")
    for ax in axes[:, 1:].ravel():
        ax.set_ylabel("merge height")
    fig.supxlabel("test points (leaves) of the network's hidden representation")
    return fig


def _class_structure_figure(centroid: np.ndarray, top: np.ndarray, random: np.ndarray, named):
    """Class-structure heatmaps: centroid distances of 3 top and 3 random networks."""
    # One colour scale for all six, so that weaker separation reads as a darker map.
    shown = np.concatenate([top[:3], random[:3]])
    vmax = max(float(np.max(centroid[i])) for i in shown) or 1.0
    classes = centroid.shape[-1]
    fig, axes = new_figure(2, 3, size=(6.4, 4.8), squeeze=False, sharex=True, sharey=True)
    for row, group in enumerate((top[:3], random[:3])):
        for ax, i in zip(axes[row], group):
            im = ax.imshow(centroid[i], cmap="viridis", vmin=0.0, vmax=vmax)
            ax.set_title(named(i), fontsize=7)
            ax.set_xticks(range(classes)), ax.set_yticks(range(classes))
    axes[-1, 0].set_xlabel("class"), axes[0, 0].set_ylabel("top networks\nclass"), axes[1, 0].set_ylabel("random networks\nclass")
    fig.colorbar(im, ax=axes, label="distance between class centroids", shrink=0.8)
    return fig


def _hidden_layers_figure(hidden, named, sweep: str):
    """PHATE of the hidden layer of the best and the worst networks (embed_networks), by class."""
    groups = ("best", "worst")
    columns = int(hidden["rank"].max()) + 1
    labels = np.unique(hidden["label"])
    fig, axes = new_figure(len(groups), columns, size=(min(7.5, 1.7 * columns + 0.9), 4.4), squeeze=False)
    colours = plt.cm.tab10(np.arange(len(labels)) % 10)
    for row, group in enumerate(groups):
        for (rank, frame), ax in zip(hidden[hidden["group"] == group].groupby("rank"), axes[row]):
            i = int(frame["network"].iloc[0])
            ax.set_title(f"{group}: {named(i)}", fontsize=7)
            if frame["phate1"].isna().all():
                ax.text(0.5, 0.5, "collapsed:\nall points equal", ha="center", va="center", transform=ax.transAxes)
            else:
                ax.scatter(frame["phate1"], frame["phate2"], c=colours[np.searchsorted(labels, frame["label"])], s=6)
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_xlabel("PHATE 1"), ax.set_ylabel("PHATE 2")
    handles = [plt.Line2D([], [], ls="", marker="o", ms=4, color=colours[k]) for k in range(len(labels))]
    fig.legend(handles, [str(label) for label in labels], title="class", loc="outside right center")
    fig.suptitle(f"{sweep}: PHATE of the hidden layer of the best and the worst networks")
    return fig


@styled
def plot_network_manifold(
    embeddings: str,
    hidden_embeddings: str,
    characterization: str,
    characterization_arrays: str,
    persistence: str,
    *,
    sweep: str,
    figure_seed: int,
    dpi: int,
    formats: Sequence[str],
    **figures: str,
) -> list[Path]:
    """Write the study's figures for one sweep: ``figures`` maps each name of :data:`FIGURES` to
    its files (the rule's named outputs, :class:`pipeline.figures.FigureFiles`); ``figure_seed``
    picks the "random" networks."""
    files = FigureFiles("plot_network_manifold", FIGURES, figures, dpi, formats, hide_empty_axes=True)
    emb = store.read_table(embeddings)
    hidden = store.read_table(hidden_embeddings)
    feats = store.read_table(characterization)
    chars = store.open_array_store(characterization_arrays)
    accuracy = feats["test_accuracy"].to_numpy()
    # each network by its short label (the grid keys that vary in the sweep) and its accuracy
    short = short_network_labels(list(feats["network"])) if "network" in feats else [f"network {i}" for i in range(len(feats))]

    def named(i: int) -> str:  # a panel's title: label (wrapped to fit a narrow panel), accuracy
        return f"{textwrap.fill(short[i], 18)}\nacc {accuracy[i]:.2f}"

    files.save(_manifolds_figure(emb, sweep), "manifolds")
    files.save(_entropy_figure(feats, chars.attrs["entropy_t"], sweep), "entropy_vs_accuracy")
    # 5 top and 5 random networks for the Wasserstein heatmap and the dendrograms
    top, random = _top_and_random(accuracy, 5, figure_seed)
    chosen = np.concatenate([top, random])
    matrix = store.read_array(persistence, "wasserstein/total")[np.ix_(chosen, chosen)]
    files.save(_wasserstein_figure(matrix, accuracy, chosen, len(top), len(random), sweep), "wasserstein_heatmap")
    files.save(_dendrograms_figure(store.read_array(characterization_arrays, "linkage"), top, random, named), "dendrograms")
    centroid = store.read_array(characterization_arrays, "centroid_matrices")
    files.save(_class_structure_figure(centroid, top, random, named), "class_structure")
    files.save(_hidden_layers_figure(hidden, named, sweep), "hidden_layers")
    return files.written
