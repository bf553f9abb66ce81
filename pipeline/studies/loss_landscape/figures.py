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
from ...figures import FigureFiles  # noqa: E402
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


def plot_loss_landscape(
    landscapes: Sequence[str],
    embedding_comparison: str,
    optima_table: str,
    *,
    example: str | None,
    complex: str,
    dpi: int = 110,
    **figures: str,
) -> list[Path]:
    """Write the study's figures (names in :data:`FIGURES`; ``figures`` maps each to its PNG)."""
    files = FigureFiles("plot_loss_landscape", FIGURES, figures, dpi)
    optima = pd.read_csv(optima_table)  # the optima table (tabulate_loss_landscape), its CSV form

    # Fig. 1: embedding methods on J&R samples and on the artificial tree.
    comparison = store.read_table(embedding_comparison)
    datasets = list(dict.fromkeys(comparison["dataset"]))
    methods = list(dict.fromkeys(comparison["method"]))
    fig, axes = plt.subplots(len(datasets), len(methods), figsize=(3.2 * len(methods), 3.2 * len(datasets)), squeeze=False)
    for row, dataset in enumerate(datasets):
        for ax, method in zip(axes[row], methods):
            frame = comparison[(comparison["dataset"] == dataset) & (comparison["method"] == method)]
            ax.scatter(frame["x"], frame["y"], c=frame["group"], cmap="tab10", s=5, alpha=0.8)
            ax.set_title(f"{method}", fontsize=9)
            ax.set_xticks([]), ax.set_yticks([])
        axes[row, 0].set_ylabel(dataset, fontsize=8)
    files.save(fig, "embedding_methods")

    # Fig. 2 (top): the three samplings of the example optimum, coloured by log train loss.
    example = example if example is not None else optima["network"].iloc[0]
    path, o = _find(landscapes, example)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    for ax, sampling in zip(axes, ("grid", "naive", "jump_retrain")):
        coords = store.read_array(path, f"{sampling}/embedding")[o]
        loss = _log_loss(store.read_array(path, f"{sampling}/train_loss")[o])
        sc = ax.scatter(coords[1:, 0], coords[1:, 1], c=loss[1:], cmap="viridis", s=6)
        ax.scatter(coords[0, 0], coords[0, 1], marker="*", s=120, c="red", edgecolors="k", label="optimum")
        ax.set_title({"grid": "grid sampling", "naive": "naive sampling", "jump_retrain": "jump and retrain"}[sampling], fontsize=10)
        ax.set_xticks([]), ax.set_yticks([])
        fig.colorbar(sc, ax=ax, label="log10 train loss", shrink=0.8)
    axes[0].legend(loc="best", fontsize=7)
    fig.suptitle(f"cosine PHATE of the samples around {example}", y=1.02, fontsize=10)
    files.save(fig, "samplings")

    # Fig. 2 (bottom) / 3A: good, bad and memorization optima with their persistence diagrams.
    ranked = optima[~optima["memorization"]].sort_values("optimum_test_loss")
    chosen = [("good", ranked["network"].iloc[0]), ("bad", ranked["network"].iloc[-1])]
    memorized = optima[optima["memorization"]]
    if len(memorized):
        chosen.append(("memorization", memorized["network"].iloc[0]))
    c = COMPLEXES.index(complex)
    fig, axes = plt.subplots(2, len(chosen), figsize=(4 * len(chosen), 7.6), squeeze=False)
    for column, (label, network) in enumerate(chosen):
        path, o = _find(landscapes, network)
        coords = store.read_array(path, "jump_retrain/embedding")[o]
        seeds, steps, epochs = (store.read_array(path, f"jump_retrain/{k}") for k in ("seed", "step_size", "epoch"))
        ax = axes[0, column]
        cmaps = ["Blues", "Oranges", "Greens", "Purples", "Reds", "Greys"]
        for i, seed in enumerate(sorted(set(seeds) - {-1})):
            on = (seeds == seed) & (epochs > 0)
            ax.scatter(coords[on, 0], coords[on, 1], c=epochs[on], cmap=cmaps[i % len(cmaps)] + "_r", s=6)
        jumps = epochs == 0
        ax.scatter(
            coords[jumps, 0], coords[jumps, 1], marker="D", c=steps[jumps], cmap="autumn", s=22, edgecolors="k", linewidths=0.4
        )
        ax.scatter(coords[0, 0], coords[0, 1], marker="*", s=140, c="red", edgecolors="k")
        row = optima[optima["network"] == network].iloc[0]
        ax.set_title(f"{label}: {network[:40]}\ntest loss {row['optimum_test_loss']:.3f}", fontsize=8)
        ax.set_xticks([]), ax.set_yticks([])
        rows = store.read_array(path, "diagrams")
        mine = rows[(rows[:, 0] == o) & (rows[:, 1] == c)]
        loss = store.read_array(path, "jump_retrain/train_loss")[o]
        low, high = float(loss.min()), float(loss.max())
        ax = axes[1, column]
        for d, marker in ((0, "o"), (1, "^")):
            points = mine[mine[:, 2] == d]
            finite = np.isfinite(points[:, 4])
            ax.scatter(points[finite, 3], points[finite, 4], marker=marker, s=12, label=f"H{d}")
            if (~finite).any():  # essential classes: on the top line
                ax.scatter(points[~finite, 3], np.full((~finite).sum(), high * 1.05), marker=marker, s=20,
                           facecolors="none", edgecolors="k", label=f"H{d} never dies")
        ax.plot([low, high], [low, high], "k--", lw=0.7)
        total = store.read_array(path, "total_persistence")[o, c]
        ax.set_title(f"total persistence H0 {total[0]:.3g}, H1 {total[1]:.3g}", fontsize=8, fontweight="bold")
        ax.set_xlabel("birth (loss)"), ax.set_ylabel("death (loss)")
        ax.legend(fontsize=7)
    fig.suptitle(
        f"jump and retrain around three optima: seeds in colours (lighter = later), jumps as diamonds; {complex} complex",
        fontsize=9,
    )
    files.save(fig, "good_bad_memorization")

    # Fig. 3B: total persistence (H0) against test loss at the optimum, coloured by weight decay.
    fig, ax = plt.subplots(figsize=(5, 3.8))
    shown = optima[~optima["memorization"]]
    decays = sorted(shown["weight_decay"].unique())
    for i, wd in enumerate(decays):
        group = shown[shown["weight_decay"] == wd]
        colour = plt.cm.viridis(i / max(1, len(decays) - 1))
        ax.scatter(group["optimum_test_loss"], group["total_persistence_h0"], s=18, label=f"wd {wd:g}", color=colour)
    ax.set_xlabel("test loss at the optimum"), ax.set_ylabel(f"total persistence H0 ({complex})")
    ax.legend(fontsize=8)
    files.save(fig, "total_persistence")
    return files.written
