"""Figures of the learning-graphs study: they draw the stored trajectories and graphs of one run
(its first network where a figure shows one). Training time is in epochs, which mean the same for
every network of a run whatever its batch size."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ... import store  # noqa: E402
from ...figures import FigureFiles, new_figure, short_network_labels, styled  # noqa: E402
from . import FIGURES  # noqa: E402


def _graph(graphs: str, key: str):
    """Stored graph ``key`` (``<network>/<layer>/<lens>``): node sizes, node epochs, edges."""
    offsets = store.read_array(graphs, f"{key}/node_offsets")
    return np.diff(offsets), store.read_array(graphs, f"{key}/node_epoch"), store.read_array(graphs, f"{key}/edges")


def _draw_graph(ax, sizes, node_epoch, edges, vmax, seed, splits=None):
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(range(len(sizes)))
    graph.add_edges_from(map(tuple, edges))
    position = nx.spring_layout(graph, seed=seed, iterations=100) if len(sizes) else {}
    xy = np.array([position[i] for i in range(len(sizes))]).reshape(-1, 2)
    for a, b in edges:
        ax.plot(*xy[[a, b]].T, color="0.6", lw=0.5, zorder=1)
    ax.scatter(*xy.T, s=6 + 3 * np.sqrt(sizes), c=node_epoch, cmap="viridis", vmin=0, vmax=vmax, zorder=2, edgecolors="none")
    if splits is not None and len(splits):
        saddles = [int(np.argmin(np.abs(node_epoch - split))) for split in splits]
        ax.scatter(*xy[saddles].T, s=60, facecolors="none", edgecolors="red", lw=1, zorder=3)
    ax.set_axis_off()  # a spring layout: the coordinates mean nothing


def _layers_figure(source, graphs: str, layers, epochs: np.ndarray, vmax: float, seed: int, title: str):
    """Figs. 3 and 5: per layer, the PCA projection of the cloud (top) and its learning graph (bottom)."""
    fig, axes = new_figure(2, len(layers), size=(min(7.5, 2.4 * len(layers) + 1.0), 5.4), squeeze=False)
    for column, layer in enumerate(layers):
        neurons = source[f"weights/{layer}"].shape[2]
        projection = store.read_array(graphs, f"0/{layer}/projection")
        axes[0, column].scatter(*projection.T, c=np.repeat(epochs, neurons), s=2, cmap="viridis", vmin=0, vmax=vmax)
        axes[0, column].set_title(f"{layer}: PCA of the weight vectors", fontsize=8)
        axes[0, column].set_xlabel("PC 1"), axes[0, column].set_ylabel("PC 2")
        splits = store.read_array(graphs, f"0/{layer}/splits")
        significant = store.read_array(graphs, f"0/{layer}/significant")
        _draw_graph(axes[1, column], *_graph(graphs, f"0/{layer}/norm"), vmax, seed, splits[significant, 0])
        ends = int(store.read_array(graphs, f"0/{layer}/connected_branches"))
        parts = int(store.read_array(graphs, f"0/{layer}/pieces"))
        axes[1, column].set_title(f"L2 lens: {ends} branches, {parts} piece{'s' * (parts != 1)}", fontsize=8)
    mappable = plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(0, vmax))
    fig.colorbar(mappable, ax=axes, shrink=0.6, label="epoch")
    fig.suptitle(title)
    return fig


def _digit_figure(counts: np.ndarray, epochs: np.ndarray, digit: int, title: str):
    """Fig. 4: how the test images of one class are classified over training (``counts``
    ``[snapshot, class]``)."""
    fig, ax = new_figure(size=(5.5, 3.4))
    colours = plt.cm.tab10(np.arange(counts.shape[1]) % 10)
    for c in range(counts.shape[1]):
        if counts[:, c].any():
            ax.plot(epochs, counts[:, c], color=colours[c], lw=1.6 if c == digit else 1, label=str(c))
    ax.set_xlabel("epoch"), ax.set_ylabel(f"test images of {digit} classified as")
    ax.legend(title="class", ncol=2)
    ax.set_title(title)
    return fig


def _pca_lens_figure(source, graphs: str, first: str, epochs: np.ndarray, vmax: float, seed: int, title: str):
    """Fig. 6: the first layer's PCA projection and its learning graph with the PCA lens."""
    fig, axes = new_figure(1, 2, size=(6.8, 3.4))
    projection = store.read_array(graphs, f"0/{first}/projection")
    axes[0].scatter(*projection.T, c=np.repeat(epochs, source[f"weights/{first}"].shape[2]), s=2, cmap="viridis", vmin=0, vmax=vmax)
    axes[0].set_title(f"{first}: PCA of the weight vectors", fontsize=8)
    axes[0].set_xlabel("PC 1"), axes[0].set_ylabel("PC 2")
    _draw_graph(axes[1], *_graph(graphs, f"0/{first}/pca"), vmax, seed)
    axes[1].set_title("learning graph, lens = first PCA directions", fontsize=8)
    fig.suptitle(title)
    return fig


