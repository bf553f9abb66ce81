"""Figures of the activation-landscapes study: they draw the stored summary."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ... import store  # noqa: E402
from ...figures import FigureFiles, new_figure, styled  # noqa: E402
from . import FIGURES  # noqa: E402


@styled
def plot_activation_landscapes(summary: str, *, experiment: str, dpi: int, formats: Sequence[str], **figures: str) -> list[Path]:
    """Figs. 2, 3 and 4 of the paper for one experiment (``figures``: name -> its files,
    :class:`pipeline.figures.FigureFiles`)."""
    files = FigureFiles("plot_activation_landscapes", FIGURES, figures, dpi, formats)
    root = store.open_array_store(summary)
    thresholds, layers = root.attrs["thresholds"], root.attrs["layers"]
    shown = root.attrs["shown_thresholds"]
    grid = np.asarray(root.attrs["grid"])
    average = store.read_array(summary, "average")
    norms = store.read_array(summary, "norms")
    curves = store.read_array(summary, "curves")
    colours = plt.cm.plasma_r(np.linspace(0.05, 0.95, len(thresholds)))  # yellow (low) to purple (high)

    # Fig. 2: average landscapes, thresholds (rows) x layers (columns)
    rows = [thresholds.index(t) for t in shown]
    top = float(np.nanmax(average[rows])) if np.isfinite(average[rows]).any() else 1.0
    reach = grid[np.any(np.nan_to_num(average[rows]) > 1e-3 * top, axis=(0, 1, 2))]
    right = float(reach.max()) * 1.05 if len(reach) else float(grid[-1])
    columns = len(layers)
    fig, axes = new_figure(
        len(rows), columns, size=(min(7.5, 1.0 + 1.35 * columns), 1.0 + 1.25 * len(rows)), sharex=True, sharey=True, squeeze=False
    )
    for r, t in enumerate(rows):
        for layer in range(columns):
            ax = axes[r, layer]
            for k in range(average.shape[2]):
                ax.plot(grid, average[t, layer, k], lw=0.8, label=f"$\\lambda_{{{k + 1}}}$")
            ax.set_xlim(0, right), ax.set_ylim(0, top * 1.05)
            if r == 0:
                ax.set_title(layers[layer], fontsize=8)
        axes[r, 0].set_ylabel(f"accuracy {thresholds[t]:g}\n$\\lambda_k(t)$")
    for ax in axes[-1]:
        ax.set_xlabel("filtration value $t$")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), title="landscape", loc="outside right center")
    fig.suptitle(f"{experiment}: average activation landscapes\n(rows: training-accuracy thresholds; columns: layers)")
    files.save(fig, "landscapes")

    # Fig. 3: PCA of the average landscapes, one curve through the layers per threshold
    fig, ax = new_figure(size=(4.6, 3.6))
    for t, threshold in enumerate(thresholds):
        ax.plot(curves[t, :, 0], curves[t, :, 1], "-o", color=colours[t], ms=3, label=f"{threshold:g}")
        ax.annotate("0", curves[t, 0], fontsize=7)
    ax.set_xlabel("PC 1"), ax.set_ylabel("PC 2")
    ax.legend(title="threshold")
    ax.set_title(f"{experiment}: activation landscape curves\n(one point per layer; layer 0 marked)")
    files.save(fig, "curves")

    # Fig. 4: topological complexity (norms) against the layer, per threshold
    fig, ax = new_figure(size=(4.8, 3.6))
    for t, threshold in enumerate(thresholds):
        mean, spread = np.nanmean(norms[:, t], axis=0), np.nanstd(norms[:, t], axis=0)
        if not np.isfinite(mean).any():
            continue
        ax.plot(range(len(layers)), mean, "-o", color=colours[t], ms=3, label=f"{threshold:g}")
        ax.fill_between(range(len(layers)), mean - spread, mean + spread, color=colours[t], alpha=0.12)
    ax.set_xticks(range(len(layers)), layers, rotation=60, ha="right", rotation_mode="anchor")
    ax.set_xlabel("layer"), ax.set_ylabel("landscape norm\n(mean +- sd over samples)")
    ax.legend(title="threshold")
    ax.set_title(f"{experiment}: topological complexity by layer")
    files.save(fig, "complexity_by_layer")
    return files.written
