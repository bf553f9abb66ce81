"""Figures of the network-manifold study, one PNG each, for one sweep. They only draw: every
embedding, linkage and matrix shown was computed and stored by a step."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ... import store  # noqa: E402
from ...figures import FigureFiles  # noqa: E402
from . import FIGURES  # noqa: E402


def _top_and_random(accuracy: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-accuracy, kind="stable")
    top = order[:n]
    rest = np.setdiff1d(np.arange(len(accuracy)), top)
    random = np.random.default_rng(seed).choice(rest, size=min(n, len(rest)), replace=False)
    return top, random


def plot_network_manifold(
    embeddings: str,
    hidden_embeddings: str,
    characterization: str,
    characterization_arrays: str,
    persistence: str,
    *,
    sweep: str,
    figure_seed: int,
    dpi: int = 110,
    **figures: str,
) -> list[Path]:
    """Write the study's figures for one sweep: ``figures`` maps each name of :data:`FIGURES` to
    its PNG path (the rule's named outputs); ``figure_seed`` picks the "random" networks."""
    from scipy.cluster.hierarchy import dendrogram

    files = FigureFiles("plot_network_manifold", FIGURES, figures, dpi, hide_empty_axes=True)
    emb = store.read_table(embeddings)
    hidden = store.read_table(hidden_embeddings)
    feats = store.read_table(characterization)
    chars = store.open_array_store(characterization_arrays)
    accuracy = feats["test_accuracy"].to_numpy()

    # Manifolds of networks, one panel per distance, coloured by test accuracy.
    kinds = list(dict.fromkeys(emb["kind"]))
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.6 * len(kinds), 3.4), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        frame = emb[emb["kind"] == kind]
        sc = ax.scatter(frame["phate1"], frame["phate2"], c=frame["test_accuracy"], cmap="viridis", s=14)
        ax.set_title(f"{kind}")
        ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(sc, ax=axes[0].tolist(), label="test accuracy", shrink=0.8)
    fig.suptitle(f"{sweep}: PHATE of networks (Frobenius distances; Wasserstein between diagrams)", y=1.02)
    files.save(fig, "manifolds")

    # Entropy against accuracy, coloured by learning rate.
    fig, ax = plt.subplots(figsize=(4.2, 3.4))
    sc = ax.scatter(feats["test_accuracy"], feats["entropy"], c=np.log10(feats["lr"]), cmap="plasma", s=14)
    fig.colorbar(sc, label="log10 learning rate")
    ax.set_xlabel("test accuracy"), ax.set_ylabel("diffusion spectral entropy")
    ax.set_title(f"{sweep}: entropy (t = {chars.attrs['entropy_t']:g})")
    files.save(fig, "entropy_vs_accuracy")

    # Wasserstein distances between diagrams of 5 top and 5 random networks.
    top, random = _top_and_random(accuracy, 5, figure_seed)
    chosen = np.concatenate([top, random])
    matrix = store.read_array(persistence, "wasserstein/total")[np.ix_(chosen, chosen)]
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    im = ax.imshow(matrix, cmap="magma")
    ax.set_xticks(range(len(chosen)), [f"{accuracy[i]:.2f}" for i in chosen], rotation=90, fontsize=7)
    ax.set_yticks(range(len(chosen)), [f"{accuracy[i]:.2f}" for i in chosen], fontsize=7)
    fig.colorbar(im, label="Wasserstein distance (H0-H2 summed)")
    ax.set_title("5 top (first) vs 5 random networks")
    files.save(fig, "wasserstein_heatmap")

    # Dendrograms (Ward, stored by characterize_networks) of 5 top and 5 random networks.
    linkages = store.read_array(characterization_arrays, "linkage")
    fig, axes = plt.subplots(2, len(top), figsize=(2.6 * len(top), 4.6), squeeze=False)
    for row, group in enumerate((top, random)):
        for ax, i in zip(axes[row], group):
            dendrogram(linkages[i], ax=ax, no_labels=True, color_threshold=0, above_threshold_color="k")
            ax.set_title(f"acc {accuracy[i]:.2f}", fontsize=8)
            ax.set_yticks([])
    axes[0, 0].set_ylabel("top"), axes[1, 0].set_ylabel("random")
    files.save(fig, "dendrograms")

    # Class-structure heatmaps: centroid distances of 3 top and 3 random networks.
    # One colour scale for all six, so that weaker separation reads as a darker map.
    centroid = store.read_array(characterization_arrays, "centroid_matrices")
    shown = np.concatenate([top[:3], random[:3]])
    vmax = max(float(np.max(centroid[i])) for i in shown) or 1.0
    fig, axes = plt.subplots(2, 3, figsize=(9, 6), squeeze=False)
    for row, group in enumerate((top[:3], random[:3])):
        for ax, i in zip(axes[row], group):
            im = ax.imshow(centroid[i], cmap="viridis", vmin=0.0, vmax=vmax)
            ax.set_title(f"acc {accuracy[i]:.2f}", fontsize=9)
            ax.set_xticks([]), ax.set_yticks([])
    axes[0, 0].set_ylabel("top"), axes[1, 0].set_ylabel("random")
    fig.colorbar(im, ax=axes.ravel().tolist(), label="distance between class centroids", shrink=0.8)
    files.save(fig, "class_structure")

    # PHATE of the hidden layer of the best and the worst networks (embed_networks), by class.
    groups = ("best", "worst")
    columns = int(hidden["rank"].max()) + 1
    fig, axes = plt.subplots(len(groups), columns, figsize=(3 * columns, 6), squeeze=False)
    for row, group in enumerate(groups):
        for (rank, frame), ax in zip(hidden[hidden["group"] == group].groupby("rank"), axes[row]):
            ax.set_title(f"acc {frame['test_accuracy'].iloc[0]:.2f}", fontsize=9)
            if frame["phate1"].isna().all():
                ax.text(0.5, 0.5, "collapsed:\nall points equal", ha="center", va="center", transform=ax.transAxes)
            else:
                ax.scatter(frame["phate1"], frame["phate2"], c=frame["label"], cmap="tab10", s=8)
            ax.set_xticks([]), ax.set_yticks([])
    files.save(fig, "hidden_layers")
    return files.written
