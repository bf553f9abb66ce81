"""Steps of the learning-graphs study (paper 000). Each opens its inputs, maps a kernel over the
items, and writes its outputs. Path arguments are the named inputs and outputs of the rule of the
same name; keyword-only settings are keys of ``config/schema/learning_graphs.yaml``.

An item is one (network, layer): the cloud of that layer's incoming weight vectors, one point per
(recorded step, neuron), in the space of the previous layer's width.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ... import store, zoo
from ...kernels import mapper
from ...parallel import dask_client
from ...tables import write_result_table
from . import claims as claims_module
from . import pages

log = logging.getLogger(__name__)
# the branch counts of an item, stored and tabled (kernels.mapper.Branching)
COUNTS = ("connected_branches", "lasting_branches", "detached_splits", "pieces_plus_splits")


# ---------------------------------------------------------------------------- trajectories
def _snapshot_positions(path: str, n_train: int) -> dict:
    """Where a store's snapshots lie: its spec, steps, batch size, steps per epoch (of the
    ``n_train`` examples loaded) and the size of the training set its spec names."""
    from ... import cadence
    from ...data import training_set_size

    population = store.open_population(path)
    spec = population.attrs["spec"]
    with store.checked(path):
        steps = np.asarray(population["snapshot_step"][...], dtype=np.int64)
    batch = spec["training"]["batch_size"]
    return {
        "path": path, "spec": spec, "steps": steps, "batch": batch, "per_epoch": cadence.steps_per_epoch(n_train, batch),
        "n_train": training_set_size(spec["dataset"], spec["dataset_options"]),
    }


def _check_same_positions(here: Mapping, reference: Mapping) -> None:
    """Raise unless a store (``here``, :func:`_snapshot_positions`) trained on as many examples
    as the ``reference`` store and recorded its snapshots at the same examples seen and epochs."""
    path, steps, batch = here["path"], here["steps"], here["batch"]
    if here["n_train"] != reference["n_train"]:
        raise ValueError(
            f"{path} trained on {here['n_train']} examples, {reference['path']} on {reference['n_train']}: "
            "a run's sweeps share their data"
        )
    # the same examples seen, and the same epochs (step / steps per epoch, compared exactly as integers)
    if not (
        np.array_equal(steps * batch, reference["steps"] * reference["batch"])
        and np.array_equal(steps * reference["per_epoch"], reference["steps"] * here["per_epoch"])
    ):
        raise ValueError(
            f"{path} (batch size {batch}, {len(steps)} snapshots) recorded at other examples seen or epochs than "
            f"{reference['path']} (batch size {reference['batch']}, {len(reference['steps'])} snapshots): the run's sweeps "
            "must share their data, epochs and cadence in examples seen (snapshot_every: {examples: N})"
        )


def _snapshot_parameters(path: str) -> dict[str, np.ndarray]:
    """Every parameter of a population store, ``[member, snapshot, ...]``, in memory."""
    snapshots = store.snapshot_arrays(path)
    with store.checked(path):
        return {name: np.asarray(array) for name, array in snapshots.items()}


def _layer_arrays(weights: Mapping[str, Sequence[np.ndarray]]) -> dict[str, np.ndarray]:
    """``weights/<layer>`` (float32) and ``norms/<layer>`` of every layer, the populations'
    weights concatenated over networks."""
    arrays = {}
    for layer, parts in weights.items():
        stacked = np.concatenate(parts).astype(np.float32)
        arrays[f"weights/{layer}"] = stacked
        arrays[f"norms/{layer}"] = np.linalg.norm(stacked, axis=-1)
    return arrays


def _digit_prediction_counts(base, params: Mapping[str, np.ndarray], x_digit, shape: tuple[int, int, int], precision) -> np.ndarray:
    """How many of the images ``x_digit`` each network of a population (``params``, arrays
    ``[member, snapshot, ...]`` of the model ``base``) gives each class at each snapshot:
    ``[member, snapshot, class]`` (``shape``)."""
    import torch

    from ...train import population_activations

    counts = np.zeros(shape, dtype=np.int64)
    for s in range(shape[1]):
        state = {k: torch.as_tensor(v[:, s]) for k, v in params.items()}
        logits = population_activations(base, state, {}, x_digit, ["output"], precision=precision)["output"]
        predicted = logits.argmax(-1).numpy()  # [member, image]
        for m in range(len(predicted)):
            counts[m, s] = np.bincount(predicted[m], minlength=shape[2])
    return counts


def extract_weight_trajectories(
    stores: Sequence[str],
    trajectories: str,
    *,
    layers: Sequence[str],
    digit: int,
    data_root: str = "data",
    threads: int = 1,
) -> Path:
    """Every network's recorded weights per layer, its accuracy, and how it classifies the test
    images of ``digit``, at every recorded step, aligned over the run's sweeps on the examples
    seen.

    The sweeps of a run may differ in batch size: snapshot ``i`` of every network must come after
    the same number of examples seen (``step * batch_size``, :mod:`pipeline.cadence`) and at the
    same fraction of an epoch, which ``snapshot_every: {examples: N}`` gives (the config check
    refuses runs that would not).

    Writes ``weights/<layer>`` ``[network, snapshot, neuron, inputs]``, ``norms/<layer>``
    ``[network, snapshot, neuron]``, ``epoch`` ``[snapshot]`` (float: the position in epochs,
    the axis every later step uses), ``examples`` ``[snapshot]`` (examples seen), ``step``
    ``[network, snapshot]`` (each network's own optimizer step), ``steps_per_epoch``
    ``[network]``, ``test_accuracy`` and ``train_accuracy`` ``[network, snapshot]``,
    ``digit_predictions`` ``[network, snapshot, class]`` (how many of the test images of
    ``digit`` each class gets); attrs: layers, networks (``<sweep>/<network>``), sweeps, the
    training-set size, the input image shape, the digit and its image count.

    Raises
    ------
    ValueError
        Two stores record their snapshots at different examples seen or epochs, or train on
        training sets of different sizes.
    """
    import torch

    from ...models import build_model

    torch.set_num_threads(threads)
    spec = store.open_population(stores[0]).attrs["spec"]
    data = zoo.load_spec_dataset(spec, data_root)
    model = build_model(spec["architecture"], data.input_shape, data.num_outputs)
    chosen = list(layers) or list(model.layer_names)
    parameter = {name: f"layers.{i}.weight" for i, name in enumerate(model.layer_names)}
    base = model.to("meta")
    x_digit = data.x_test[data.y_test == digit]
    weights = {layer: [] for layer in chosen}
    accuracy = {"test_accuracy": [], "train_accuracy": []}
    n_train = len(data.x_train)
    predictions, networks, network_steps, per_epoch = [], [], [], []
    reference = None  # the first store's snapshot positions
    for path in stores:
        here = _snapshot_positions(path, n_train)
        spec, steps = here["spec"], here["steps"]
        networks += [f"{spec['sweep']}/{m['network']}" for m in spec["members"]]
        reference = here if reference is None else reference
        _check_same_positions(here, reference)  # the first store is its own reference
        network_steps.append(np.repeat(steps[None], len(spec["members"]), axis=0))
        per_epoch += [here["per_epoch"]] * len(spec["members"])
        params = _snapshot_parameters(path)
        for layer in chosen:
            weights[layer].append(params[parameter[layer]])
        metrics = store.read_snapshot_metrics(path)
        for name in accuracy:
            accuracy[name].append(metrics[name])
        shape = (len(spec["members"]), len(steps), data.num_outputs)
        predictions.append(_digit_prediction_counts(base, params, x_digit, shape, zoo.spec_precision(spec)))
    arrays = {
        "epoch": reference["steps"] / reference["per_epoch"],
        "examples": reference["steps"] * reference["batch"],
        "step": np.concatenate(network_steps),
        "steps_per_epoch": np.asarray(per_epoch, dtype=np.int64),
        "digit_predictions": np.concatenate(predictions),
        **{name: np.concatenate(values) for name, values in accuracy.items()},
        **_layer_arrays(weights),
    }
    attrs = {
        "layers": chosen, "networks": networks, "n_train": n_train, "input_shape": list(data.input_shape), "digit": digit,
        "digit_images": len(x_digit), "sweeps": list(dict.fromkeys(n.split("/")[0] for n in networks)),
    }
    return store.write_array_store(trajectories, arrays, attrs)


# ---------------------------------------------------------------------------------- graphs
def layer_cloud(weights: np.ndarray, epochs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One network's layer ``[snapshot, neuron, inputs]`` as a cloud: points and the epoch of
    their snapshot (the training time, the same quantity at every batch size), snapshot-major."""
    n_snapshots, n_neurons, _ = weights.shape
    return weights.reshape(n_snapshots * n_neurons, -1).astype(np.float64), np.repeat(np.asarray(epochs), n_neurons)


def read_epochs(trajectories: str) -> np.ndarray:
    """The ``epoch`` of each snapshot of a trajectories store: the time axis of every step after
    extraction.

    Raises
    ------
    ValueError
        The store was extracted before snapshots were placed in epochs (it names the store to
        remove, so that the workflow extracts it again).
    """
    if "epoch" not in store.open_array_store(trajectories):
        raise ValueError(f"{trajectories} holds no 'epoch' array (it predates aligning sweeps on epochs): remove it and re-run")
    return store.read_array(trajectories, "epoch")


def _graph(lens, space, eps, cover):
    return mapper.mapper_graph(lens, space, cubes=cover["cubes"], overlap=cover["overlap"], eps=eps, min_samples=cover["min_samples"])


def item_learning_graphs(
    points: np.ndarray,
    step: np.ndarray,
    *,
    norm_lens: Mapping,
    pca_lens: Mapping,
    bootstrap: int,
    min_support: float,
    stability: Mapping,
    min_branch_steps: float,
    seed: int,
) -> dict:
    """The learning graphs of one cloud and the branching measured on the norm-lens graph.

    ``step`` is each point's training time, in any unit (the pipeline passes epochs); splits,
    tips, spreads and ``min_branch_steps`` are in that unit.

    Returns the norm-lens and PCA-lens graphs (arrays and KeplerMapper's dicts), the branches,
    each branch's bootstrap support, the spread of its split step and its significance (support
    at least ``min_support``; resamples match within ``min_branch_steps``), the branches at the
    end counted in the graph's main piece (:meth:`mapper.Branching.connected_branches`:
    with the significant branchings, ``connected_branches``; with every branching lasting
    ``min_branch_steps``, ``lasting_branches``), the graph's pieces and the branchings inside
    the other pieces apart, and at every setting of the stability grid the lasting count and the
    pieces.
    """
    rng = np.random.default_rng(seed)
    space = mapper.reduced_space(points, norm_lens["space_components"], seed)
    n_snapshots = len(np.unique(step))
    eps = mapper.trajectory_eps(space, n_snapshots, norm_lens["eps_quantile"], norm_lens["eps"])
    lens = mapper.norm_lens(points)
    graph, kepler = _graph(lens, space, eps, norm_lens)
    values = mapper.node_values(graph, step)
    found = mapper.branching(values, graph.edges)
    resampled = []
    for _ in range(bootstrap):
        pick = rng.integers(0, len(points), len(points))
        g, _ = _graph(lens[pick], space[pick], eps, norm_lens)
        resampled.append(mapper.branching(mapper.node_values(g, step[pick]), g.edges).splits)
    support, spread = mapper.bootstrap_support(found.splits, resampled, min_branch_steps)
    significant = support >= min_support
    grid = [(c, o) for c in stability["cubes"] for o in stability["overlap"]]
    counts, grid_pieces = [], []
    for cubes, overlap in grid:
        g, _ = _graph(lens, space, eps, {**norm_lens, "cubes": cubes, "overlap": overlap})
        at = mapper.branching(mapper.node_values(g, step), g.edges)
        counts.append(at.connected_branches(min_branch_steps))
        grid_pieces.append(at.pieces)
    pca_space = mapper.reduced_space(points, pca_lens["space_components"], seed)
    pca_eps = mapper.trajectory_eps(pca_space, n_snapshots, pca_lens["eps_quantile"], pca_lens["eps"])
    pca_graph, pca_kepler = _graph(mapper.pca_lens(points, pca_lens["components"], seed), pca_space, pca_eps, pca_lens)
    return {
        "projection": mapper.pca_lens(points, 2, seed).astype(np.float32),
        "graph": graph, "kepler": kepler, "node_step": values, "branching": found, "support": support,
        "split_spread": spread, "significant": significant, "eps": eps, "stability_grid": np.asarray(grid, dtype=np.float64),
        "stability_counts": np.asarray(counts, dtype=np.int64), "stability_pieces": np.asarray(grid_pieces, dtype=np.int64),
        "connected_branches": found.connected_branches(min_branch_steps, significant),
        "lasting_branches": found.connected_branches(min_branch_steps),
        "detached_splits": found.detached_splits(min_branch_steps, significant),
        "pieces_plus_splits": found.pieces_plus_splits(min_branch_steps, significant),
        "pca_graph": pca_graph, "pca_kepler": pca_kepler, "pca_node_step": mapper.node_values(pca_graph, step),
    }


def learning_surface(weights: np.ndarray, snapshots: Sequence[int], seed: int = 0) -> np.ndarray:
    """Fig. 7's learning surface: at each chosen snapshot, the layer's neurons ordered along the
    first principal direction of their weight vectors at that snapshot, and the differences
    between neighbours' weight vectors, ``[len(snapshots), neurons - 1, inputs]``."""
    out = []
    for s in snapshots:
        at = np.asarray(weights[s], dtype=np.float64)
        order = np.argsort(mapper.pca_lens(at, 1, seed)[:, 0], kind="stable") if np.ptp(at, axis=0).any() else np.arange(len(at))
        out.append(np.diff(at[order], axis=0))
    return np.asarray(out, dtype=np.float32)


def _graph_arrays(prefix: str, graph: mapper.MapperGraph, node_step: np.ndarray) -> dict:
    sizes = np.array([len(m) for m in graph.members], dtype=np.int64)
    return {
        f"{prefix}/node_points": np.concatenate(graph.members) if graph.members else np.zeros(0, np.int64),
        f"{prefix}/node_offsets": np.concatenate([[0], np.cumsum(sizes)]),
        f"{prefix}/node_epoch": node_step,
        f"{prefix}/edges": graph.edges,
    }


def _item_arrays(key: str, result: Mapping) -> dict:
    """The arrays of one item's graphs (:func:`item_learning_graphs`), under ``key``
    (``<network>/<layer>``)."""
    arrays = {}
    arrays.update(_graph_arrays(f"{key}/norm", result["graph"], result["node_step"]))
    arrays.update(_graph_arrays(f"{key}/pca", result["pca_graph"], result["pca_node_step"]))
    found = result["branching"]
    arrays.update({
        f"{key}/splits": found.splits, f"{key}/significant": result["significant"], f"{key}/components": found.components,
        f"{key}/merges": found.merges, f"{key}/loops": found.loops, f"{key}/support": result["support"],
        f"{key}/split_spread": result["split_spread"], f"{key}/split_piece": found.split_piece,
        f"{key}/main_piece": np.int64(found.root), f"{key}/start_piece": np.int64(found.start),
        f"{key}/pieces": np.int64(found.pieces), f"{key}/eps": np.float64(result["eps"]),
        **{f"{key}/{count}": np.int64(result[count]) for count in COUNTS},
        f"{key}/stability_grid": result["stability_grid"], f"{key}/stability_counts": result["stability_counts"],
        f"{key}/stability_pieces": result["stability_pieces"],
    })
    arrays[f"{key}/projection"] = result["projection"]
    return arrays


def _write_pages(
    pages_dir: str, written: Mapping, items: Sequence, epochs: np.ndarray, source, run: str, networks: Sequence[str]
) -> None:
    """The KeplerMapper pages of every item, both lenses (``written``: the items' KeplerMapper
    graphs by ``<network>/<layer>``)."""
    Path(pages_dir).mkdir(parents=True, exist_ok=True)
    for n, layer in items:
        weights_epoch = np.repeat(epochs, source[f"weights/{layer}"].shape[2])
        network = f"network{n}"
        for lens_name, kepler in zip(("norm", "pca"), written[f"{n}/{layer}"]):
            title = f"{run}: {networks[n]}, layer {layer}, lens {'L2 norm' if lens_name == 'norm' else 'first PCA directions'}"
            pages.write_page(kepler, weights_epoch, Path(pages_dir) / f"{network}_{layer}_{lens_name}.html", title)


def build_learning_graphs(
    trajectories: str,
    graphs: str,
    pages_dir: str,
    *,
    run: str,
    surface_steps: int,
    norm_lens: Mapping,
    pca_lens: Mapping,
    bootstrap: int,
    min_support: float,
    stability: Mapping,
    min_branch_snapshots: float,
    seed: int,
    dask_cluster: Mapping | None = None,
    threads: int = 1,
) -> Path:
    """Learning graphs of every (network, layer), one Dask task each, and their self-contained
    KeplerMapper pages (``<pages_dir>/network<n>_<layer>_{norm,pca}.html``, n the network's index
    in the run; the page's title names it).

    Training time is the epoch of each snapshot (``epoch`` of the trajectories), which means the
    same for every network of a run whatever its batch size.

    Writes per item ``<network>/<layer>/{norm,pca}/{node_points,node_offsets,node_epoch,edges}``
    (node i holds ``node_points[node_offsets[i]:node_offsets[i + 1]]``; ``node_epoch`` the mean
    epoch of its points), and for the norm lens
    ``splits`` ``[k, 2]`` (split epoch, tip epoch), ``support``, ``split_spread`` (epochs),
    ``significant`` and ``split_piece`` ``[k]`` (the row of ``components`` each split lies in),
    ``components`` (one row per piece of the graph, longest-lived first), ``main_piece`` (the
    longest-lived, 0) and ``start_piece`` (the piece holding the earliest node), ``merges``,
    ``loops``, ``eps``, the counts ``connected_branches`` (the main piece's branches at the end,
    significant branchings), ``lasting_branches`` (the same with every branching
    lasting ``min_branch_snapshots``), ``pieces``, ``detached_splits`` (significant branchings in
    other pieces) and ``pieces_plus_splits`` (the count before issue 19), ``stability_grid``
    ``[g, 2]`` (cubes, overlap) with ``stability_counts`` (lasting connected branches) and
    ``stability_pieces`` ``[g]``, ``projection`` ``[points, 2]`` (PCA); per
    network ``<network>/surface`` (:func:`learning_surface` of the first analysed layer at
    ``surface_snapshots``).
    """
    source = store.open_array_store(trajectories)
    layers, networks = source.attrs["layers"], source.attrs["networks"]
    epochs = read_epochs(trajectories)
    spacing = float(np.median(np.diff(epochs))) if len(epochs) > 1 else 1.0
    settings = dict(
        norm_lens=norm_lens, pca_lens=pca_lens, bootstrap=bootstrap, min_support=min_support, stability=stability,
        min_branch_steps=min_branch_snapshots * spacing, seed=seed,
    )
    pages.require_assets()  # fail before the work, not after it
    items = [(n, layer) for n in range(len(networks)) for layer in layers]

    def compute(item):
        n, layer = item
        with store.checked(trajectories):
            weights = np.asarray(source[f"weights/{layer}"][n])
        points, epoch = layer_cloud(weights, epochs)
        return item, item_learning_graphs(points, epoch, **settings)

    arrays = {}
    written = {}
    with dask_client(threads=threads, **(dask_cluster or {})) as client:
        from dask.distributed import as_completed

        for future in as_completed(client.map(compute, items, pure=False)):
            (n, layer), result = future.result()
            key = f"{n}/{layer}"
            arrays.update(_item_arrays(key, result))
            written[key] = (result["kepler"], result["pca_kepler"])
    surface = np.unique(np.linspace(0, len(epochs) - 1, surface_steps).round().astype(int))
    arrays["surface_snapshots"] = surface
    for n in range(len(networks)):
        with store.checked(trajectories):
            arrays[f"{n}/surface"] = learning_surface(np.asarray(source[f"weights/{layers[0]}"][n]), surface, seed)
    _write_pages(pages_dir, written, items, epochs, source, run, networks)
    attrs = {"layers": layers, "networks": networks, "run": run, "epoch_spacing": spacing, **settings}
    return store.write_array_store(graphs, arrays, attrs)


# ---------------------------------------------------------------------------------- tables
def largest_accuracy_jumps(epochs: np.ndarray, accuracy: np.ndarray, count: int) -> list[tuple[float, float]]:
    """The ``count`` largest increases of accuracy between consecutive snapshots, as (epoch at
    which the new accuracy is recorded, increase), in time order."""
    increases = np.diff(np.asarray(accuracy, dtype=np.float64))
    order = np.argsort(-increases, kind="stable")[:count]
    return sorted((float(epochs[i + 1]), float(increases[i])) for i in order if increases[i] > 0)


def tabulate_learning_graphs(
    trajectories: Sequence[str],
    graphs: Sequence[str],
    branchings: str,
    branch_counts: str,
    *,
    accuracy_jumps: int,
) -> dict[str, pd.DataFrame]:
    """One row per branching (its split epoch, tip, significance, whether it lies in the main
    piece, nearest accuracy jump and lag) and one row per (run, network, layer): the branches at
    the end of the graph's main piece, the longest-lived (``connected_branches``, significant branchings; ``lasting_branches``, every
    branching lasting ``min_branch_snapshots``), the graph's ``pieces``, whether the main piece
    holds the start (``main_holds_start``), the significant
    branchings inside the other pieces (``detached_splits``) apart, the count before issue 19
    (``pieces_plus_splits``), the stability grid's modal lasting count, the fraction of settings
    giving it and its range, the pieces' range over the grid, the accuracy jumps.

    Times are in epochs, the same quantity for every network whatever its batch size;
    ``split_step`` is also given in the network's own optimizer steps (epoch x its steps per
    epoch).
    """
    rows, counts = [], []
    for trajectory, graph in zip(trajectories, graphs):
        root = store.open_array_store(graph)
        run = root.attrs["run"]
        epochs = read_epochs(trajectory)
        per_epoch = store.read_array(trajectory, "steps_per_epoch")
        accuracy = store.read_array(trajectory, "test_accuracy")
        for n, network in enumerate(root.attrs["networks"]):
            jumps = largest_accuracy_jumps(epochs, accuracy[n], accuracy_jumps)
            jump_epochs = np.array([e for e, _ in jumps])
            for layer in root.attrs["layers"]:
                key = f"{n}/{layer}"
                splits = store.read_array(graph, f"{key}/splits")
                significant = store.read_array(graph, f"{key}/significant")
                support = store.read_array(graph, f"{key}/support")
                spread = store.read_array(graph, f"{key}/split_spread")
                piece = store.read_array(graph, f"{key}/split_piece")
                main_piece = int(store.read_array(graph, f"{key}/main_piece"))
                grid_counts = store.read_array(graph, f"{key}/stability_counts")
                grid_pieces = store.read_array(graph, f"{key}/stability_pieces")
                values, frequency = np.unique(grid_counts, return_counts=True)
                counts.append({
                    "run": run, "network": network, "layer": layer,
                    **{count: int(store.read_array(graph, f"{key}/{count}")) for count in COUNTS[:2]},
                    "pieces": int(store.read_array(graph, f"{key}/pieces")),
                    "main_holds_start": main_piece == int(store.read_array(graph, f"{key}/start_piece")),
                    **{count: int(store.read_array(graph, f"{key}/{count}")) for count in COUNTS[2:]},
                    "significant_splits": int(significant.sum()), "splits": len(splits),
                    "modal_count": int(values[np.argmax(frequency)]), "modal_fraction": float(frequency.max() / frequency.sum()),
                    "grid_min": int(grid_counts.min()), "grid_max": int(grid_counts.max()),
                    "grid_pieces_min": int(grid_pieces.min()), "grid_pieces_max": int(grid_pieces.max()),
                    "final_test_accuracy": float(accuracy[n, -1]),
                    "accuracy_jumps": "; ".join(f"epoch {e:.3g} (+{d:.2f})" for e, d in jumps),
                })
                for (split, tip), sig, sup, sd, where in zip(splits, significant, support, spread, piece):
                    nearest = float(jump_epochs[np.argmin(np.abs(jump_epochs - split))]) if len(jump_epochs) else np.nan
                    rows.append({
                        "run": run, "network": network, "layer": layer, "split_epoch": float(split), "tip_epoch": float(tip),
                        "split_epoch_sd": float(sd), "support": float(sup), "significant": bool(sig),
                        "in_main_piece": bool(where == main_piece), "nearest_jump_epoch": nearest,
                        "lag_epochs": float(split - nearest), "split_step": float(split * per_epoch[n]),
                    })
    columns = [
        "run", "network", "layer", "split_epoch", "tip_epoch", "split_epoch_sd", "support", "significant", "in_main_piece",
        "nearest_jump_epoch", "lag_epochs", "split_step",
    ]
    branch_table = pd.DataFrame(rows, columns=columns)
    count_table = pd.DataFrame(counts)
    write_result_table(branch_table, branchings)
    write_result_table(count_table, branch_counts)
    return {"branchings": branch_table, "branch_counts": count_table}


# ---------------------------------------------------------------------------------- claims
def _count_item(graph: str, network: int, layer: str) -> claims_module.CountItem:
    key = f"{network}/{layer}"
    read = {name: store.read_array(graph, f"{key}/{name}") for name in (*COUNTS, "pieces", "stability_counts", "stability_grid")}
    return claims_module.CountItem(
        lasting=int(read["lasting_branches"]), connected=int(read["connected_branches"]), pieces=int(read["pieces"]),
        detached=int(read["detached_splits"]), previous=int(read["pieces_plus_splits"]),
        grid=np.asarray(read["stability_counts"]), grid_settings=np.asarray(read["stability_grid"]),
        main_holds_start=bool(store.read_array(graph, f"{key}/main_piece") == store.read_array(graph, f"{key}/start_piece")),
    )


def tabulate_learning_graphs_claims(
    trajectories: Sequence[str],
    graphs: Sequence[str],
    claims: str,
    *,
    claims_runs: Mapping,
    seed: int,
) -> pd.DataFrame:
    """The paper's headline claims beside this run's evidence (:mod:`.claims`):
    ``tables/claims.{csv,md,html}``.

    The branch counts are read on network 0 of the runs ``claims_runs`` names (``zero_init``,
    ``tiny_init``); the coincidence of branchings with accuracy jumps on the output layer of every
    network of every run. A claim whose run or layer is not analysed is "not testable at this
    scale" and says why.
    """
    from ...claims import write_claims_table

    runs = {}
    for trajectory, graph in zip(trajectories, graphs):
        runs[store.open_array_store(graph).attrs["run"]] = (trajectory, graph)
    found, scales, coincidences = {}, {}, []
    for run, (trajectory, graph) in runs.items():
        attrs = store.open_array_store(graph).attrs
        epochs = read_epochs(trajectory)
        data = store.open_array_store(trajectory).attrs
        shape = " x ".join(str(d) for d in data["input_shape"][-2:])
        scales[run] = (
            f"Run {run!r}: {len(epochs)} recorded steps over {epochs[-1]:g} epochs, {data['n_train']} training images of "
            f"{shape} (the paper: MNIST, 60,000 of 28 x 28, 50-70 epochs, ~200 recorded steps)."
        )
        accuracy = store.read_array(trajectory, "test_accuracy")
        window = claims_module.COINCIDENCE_SNAPSHOTS * float(attrs["epoch_spacing"])
        if "output" in attrs["layers"]:
            for n in range(len(attrs["networks"])):
                splits = store.read_array(graph, f"{n}/output/splits")
                significant = store.read_array(graph, f"{n}/output/significant").astype(bool)
                coincidences.append(claims_module.network_coincidence(splits[significant, 0], epochs, accuracy[n], window))
        for layer in attrs["layers"]:
            found[(run, layer)] = _count_item(graph, 0, layer)
    rows = []
    for claim_id, (role, layer) in {
        "zero-output-branches": ("zero_init", "output"), "zero-hidden-branches": ("zero_init", "hidden1"),
        "tiny-output-branches": ("tiny_init", "output"),
    }.items():
        run = claims_runs.get(role)
        claim, paper = claims_module.PAPER_TEXT[claim_id]
        item = found.get((run, layer))
        missing = (
            f"No run {role} here (learning_graphs.claims_runs.{role}: {run!r})" if run not in runs
            else f"Run {run!r} does not analyse layer {layer}"
        )
        rows.append(claims_module.count_claim(claim_id, claim, paper, item, missing=missing, scale=scales.get(run, "")))
    rows.append(claims_module.coincidence_claim(
        coincidences, seed=seed, scale=f"The networks of runs {', '.join(runs)} pooled.",
    ))
    write_claims_table(rows, claims)
    from ...claims import claims_frame

    return claims_frame(rows)
