"""Steps of the activation-landscapes study (paper 004). Each opens its inputs, maps a kernel over
the items, and writes its outputs. Path arguments are the named inputs and outputs of the rule of
the same name; keyword-only settings are keys of ``config/schema/activation_landscapes.yaml``.

A sample is one network with one input batch (one draw of the batch; a network has one sample per
draw). An item is one (sample, threshold, layer): the activations of the sample's batch in that
layer of that network at the first step its training accuracy reached that threshold. Layer 0 is
the input itself; the last is the output logits.
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import partial
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ... import store, zoo
from ...kernels import activations as activation_kernels
from ...kernels import landscapes as landscape_kernels
from ...kernels import persistence as ph
from ...parallel import dask_client
from ...tables import write_result_table

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- activations
def input_batch(spec: Mapping, data, batch: Mapping, draw: int = 0):
    """The input batch ``(x, labels)`` of an experiment (see the schema's ``batch``): a coarser
    lattice of the sweep's lattice data set, or the seeded random draw ``draw`` (seed + draw) from
    its training and test sets together; optionally one class only."""
    import torch

    from ...data import lattice_dataset

    if batch["lattice_fraction"] is not None:
        n_points = len(data.x_train) + len(data.x_test)
        x, labels = lattice_dataset(spec["dataset"], int(round(batch["lattice_fraction"] * n_points)))
        if batch["label"] is not None:
            keep = labels == batch["label"]
            x, labels = x[keep], labels[keep]
        return torch.as_tensor(x, dtype=torch.float32), np.asarray(labels)
    # indexed in the training and test sets apart: their concatenation would be a second copy of
    # the data set (220 MB for MNIST); the points and their order are the concatenation's
    n_train = len(data.x_train)
    labels = np.concatenate([data.y_train.numpy(), data.y_test.numpy()])
    candidates = np.arange(len(labels)) if batch["label"] is None else np.flatnonzero(labels == batch["label"])
    if batch["size"] > len(candidates):
        raise ValueError(f"batch.size {batch['size']} exceeds the {len(candidates)} points of {spec['dataset']!r}")
    chosen = candidates[np.sort(np.random.default_rng(batch["seed"] + draw).choice(len(candidates), size=batch["size"], replace=False))]
    train, test = chosen[chosen < n_train], chosen[chosen >= n_train] - n_train
    x = torch.cat([data.x_train[torch.as_tensor(train)], data.x_test[torch.as_tensor(test)]])
    return x, labels[chosen]


def _sample_names(populations: Sequence[Mapping], draws: int) -> tuple[list[str], list[str]]:
    """The samples (``<sweep>/<network>``, with ``/draw<k>`` when there are several draws), networks
    then draws, and the sweeps, in the populations' order."""
    samples, sweeps = [], []
    for population in populations:
        if population["sweep"] not in sweeps:
            sweeps.append(population["sweep"])
        for m in population["members"]:
            name = f"{population['sweep']}/{m['network']}"
            samples += [f"{name}/draw{d}" for d in range(draws)] if draws > 1 else [name]
    return samples, sweeps


def _extraction_fingerprint(populations: Sequence[Mapping], batch: Mapping, layers: Sequence[str]) -> str:
    """What a partial activations store must have been extracted from to be resumed: the
    populations (by spec hash), the batch settings and the layers."""
    identity = {"stores": [p["sweep"] + "/" + store.spec_hash(p) for p in populations], "batch": dict(batch), "layers": layers}
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def _create_activation_arrays(
    root, *, inputs_shape: tuple, shape: tuple[int, int], n_points: int, widths: Sequence[int], layers: int
) -> None:
    """The empty arrays of an activations store (``shape``: samples, thresholds; ``widths``: the
    features of each of the ``layers`` layers, the input first), chunked one (sample, threshold)
    slab each."""
    store.create_item_array(root, "inputs", inputs_shape, (1, *inputs_shape[1:]), "float32", np.nan)
    group = root.require_group("layers")
    for i in range(1, layers):
        store.create_item_array(group, str(i), (*shape, n_points, widths[i]), (1, 1, n_points, widths[i]), "float32", np.nan)
    store.create_item_array(root, "threshold_step", shape, shape, "int64", -1)
    store.create_item_array(root, "threshold_accuracy", shape, shape, "float32", np.nan)
    store.create_item_array(root, "done", (shape[0],), (shape[0],), "bool", False)


def _write_network_activations(root, base, saved: Mapping, m: int, first_row: int, batches, layers: Sequence[str], precision) -> None:
    """Member ``m``'s activations of every layer past the input on every draw of the batch, at
    every threshold it reached (``saved``: :func:`store.read_thresholds`), written to the rows of
    its samples from ``first_row``."""
    import torch

    from ...train import population_activations

    n_points = len(batches[0][0])
    reached = np.flatnonzero(saved["step"][m] >= 0)
    # this network's thresholds form the population of one vectorized forward pass
    params = {k: torch.as_tensor(v[m, reached]) for k, v in saved["params"].items()}
    buffers = {k: torch.as_tensor(v[m, reached]) for k, v in saved["buffers"].items()}
    for d, (x, _) in enumerate(batches if len(reached) else []):
        values = population_activations(base, params, buffers, x, layers[1:], precision=precision)
        for i, name in enumerate(layers[1:], start=1):
            slab = values[name].reshape(len(reached), n_points, -1).numpy()
            for j, t in enumerate(reached):
                root[f"layers/{i}"][first_row + d, t] = slab[j]
        del values, slab


def extract_layer_activations(
    stores: Sequence[str],
    activations: str,
    *,
    batch: Mapping,
    data_root: str = "data",
    threads: int = 1,
) -> Path:
    """Every layer's activations of each input batch, for every network at every threshold.

    Streamed: one network's activations on one draw of the batch, at every threshold it reached,
    are computed and written before the next network's, so memory holds about one such slab and
    the input batches (:func:`~pipeline.studies.activation_landscapes.extraction_memory` sizes the
    rule from it). Resumable: a killed run leaves ``<activations>.partial``, and the next run with
    the same stores and batch extracts only the networks it lacks.

    Writes ``inputs`` ``[draw, point, features]`` (layer 0, the batch as the networks see it,
    stored once per draw: it is the same for every network and threshold), ``layers/<i>``
    ``[sample, threshold, point, features]`` for the layers ``i >= 1`` (NaN where the network never
    reached the threshold; samples run over networks, then draws), ``threshold_step`` and
    ``threshold_accuracy`` ``[sample, threshold]``, ``labels`` ``[draw, point]``, ``draw``
    ``[sample]`` (the draw of each sample's batch: its layer 0 is ``inputs[draw]``), ``done``
    ``[sample]``; attrs: layer names, whether each ends with a ReLU, thresholds, samples (named
    ``<sweep>/<network>``, with ``/draw<k>`` when there are several draws).
    """
    import torch

    from ...models import build_model

    torch.set_num_threads(threads)
    spec = store.open_population(stores[0]).attrs["spec"]
    data = zoo.load_spec_dataset(spec, data_root)
    draws = batch.get("draws", 1)
    batches = [input_batch(spec, data, batch, draw) for draw in range(draws)]
    model = build_model(spec["architecture"], data.input_shape, data.num_outputs)
    input_shape = data.input_shape
    del data  # the whole data set (220 MB for MNIST) is not needed past the batches
    n_points = len(batches[0][0])
    thresholds = list(spec["training"]["snapshot_thresholds"])
    layers = ["input", *model.layer_names]
    relu = [False] + [spec["architecture"]["activation"] == "relu"] * (len(layers) - 2) + [False]
    widths = [int(np.prod(shape)) for shape in _layer_shapes(model, input_shape)]
    # layer 0 as every member sees it (flattened for an MLP), as population_activations gives it
    inputs = np.stack([(x.flatten(1) if model.flattens_input else x).numpy() for x, _ in batches]).astype(np.float32)
    base = model.to("meta")
    populations = [store.open_population(path).attrs["spec"] for path in stores]
    samples, sweeps = _sample_names(populations, draws)
    shape = (len(samples), len(thresholds))
    fingerprint = _extraction_fingerprint(populations, batch, layers)

    create = partial(
        _create_activation_arrays, inputs_shape=inputs.shape, shape=shape, n_points=n_points, widths=widths, layers=len(layers)
    )
    root, resumed = store.open_resumable(activations, fingerprint, create)
    done = root["done"][...]
    root["inputs"][...] = inputs
    first = 0  # the sample index of the population's first network's first draw
    for path, population in zip(stores, populations):
        members = len(population["members"])
        if done[first : first + members * draws].all():
            first += members * draws
            continue
        saved = store.read_thresholds(path)
        precision = zoo.spec_precision(population)
        block = slice(first, first + members * draws)
        root["threshold_step"][block] = np.repeat(saved["step"], draws, axis=0)
        root["threshold_accuracy"][block] = np.repeat(saved["accuracy"], draws, axis=0)
        for m in range(members):
            rows = slice(first + m * draws, first + (m + 1) * draws)
            if done[rows].all():
                continue
            _write_network_activations(root, base, saved, m, rows.start, batches, layers, precision)
            root["done"][rows] = True
        first += members * draws
    labels = np.stack([y for _, y in batches])
    for name, value in (("labels", labels), ("draw", np.tile(np.arange(draws), len(samples) // draws))):
        store.create_item_array(root, name, value.shape, value.shape, str(value.dtype), -1)[...] = value
    log.info("activations of %d samples x %d thresholds (%s)", len(samples), len(thresholds), "resumed" if resumed else "fresh")
    attrs = {"layers": layers, "ends_with_relu": relu, "thresholds": thresholds, "samples": samples, "sweeps": sweeps, "draws": draws}
    return store.publish_resumable(root, activations, attrs)


def _layer_shapes(model, input_shape) -> list[tuple]:
    """The shape of one input's activation in each layer, ``input`` first (from a dry forward pass)."""
    import torch

    with torch.no_grad():
        _, acts = model.eval()(torch.zeros(1, *input_shape), return_activations=True)
    return [tuple(torch.zeros(1, *input_shape).flatten(1).shape[1:])] + [tuple(v.shape[1:]) for v in acts.values()]


# ------------------------------------------------------------------------------ landscapes
def item_landscape(points: np.ndarray, *, local_homology: bool, centre: bool, dimension: int, grid: np.ndarray, functions: int):
    """One item's landscape ``[functions, grid]`` and its diagram's size (the kernels in a row)."""
    if local_homology:
        distances = activation_kernels.local_homology_distances(points, centre)
        diagrams = ph.vietoris_rips_diagrams(distances, dimension, metric="precomputed")
    else:
        diagrams = ph.vietoris_rips_diagrams(activation_kernels.normalize_activations(points), dimension)
    diagram = diagrams[dimension]
    return ph.persistence_landscape(diagram, functions, grid).astype(np.float32), len(ph.finite_part(diagram))


def landscape_grid_of(local_homology: bool, grid_width: float) -> np.ndarray:
    """The landscape grid: [0, 1] for activations of diameter 1; [0, 2] for local homology (the
    unit ball's diameter), at ``grid_width``."""
    return landscape_kernels.landscape_grid(grid_width, 2.0 if local_homology else 1.0)


def compute_layer_landscapes(
    activations: str,
    landscapes: str,
    *,
    local_homology: bool,
    grid_width: float,
    homology_dimension: int,
    landscape_functions: int,
    dask_cluster: Mapping | None = None,
    threads: int = 1,
) -> Path:
    """The persistence landscape of every (sample, threshold, layer), one Dask task per distinct item.

    The input layer's items of one draw are one item (``inputs[draw]``): computed once per draw,
    then written for every sample of that draw at every threshold it reached.

    Results go into ``<landscapes>.partial`` as they arrive; a killed run leaves them there and
    the next run (same activations and settings) computes only the missing items.
    Writes ``landscapes`` ``[network, threshold, layer, function, grid]`` (NaN for thresholds
    never reached), ``diagram_points`` ``[network, threshold, layer]`` (finite pairs; -1 none),
    ``done``; attrs: the grid.
    """
    source = store.open_array_store(activations)
    if "inputs" not in source:
        raise store.StoreError(f"{activations} stores the input layer per network (an older layout): extract it again")
    layers, thresholds, samples = source.attrs["layers"], source.attrs["thresholds"], source.attrs["samples"]
    relu = source.attrs["ends_with_relu"]
    grid = landscape_grid_of(local_homology, grid_width)
    shape = (len(samples), len(thresholds), len(layers))
    reached = store.read_array(activations, "threshold_step") >= 0
    settings = {
        "local_homology": local_homology, "grid_width": grid_width, "dimension": homology_dimension, "functions": landscape_functions,
    }
    identity = json.dumps({"activations": dict(source.attrs), **settings}, sort_keys=True, default=str)
    fingerprint = hashlib.sha256(identity.encode()).hexdigest()

    def create(root):
        one = (landscape_functions, len(grid))
        store.create_item_array(root, "landscapes", (*shape, *one), (1, 1, 1, *one), "float32", np.nan)
        store.create_item_array(root, "diagram_points", shape, (1, 1, len(layers)), "int64", -1)
        store.create_item_array(root, "done", shape, (1, 1, len(layers)), "bool", False)

    root, resumed = store.open_resumable(landscapes, fingerprint, create)
    done = root["done"][...]
    # Items with the same activations share one computation: the input layer is the batch itself
    # for every (sample, threshold) of one draw, and thresholds a network reached at the same step
    # (several at step 0 on imbalanced data) hold the same weights.
    steps_reached = store.read_array(activations, "threshold_step")
    draw = store.read_array(activations, "draw")
    groups: dict[tuple, list] = {}
    for n in range(shape[0]):
        for t in range(shape[1]):
            for layer in range(shape[2]):
                if reached[n, t] and not done[n, t, layer]:
                    key = ("input", int(draw[n])) if layer == 0 else (n, int(steps_reached[n, t]), layer)
                    groups.setdefault(key, []).append((n, t, layer))
    log.info(
        "%d items to compute, %d distinct (%d done before: %s)",
        sum(map(len, groups.values())), len(groups), int(done.sum()), "resumed" if resumed else "fresh",
    )
    kwargs = dict(local_homology=local_homology, dimension=homology_dimension, grid=grid, functions=landscape_functions)

    def run(group):
        n, t, layer = group[0]
        with store.checked(activations):
            values = source["inputs"][int(draw[n])] if layer == 0 else source[f"layers/{layer}"][n, t]
        points = np.asarray(values, dtype=np.float64)
        return group, *item_landscape(points, centre=not relu[layer], **kwargs)

    with dask_client(threads=threads, **(dask_cluster or {})) as client:
        from dask.distributed import as_completed

        for future in as_completed(client.map(run, list(groups.values()), pure=False)):
            group, landscape, points = future.result()
            for n, t, layer in group:
                root["landscapes"][n, t, layer] = landscape
                root["diagram_points"][n, t, layer] = points
                root["done"][n, t, layer] = True
    attrs = {"grid": grid.tolist(), "layers": layers, "thresholds": thresholds, "samples": samples, **settings}
    return store.publish_resumable(root, landscapes, attrs)


# --------------------------------------------------------------------------------- summary
def summarize_activation_landscapes(
    landscapes: str,
    summary: str,
    pvalues: str,
    complexity: str,
    *,
    shown_thresholds: Sequence[float],
    permutations: int,
    permutation_seed: int,
) -> dict[str, pd.DataFrame]:
    """Average landscapes per (threshold, layer), norms (topological complexity), a PCA of the
    average landscapes (the activation-landscape curves), and permutation tests between the shown
    thresholds (Table I) on the distance between average landscapes in the product space. The
    summary also keeps each shown threshold's group size (``group_sizes``) and the samples' names,
    which the claims table reads."""
    from sklearn.decomposition import PCA

    root = store.open_array_store(landscapes)
    values = store.read_array(landscapes, "landscapes").astype(np.float64)  # [N, T, L, k, g]
    width = float(root.attrs["grid_width"])
    thresholds, layers = list(root.attrs["thresholds"]), list(root.attrs["layers"])
    reached = ~np.isnan(values[..., 0, 0])  # [N, T, L]
    average = np.nanmean(np.where(reached[..., None, None], values, np.nan), axis=0)  # [T, L, k, g]
    norms = np.sqrt(np.nansum(values**2, axis=(3, 4)) * width)
    norms[~reached] = np.nan
    average_norms = np.sqrt(np.nansum(average**2, axis=(2, 3)) * width)
    average_norms[~reached.any(axis=0)] = np.nan  # no network reached the threshold
    flat = np.nan_to_num(average.reshape(len(thresholds) * len(layers), -1))
    curves = PCA(n_components=2).fit_transform(flat).reshape(len(thresholds), len(layers), 2)
    shown = list(shown_thresholds) or thresholds
    table = pd.DataFrame(index=[f"{t:g}" for t in shown], columns=[f"{t:g}" for t in shown], dtype=object)
    matrix = np.full((len(shown), len(shown)), np.nan)
    # each shown threshold's group: the samples with every layer at it (the claims' p-value floor)
    group_sizes = np.array([int(reached[:, thresholds.index(t)].all(axis=1).sum()) for t in shown], dtype=np.int64)
    for i, a in enumerate(shown):
        for j, b in enumerate(shown):
            if j <= i:
                continue
            ta, tb = thresholds.index(a), thresholds.index(b)
            group_a = values[reached[:, ta].all(axis=1), ta]  # samples with every layer at a
            group_b = values[reached[:, tb].all(axis=1), tb]
            if len(group_a) < 2 or len(group_b) < 2:
                continue
            gram = landscape_kernels.inner_products(np.concatenate([group_a, group_b]), width)
            _, matrix[i, j] = landscape_kernels.permutation_test(gram, len(group_a), permutations, permutation_seed)
    for i in range(len(shown)):
        for j in range(len(shown)):
            table.iloc[i, j] = f"{matrix[i, j]:.5f}" if np.isfinite(matrix[i, j]) else "·"
    pvalue_table = table.reset_index(names="threshold")
    rows = []
    for t, threshold in enumerate(thresholds):
        for layer, name in enumerate(layers):
            reaching = norms[:, t, layer][np.isfinite(norms[:, t, layer])]
            rows.append({
                "threshold": threshold, "layer": layer, "layer_name": name, "samples": len(reaching),
                "norm_of_average": average_norms[t, layer],
                "mean_norm": reaching.mean() if len(reaching) else np.nan,
                "std_norm": reaching.std(ddof=1) if len(reaching) > 1 else np.nan,
            })
    complexity_table = pd.DataFrame(rows)
    store.write_array_store(
        summary,
        {"average": average, "norms": norms, "average_norms": average_norms, "curves": curves, "pvalues": matrix,
         "group_sizes": group_sizes},
        {"thresholds": thresholds, "layers": layers, "shown_thresholds": shown, "grid": root.attrs["grid"], "grid_width": width,
         "permutations": permutations, "samples": list(root.attrs["samples"]),
         "local_homology": bool(root.attrs["local_homology"])},
    )
    write_result_table(pvalue_table, pvalues)
    write_result_table(complexity_table, complexity)
    return {"pvalues": pvalue_table, "complexity": complexity_table}


# ------------------------------------------------------------------------------------ claims
def tabulate_activation_landscapes_claims(summaries: Sequence[str], claims: str, *, claims_seed: int) -> pd.DataFrame:
    """The paper's claims beside every experiment's evidence (:mod:`.claims`): Table I's pairs all
    differ, complexity is not monotone in depth, complexity rises with training; one row each per
    experiment, into ``tables/claims.{csv,md,html}``. ``summaries``: the experiments' summary
    stores (``<experiment>/summary.zarr``); each experiment's bootstraps are seeded from
    ``claims_seed`` and the experiment's position."""
    from ...claims import claims_frame, write_claims_table
    from . import claims as study_claims

    rows = []
    for position, path in enumerate(summaries):
        root = store.open_array_store(path)
        missing = [k for k in ("group_sizes",) if k not in root] + [k for k in ("samples", "local_homology") if k not in root.attrs]
        if missing:
            raise store.StoreError(f"{path} lacks {missing} (an older summary): summarize the experiment again")
        summary = {
            **{k: root.attrs[k] for k in ("thresholds", "shown_thresholds", "layers", "samples", "permutations", "local_homology")},
            **{k: store.read_array(path, k) for k in ("norms", "pvalues", "group_sizes")},
        }
        experiment = Path(path).parent.name
        rows += study_claims.experiment_claims(experiment, summary, seed=claims_seed + 10 * position)
    write_claims_table(rows, claims)
    return claims_frame(rows)