def _surface_figure(surface: np.ndarray, snapshots: np.ndarray, input_shape: tuple, epochs: np.ndarray, title: str):
    """Fig. 7: the learning surface ``[k, neurons - 1, inputs]``, differences between
    neighbouring neurons' weight images."""
    image = input_shape[-2:] if len(input_shape) >= 2 else None
    shown = min(12, surface.shape[1])
    columns = np.linspace(0, surface.shape[1] - 1, shown).round().astype(int)
    side = min(0.95, 6.8 / shown)  # inches per image
    fig, axes = new_figure(
        len(snapshots), shown, size=(0.7 + side * shown, 1.1 + side * len(snapshots)), squeeze=False, sharex=True, sharey=True
    )
    for r, s in enumerate(snapshots):
        for c, neuron in enumerate(columns):
            values = surface[r, neuron]
            side = int(np.sqrt(values.size))
            picture = values.reshape(image) if image and int(np.prod(image)) == values.size else values[: side * side].reshape(side, side)
            axes[r, c].imshow(picture, cmap="gray")
            axes[r, c].set_xticks([]), axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(f"{epochs[s]:.3g}", fontsize=7)
    for c, neuron in enumerate(columns):
        axes[-1, c].set_xlabel(f"{neuron}", fontsize=7)
    fig.supxlabel("neuron i (image: weights of neuron i+1 minus those of neuron i)")
    fig.supylabel("epoch")
    fig.suptitle(title)
    return fig


def _norms_figure(trajectories: str, layers, epochs: np.ndarray, title: str):
    """Fig. 8: per-neuron weight norms of every layer and the accuracy, over training."""
    fig, axes = new_figure(len(layers) + 1, 1, size=(5.5, 0.8 + 1.5 * (len(layers) + 1)), sharex=True, squeeze=False)
    for row, layer in enumerate(layers):
        norms = store.read_array(trajectories, f"norms/{layer}")[0]  # [snapshot, neuron]
        axes[row, 0].plot(epochs, norms, lw=0.4, color="tab:blue", alpha=0.5)
        axes[row, 0].set_ylabel(f"{layer}\nnorms", fontsize=7)
    accuracy = store.read_array(trajectories, "test_accuracy")
    for n in range(len(accuracy)):
        axes[-1, 0].plot(epochs, accuracy[n], lw=1.2 if n == 0 else 0.6, color="tab:red" if n == 0 else "0.6")
    axes[-1, 0].set_ylabel("test accuracy", fontsize=7), axes[-1, 0].set_xlabel("epoch")
    fig.suptitle(title)
    return fig


@styled
def plot_learning_graphs(
    trajectories: str, graphs: str, *, run: str, seed: int, dpi: int, formats: Sequence[str], **figures: str
) -> list[Path]:
    """Figs. 3/5 (``layers``), 4, 6, 7 and 8 of the paper for one run (``figures``: name -> its
    files, :class:`pipeline.figures.FigureFiles`)."""
    files = FigureFiles("plot_learning_graphs", FIGURES, figures, dpi, formats)
    source = store.open_array_store(trajectories)
    root = store.open_array_store(graphs)
    layers, networks = root.attrs["layers"], root.attrs["networks"]
    epochs = store.read_array(trajectories, "epoch")
    vmax = float(epochs[-1]) or 1.0
    first_network = short_network_labels(list(networks))[0]  # the network drawn, by its short label
    first = layers[0]

    fig = _layers_figure(source, graphs, layers, epochs, vmax, seed, f"{run}: {first_network} (red rings: significant branchings)")
    files.save(fig, "layers")
    digit = source.attrs["digit"]
    counts = store.read_array(trajectories, "digit_predictions")[0]  # [snapshot, class]
    title = f"{run}: {first_network}, the {source.attrs['digit_images']} test images of {digit}"
    files.save(_digit_figure(counts, epochs, digit, title), "digit_over_training")
    files.save(_pca_lens_figure(source, graphs, first, epochs, vmax, seed, f"{run}: {first_network}"), "pca_lens")
    surface = store.read_array(graphs, "0/surface")  # [k, neurons - 1, inputs]
    snapshots = store.read_array(graphs, "surface_snapshots")
    title = f"{run}: {first}, differences of neighbouring neurons' weights"
    files.save(_surface_figure(surface, snapshots, tuple(source.attrs["input_shape"]), epochs, title), "learning_surface")
    title = f"{run}: weight norms per neuron ({first_network})\nand test accuracy (all networks; red: that one)"
    files.save(_norms_figure(trajectories, layers, epochs, title), "norms_and_accuracy")
    return files.written
