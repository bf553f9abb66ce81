"""Steps of the network-manifold study (Abel et al., paper 003): each opens its inputs, maps a
kernel of :mod:`pipeline.kernels` over the networks, and writes its outputs.

Every step's path arguments are the named inputs and outputs of the Snakemake rule of the same
name; its keyword-only settings are keys of ``config/schema/network_manifold.yaml`` (whose
defaults apply: the steps restate none).

Choices the paper leaves open (see docs/studies/network_manifold.md):
- representations are taken at the final weights, in eval mode, on the registered evaluation
  subset (stratified, seeded) of the test set;
- the "weights" manifold concatenates every layer's weight matrix (the paper shows one layer at
  a time; per-layer distances are stored too);
- class separation = mean pairwise distance between class centroids; within-class variance =
  mean over classes of the average distance of a class's points to its centroid;
- the hyperparameter suggestion: see :func:`suggest_from_top`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Sequence

import dask
import dask.array as da
import numpy as np
import pandas as pd

from ... import store, zoo
from ...kernels import clustering, diffusion, embedding, graphs
from ...kernels import distances as distance_kernels
from ...kernels import persistence as ph
from ...parallel import dask_client
from ...tables import write_result_table
from .claims import LOG_SCALED

log = logging.getLogger(__name__)

MATRIX_KINDS = ("diffusion", "distance", "knn")
MANIFOLD_KINDS = MATRIX_KINDS + ("weights",)
HIDDEN_LAYER_NETWORKS = 4  # best and worst networks whose hidden layer is embedded (Fig. 2)


# ------------------------------------------------------------------------- representations
READ_BATCH_BYTES = 256e6  # weights of the networks whose activations are computed together


def _check_member_order(stores: Sequence[str], table: pd.DataFrame) -> None:
    """The metrics table's rows (sorted by member) must be the stores' members, in store order."""
    stored = [m["member"] for path in stores for m in store.open_population(path).attrs["spec"]["members"]]
    listed = table["member"].tolist()
    if stored != listed:
        raise ValueError(
            f"the metrics table lists members {listed[:10]}... ({len(listed)}) but the population stores hold "
            f"{stored[:10]}... ({len(stored)}) in that order: the table and the stores are not of the same sweep run"
        )


def extract_representations(
    stores: Sequence[str],
    metrics: str,
    representations: str,
    *,
    layer: str,
    n_points: int,
    eval_seed: int,
    data_root: str = "data",
    threads: int = 1,
) -> Path:
    """Hidden activations of every network of a sweep on the registered evaluation points.

    Writes ``activations`` [network, point, feature], ``labels`` and ``eval_indices`` [point],
    ``test_accuracy`` [network], ``weights/<layer>`` [network, features] (flattened final weight
    matrices) and the networks' hyperparameters (attrs).
    """
    import torch

    from ...data import evaluation_subset
    from ...models import build_model
    from ...train import population_activations

    torch.set_num_threads(threads)
    table = store.read_table(metrics).sort_values("member").reset_index(drop=True)
    _check_member_order(stores, table)
    spec = store.open_population(stores[0]).attrs["spec"]
    data = zoo.load_spec_dataset(spec, data_root)
    if data.task != "classification":
        raise ValueError(f"network_manifold needs a classification sweep; {spec['sweep']!r} is {data.task}")
    indices = evaluation_subset(data, n_points, eval_seed)
    x = data.x_test[indices]
    base = build_model(spec["architecture"], data.input_shape, data.num_outputs)
    name = base.penultimate if layer == "penultimate" else layer
    if name not in base.layer_names:
        raise ValueError(f"network_manifold.layer {layer!r} is not a layer of {spec['architecture']['name']}: {base.layer_names}")
    base = base.to("meta")
    activations = []
    for path in stores:
        root = store.open_population(path)
        stored, precision = root["final"]["params"], zoo.spec_precision(root.attrs["spec"])
        members = stored[base.weight_names[0]].shape[0]
        per_member = sum(int(np.prod(a.shape[1:])) * a.dtype.itemsize for _, a in stored.arrays())
        # a batch of networks at a time (~256 MB of weights), whatever the population size
        batch = max(1, int(READ_BATCH_BYTES // per_member))
        for start in range(0, members, batch):
            params, buffers = store.read_final_params(path, slice(start, start + batch))
            params = {k: torch.as_tensor(v) for k, v in params.items()}
            buffers = {k: torch.as_tensor(v) for k, v in buffers.items()}
            acts = population_activations(base, params, buffers, x, [name], precision=precision)[name]
            activations.append(acts.reshape(acts.shape[0], acts.shape[1], -1).numpy())
            del params, buffers, acts
    activations = np.concatenate(activations).astype(np.float32)
    weights = {}
    for w in base.weight_names:
        # streamed from the training stores into feature slabs of every network (the layout the
        # distances between networks read), never all networks' weights in memory at once
        flat = da.concatenate([store.final_weights_flat(path, w) for path in stores])
        weights[f"weights/{w}"] = flat.rechunk((1, distance_kernels.feature_chunk(len(activations), flat.shape[1])))
    arrays = {
        "activations": activations,
        "labels": data.y_test[indices].numpy(),
        "eval_indices": indices.numpy(),
        "test_accuracy": table["test_accuracy"].to_numpy(np.float64),
        **weights,
    }
    columns = [c for c in ("member", "network", *zoo.GRID_KEYS, "test_accuracy") if c in table]
    attrs = {
        "sweep": spec["sweep"],
        "layer": name,
        "weight_names": list(base.weight_names),
        "networks": table[columns].to_dict(orient="records"),
    }
    with dask.config.set(scheduler="threads", num_workers=threads):
        return store.write_array_store(representations, arrays, attrs, {"activations": (1, *activations.shape[1:])})


def _networks(representations: str) -> pd.DataFrame:
    return pd.DataFrame(store.open_array_store(representations).attrs["networks"])


# -------------------------------------------------------------------------------- matrices
def _matrices_block(block: np.ndarray, kind: str, sigma: float, bandwidth: str, k: int) -> np.ndarray:
    out = np.empty((block.shape[0], block.shape[1], block.shape[1]), dtype=np.float64)
    for i, points in enumerate(block.astype(np.float64)):
        if kind == "diffusion":
            out[i] = diffusion.diffusion_operator(points, diffusion.kernel_bandwidth(points, sigma, bandwidth))
        elif kind == "distance":
            out[i] = distance_kernels.pairwise_distances(points)
        else:
            out[i] = graphs.knn_adjacency(points, k)
    return out


def matrix_chunks(m: int, n: int) -> tuple[int, int, int]:
    """On-disk chunks of ``m`` per-network ``n x n`` matrices: a slab of rows of one network.

    The distances between networks are then read one row slab of every network at a time
    (:func:`pipeline.kernels.distances.gram_frobenius_distances`), which bounds their memory."""
    return (1, max(1, distance_kernels.feature_chunk(m, n * n) // n), n)


def compute_network_matrices(
    representations: str,
    matrices: str,
    *,
    sigma: float,
    bandwidth: str,
    knn: int,
    dask_cluster: Mapping | None = None,
    threads: int = 1,
) -> Path:
    """Per-network n x n matrices: diffusion operator P, distance matrix D, kNN adjacency.

    The kernel's bandwidth is ``sigma`` or ``sigma`` times each network's median distance
    (``bandwidth``, see :func:`pipeline.kernels.diffusion.kernel_bandwidth`). One Dask task per
    network; the results stream into the store chunk by chunk.
    """
    acts = store.dask_array(representations, "activations").rechunk({0: 1})  # one network per task
    m, n = acts.shape[:2]
    arrays = {
        kind: acts.map_blocks(_matrices_block, kind, sigma, bandwidth, knn, dtype=np.float64, chunks=(1, n, n)).rechunk(
            matrix_chunks(m, n)
        )
        for kind in MATRIX_KINDS
    }
    with dask_client(threads=threads, **(dask_cluster or {})), store.checked(representations):
        # the 0/1 kNN adjacency compresses well; the dense operators and distances do not
        return store.write_array_store(
            matrices, arrays, {"sigma": sigma, "bandwidth": bandwidth, "knn": knn}, uncompressed=("diffusion", "distance")
        )


# ------------------------------------------------------------------------------- distances
def compute_network_distances(
    representations: str,
    matrices: str,
    distances: str,
    *,
    dask_cluster: Mapping | None = None,
    threads: int = 1,
) -> Path:
    """Pairwise Frobenius distances between networks for each matrix kind and for the weights.

    Gram form on Dask arrays read from the stores one feature slab of every network at a time
    (the stores are chunked so, see :func:`matrix_chunks`): memory is bounded by the slab size.
    The ``weights`` distance concatenates every layer: its square is the sum of the per-layer
    squares (``weights_by_layer/<param>``).
    """
    results = {}
    with dask_client(threads=threads, **(dask_cluster or {})):
        for kind in MATRIX_KINDS:
            with store.checked(matrices):
                results[kind] = distance_kernels.gram_frobenius_distances(store.dask_array(matrices, kind, all_items=True))
        per_layer = []
        for name in store.open_array_store(representations).attrs["weight_names"]:
            with store.checked(representations):
                d = distance_kernels.gram_frobenius_distances(
                    store.dask_array(representations, f"weights/{name}", all_items=True)
                )
            results[f"weights_by_layer/{name}"] = d
            per_layer.append(d**2)
        results["weights"] = np.sqrt(np.sum(per_layer, axis=0))
    return store.write_array_store(distances, results, {"kinds": list(MANIFOLD_KINDS)})


# ---------------------------------------------------------------------------------- embedding
def embed_networks(
    representations: str,
    distances: str,
    persistence: str,
    embeddings: str,
    hidden_embeddings: str,
    *,
    phate_knn: int,
    phate_seed: int,
) -> pd.DataFrame:
    """PHATE embeddings: of the networks for each distance kind (and for the Wasserstein distances
    between persistence diagrams, kind ``wasserstein``), one row per (kind, network); and of the
    evaluation points in the hidden layer of the best and the worst networks (Fig. 2), one row
    per (network, point)."""
    networks = _networks(representations)
    frames = []
    sources = {kind: store.read_array(distances, kind) for kind in MANIFOLD_KINDS}
    sources["wasserstein"] = store.read_array(persistence, "wasserstein/total")
    for kind, matrix in sources.items():
        coords = embedding.phate_embedding(np.asarray(matrix), phate_knn, phate_seed)
        frame = networks.copy()
        frame.insert(0, "kind", kind)
        frame["phate1"], frame["phate2"] = coords[:, 0], coords[:, 1]
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    store.write_table(table, embeddings)
    store.write_table(_hidden_layer_embeddings(representations, phate_knn, phate_seed), hidden_embeddings)
    return table


def _hidden_layer_embeddings(representations: str, knn: int, seed: int) -> pd.DataFrame:
    accuracy = store.read_array(representations, "test_accuracy")
    labels = store.read_array(representations, "labels")
    activations = store.open_array_store(representations)["activations"]
    order = np.argsort(-accuracy, kind="stable")
    frames = []
    for group, chosen in (("best", order[:HIDDEN_LAYER_NETWORKS]), ("worst", order[-HIDDEN_LAYER_NETWORKS:])):
        for rank, i in enumerate(chosen):
            with store.checked(representations):
                points = np.asarray(activations[i], dtype=np.float64)
            d = distance_kernels.pairwise_distances(points)
            # a dead network maps every point to the same place: nothing to embed
            coords = np.full((len(d), 2), np.nan) if d.max() < 1e-9 else embedding.phate_embedding(d, knn, seed)
            frames.append(pd.DataFrame({
                "group": group, "rank": rank, "network": int(i), "test_accuracy": float(accuracy[i]),
                "point": np.arange(len(d)), "label": labels, "phate1": coords[:, 0], "phate2": coords[:, 1],
            }))
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------- characterization
def _characterize_one(points, operator, labels, t, n_clusters):
    from sklearn.metrics import adjusted_rand_score

    points = np.asarray(points, dtype=np.float64)
    structure = clustering.class_structure(points, labels)
    linkage = clustering.ward_linkage(points)
    clusters = clustering.flat_clusters(linkage, n_clusters)
    # the operator P stored by compute_network_matrices, its kernel recovered exactly
    kernel = diffusion.kernel_of_operator(np.asarray(operator))
    return {
        "centroid_distance": structure["centroid_distance"],
        "within_class_variance": structure["within_class_variance"],
        "within_class_variance_std": structure["within_class_variance_std"],
        "ari": float(adjusted_rand_score(labels, clusters)),
        "entropy": diffusion.diffusion_spectral_entropy(kernel, t),
        "entropy_t0": diffusion.diffusion_spectral_entropy(kernel, 0.0),
        "dsmi": diffusion.diffusion_spectral_mutual_information(kernel, labels, t),
        "clusters": clusters,
        "linkage": linkage,
        "centroid_matrix": structure["centroid_matrix"],
    }


CHARACTERIZATION_COLUMNS = (
    "centroid_distance", "within_class_variance", "within_class_variance_std", "ari", "entropy", "entropy_t0", "dsmi",
)


def characterize_networks(
    representations: str,
    matrices: str,
    characterization: str,
    characterization_arrays: str,
    *,
    entropy_t: float,
    n_clusters: int,
    dask_cluster: Mapping | None = None,
    threads: int = 1,
) -> pd.DataFrame:
    """Per-network class separation, Ward/ARI, entropy, DSMI (table); pairwise ARI, Ward
    clusters and linkages, class-centroid matrices (store). The entropies use the diffusion
    operators of ``matrices`` (their bandwidth: ``network_manifold.sigma``/``bandwidth``)."""
    from sklearn.metrics import adjusted_rand_score

    labels = store.read_array(representations, "labels")
    networks = _networks(representations)
    acts = store.open_array_store(representations)["activations"]
    operators = store.open_array_store(matrices)["diffusion"]
    with dask_client(threads=threads, **(dask_cluster or {})) as client:
        futures = client.map(
            lambda i: _characterize_one(acts[i], operators[i], labels, entropy_t, n_clusters), range(len(networks))
        )
        with store.checked(representations), store.checked(matrices):
            results = client.gather(futures)
    table = networks.copy()
    for key in CHARACTERIZATION_COLUMNS:
        table[key] = [r[key] for r in results]
    clusters = np.stack([r["clusters"] for r in results])
    m = len(networks)
    pairwise = np.eye(m)
    for i in range(m):
        for j in range(i + 1, m):
            pairwise[i, j] = pairwise[j, i] = adjusted_rand_score(clusters[i], clusters[j])
    store.write_table(table, characterization)
    operator_attrs = store.open_array_store(matrices).attrs
    store.write_array_store(
        characterization_arrays,
        {
            "pairwise_ari": pairwise,
            "clusters": clusters,
            "linkage": np.stack([r["linkage"] for r in results]),
            "centroid_matrices": np.stack([r["centroid_matrix"] for r in results]),
        },
        {"entropy_t": entropy_t, "sigma": operator_attrs["sigma"], "bandwidth": operator_attrs["bandwidth"]},
    )
    return table


def compute_persistence(
    representations: str,
    persistence: str,
    *,
    homology_max_dim: int,
    wasserstein_order: float,
    dask_cluster: Mapping | None = None,
    threads: int = 1,
) -> Path:
    """Vietoris-Rips persistence (H0..max_dim) of every representation and pairwise Wasserstein
    distances per dimension (and their sum), computed as Dask tasks."""
    acts = store.open_array_store(representations)["activations"]
    m = acts.shape[0]
    dims = range(homology_max_dim + 1)
    with dask_client(threads=threads, **(dask_cluster or {})) as client:
        futures = client.map(lambda i: ph.vietoris_rips_diagrams(acts[i].astype(np.float64), homology_max_dim), range(m))
        with store.checked(representations):
            diagrams = client.gather(futures)
        arrays = {
            f"wasserstein/H{d}": ph.wasserstein_distance_matrix([dg[d] for dg in diagrams], wasserstein_order, client=client)
            for d in dims
        }
    arrays["wasserstein/total"] = np.sum(list(arrays.values()), axis=0)
    # Diagrams are ragged: one [point, 4] table of (network, dimension, birth, death).
    rows = [np.column_stack([np.full(len(dg[d]), i), np.full(len(dg[d]), d), dg[d]]) for i, dg in enumerate(diagrams) for d in dims]
    arrays["diagrams"] = np.concatenate(rows).astype(np.float64)
    arrays["total_persistence"] = np.array([[ph.total_persistence(dg[d]) for d in dims] for dg in diagrams])
    return store.write_array_store(persistence, arrays, {"max_dim": homology_max_dim, "order": wasserstein_order})


# ---------------------------------------------------------------------------------- tables
def _r2(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(x[ok], y[ok])[0, 1] ** 2)


def table1_rows(sweep: str, embeddings: pd.DataFrame, top: Sequence[int]) -> list[dict]:
    """Table 1 of one sweep: per kind, the normalized mean pairwise PHATE distance of the top-N."""
    rows = []
    for kind, frame in embeddings.groupby("kind", sort=False):
        row = {"sweep": sweep, "kind": kind}
        coords, accuracy = frame[["phate1", "phate2"]].to_numpy(), frame["test_accuracy"].to_numpy()
        for n in top:
            row[f"top{n}"] = distance_kernels.normalized_top_distance(coords, accuracy, n) if n < len(frame) else float("nan")
        rows.append(row)
    return rows


def characterization_r2_row(sweep: str, features: pd.DataFrame) -> dict:
    """r^2 of test accuracy against each characterization of one sweep."""
    keys = ("centroid_distance", "within_class_variance", "ari", "entropy", "dsmi")
    return {"sweep": sweep, **{key: _r2(features["test_accuracy"], features[key]) for key in keys}}


def gft_row(sweep: str, features: pd.DataFrame, diffusion_distances: np.ndarray, gft_knn: int) -> dict:
    """Graph Fourier smoothness of accuracy and each hyperparameter over one sweep's networks,
    on the adaptive affinity of their diffusion-operator distances (log10 for lr and weight decay,
    see :func:`pipeline.kernels.graphs.log_signal` for a grid holding 0)."""
    affinity = graphs.affinity_from_distances(diffusion_distances, gft_knn)
    row = {"sweep": sweep}
    for signal in ("test_accuracy", "lr", "weight_decay", "momentum"):
        values = features[signal].to_numpy(np.float64)
        row[signal] = graphs.laplacian_smoothness(affinity, graphs.log_signal(values) if signal in LOG_SCALED else values)
    return row


def tabulate_network_manifold(
    embeddings: Sequence[str],
    characterization: Sequence[str],
    distances: Sequence[str],
    table1: str,
    characterization_r2: str,
    gft_smoothness: str,
    *,
    sweeps: Sequence[str],
    top: Sequence[int],
    gft_knn: int,
) -> dict[str, pd.DataFrame]:
    """Table 1, r^2 of accuracy against each characterization, and GFT smoothness, one block of
    rows per sweep (the inputs are in the order of ``sweeps``). Each is written as CSV, Markdown
    and HTML (:func:`pipeline.tables.write_result_table`)."""
    lengths = {len(embeddings), len(characterization), len(distances)}
    if lengths != {len(sweeps)}:
        raise ValueError(f"one embeddings, characterization and distances input per sweep of {list(sweeps)}")
    tables = {"table1": [], "characterization_r2": [], "gft_smoothness": []}
    for sweep, emb, feats, dist in zip(sweeps, embeddings, characterization, distances):
        features = store.read_table(feats)
        tables["table1"] += table1_rows(sweep, store.read_table(emb), top)
        tables["characterization_r2"].append(characterization_r2_row(sweep, features))
        tables["gft_smoothness"].append(gft_row(sweep, features, store.read_array(dist, "diffusion"), gft_knn))
    frames = {name: pd.DataFrame(rows) for name, rows in tables.items()}
    for name, path in (("table1", table1), ("characterization_r2", characterization_r2), ("gft_smoothness", gft_smoothness)):
        write_result_table(frames[name], path)
    return frames


# ------------------------------------------------------------------- hyperparameter suggestion
def suggest_from_top(table: pd.DataFrame, top: int) -> dict:
    """The paper's rule, made precise: among the ``top`` most accurate networks, take the most
    common learning rate; among those top networks with that rate, average the two most frequent
    weight decays and the two most frequent momenta (ties broken by mean accuracy, then by the
    lower value)."""

    def frequent(frame, key, count):
        # groupby sorts the values ascending; a stable sort keeps that order among full ties, on
        # every machine (an unstable sort may order ties by the CPU's sorting kernel)
        stats = frame.groupby(key)["test_accuracy"].agg(["size", "mean"])
        stats = stats.sort_values(["size", "mean"], ascending=False, kind="stable")
        return list(stats.index[:count])

    best = table.sort_values("test_accuracy", ascending=False, kind="stable").head(top)
    lr = frequent(best, "lr", 1)[0]
    with_lr = best[best["lr"] == lr]
    return {
        "lr": float(lr),
        "momentum": float(np.mean(frequent(with_lr, "momentum", 2))),
        "weight_decay": float(np.mean(frequent(with_lr, "weight_decay", 2))),
    }


def suggest_hyperparameters(metrics: str, suggestion: str, *, suggestion_top: int) -> dict:
    """The suggested learning rate, momentum and weight decay (:func:`suggest_from_top`), as JSON."""
    result = suggest_from_top(store.read_table(metrics), suggestion_top)
    store.write_json(result, suggestion)
    return result


def suggested_spec(sweep_settings: Mapping, sweep_name: str, hyperparameters: Mapping) -> dict:
    """The population spec of one network: the sweep's settings with the suggested hyperparameters,
    and the first value of every other grid key (the first initialization seed, for one)."""
    grid = {key: list(values[:1]) for key, values in sweep_settings["grid"].items()}
    grid.update({key: [value] for key, value in hyperparameters.items()})
    sweep = {**sweep_settings, "grid": grid, "population_size": 1}
    return zoo.population_spec({"sweeps": {sweep_name: sweep}}, sweep_name, 0)


def train_suggested_network(
    suggestion: str,
    network: str,
    *,
    sweep_settings: Mapping,
    sweep_name: str,
    init_member: int,
    init_store: str | None = None,
    data_root: str = "data",
    device: str = "auto",
    threads: int = 1,
) -> Path:
    """Train the network with the suggested hyperparameters through the population engine, as
    the sweep's networks were (a fine-tuning sweep's suggestion starts from the same source
    network, ``init_store``/``init_member``), and keep its store."""
    if sweep_settings.get("init_from") and init_store is None:
        raise ValueError(f"sweep {sweep_name!r} is fine-tuned from another sweep: pass init_store (and init_member)")
    spec = suggested_spec(sweep_settings, sweep_name, store.read_json(suggestion))
    return zoo.train_population_job(
        spec, network, data_root=data_root, device=device, threads=threads,
        init_store=init_store, init_member=init_member,
    )


def tabulate_suggestion(metrics: str, suggestion: str, network: str, suggestion_table: str, *, sweep_name: str) -> pd.DataFrame:
    """The suggestion, the suggested network's final test accuracy, and where it ranks among the
    sweep (best, median, rank, size)."""
    accuracies = store.read_table(metrics)["test_accuracy"].to_numpy()
    accuracy = float(store.read_metrics(network)["test_accuracy"][0, -1])
    result = pd.DataFrame([{
        "sweep": sweep_name, **store.read_json(suggestion), "suggested_test_accuracy": accuracy,
        "sweep_best": float(np.nanmax(accuracies)), "sweep_median": float(np.nanmedian(accuracies)),
        "rank_among_sweep": int((accuracies > accuracy).sum()) + 1, "sweep_size": len(accuracies),
    }])
    write_result_table(result, suggestion_table)
    return result


# ------------------------------------------------------------------------------- claims table
def _one_sweep_claims(
    sweep: str, rep: str, mat: str, dist: str, emb: str, feats: str, sugg: str, *,
    architecture: Mapping[str, str], bandwidth: str, sigma: float, entropy_t: float, phate_knn: int, seeds: Sequence[int],
    top: Sequence[int], gft_knn: int, seed: int, resamples: int,
) -> tuple[list, list[dict]]:
    """The claim rows and Table 1 robustness rows of one sweep (:func:`.claims.sweep_claims`)
    from its stores, with the operators, entropies, distances and embeddings of the bandwidth
    that is not ``bandwidth`` computed here."""
    from . import claims as nm_claims

    alternative = "median" if bandwidth == "absolute" else "absolute"
    label = nm_claims.BANDWIDTH_LABEL
    features = store.read_table(feats)
    accuracy = features["test_accuracy"].to_numpy(np.float64)
    labels = store.read_array(rep, "labels")
    with store.checked(rep):
        activations = np.asarray(store.open_array_store(rep)["activations"][:], dtype=np.float64)
    with store.checked(mat):
        stored_ops = store.open_array_store(mat)["diffusion"]
        diagonal = np.array([np.diagonal(np.asarray(stored_ops[i])).mean() for i in range(len(accuracy))])
    other_ops = nm_claims.operators_with(activations, sigma, alternative)
    other_dse, other_dsmi = nm_claims.entropies(other_ops, labels, entropy_t)
    kind_distances = {kind: store.read_array(dist, kind) for kind in ("diffusion", *nm_claims.OTHER_KINDS)}
    named = {
        f"diffusion_{label[bandwidth]}": kind_distances["diffusion"],
        f"diffusion_{label[alternative]}": distance_kernels.gram_frobenius_distances(other_ops.reshape(len(other_ops), -1)),
        **{kind: kind_distances[kind] for kind in nm_claims.OTHER_KINDS},
    }
    table = store.read_table(emb)
    stored = {
        (f"diffusion_{label[bandwidth]}" if kind == "diffusion" else kind): frame[["phate1", "phate2"]].to_numpy()
        for kind, frame in table.groupby("kind", sort=False)
        if kind in ("diffusion", *nm_claims.OTHER_KINDS)
    }
    coords = nm_claims.phate_embeddings(named, stored, phate_knn, seeds)
    suggested = pd.read_csv(sugg)["suggested_test_accuracy"].iloc[0]
    return nm_claims.sweep_claims(
        sweep,
        architecture["architecture"],
        architecture["dataset"],
        accuracy=accuracy,
        n_classes=len(np.unique(labels)),
        features=features,
        embeddings=coords,
        diagonal_means={
            label[bandwidth]: diagonal,
            label[alternative]: np.array([np.diagonal(p).mean() for p in other_ops]),
        },
        alternative_entropies={"entropy": other_dse, "dsmi": other_dsmi},
        diffusion_distances=kind_distances["diffusion"],
        suggested_accuracy=float(suggested),
        configured=bandwidth,
        top=top,
        gft_knn=gft_knn,
        seed=seed,
        resamples=resamples,
    )


def tabulate_network_manifold_claims(
    representations: Sequence[str],
    matrices: Sequence[str],
    distances: Sequence[str],
    embeddings: Sequence[str],
    characterization: Sequence[str],
    suggestion_tables: Sequence[str],
    claims: str,
    table1_robustness: str,
    *,
    sweeps: Sequence[str],
    architectures: Mapping[str, Mapping[str, str]],
    top: Sequence[int],
    gft_knn: int,
    phate_knn: int,
    phate_seed: int,
    sigma: float,
    bandwidth: str,
    entropy_t: float,
    claims_phate_seeds: int,
    claims_seed: int,
    claims_resamples: int,
) -> pd.DataFrame:
    """The study's claims table (``pipeline.claims``; rows and rules in :mod:`.claims`) and Table 1
    per kind, bandwidth and PHATE seed (``table1_robustness``), over every sweep (inputs in the
    order of ``sweeps``). Computes here what the pipeline's stores hold for one bandwidth only:
    the operators, their distances, entropies and PHATE embeddings with the other bandwidth, and
    the PHATE embeddings of every kind for the extra seeds."""
    from ...claims import write_claims_table

    inputs = (representations, matrices, distances, embeddings, characterization, suggestion_tables)
    if {len(x) for x in inputs} != {len(sweeps)}:
        raise ValueError(f"one input of each kind per sweep of {list(sweeps)}")
    seeds = [phate_seed + s for s in range(claims_phate_seeds)]
    rows, robustness = [], []
    for index, (sweep, *paths) in enumerate(zip(sweeps, *inputs)):
        sweep_rows, sweep_robustness = _one_sweep_claims(
            sweep, *paths, architecture=architectures[sweep], bandwidth=bandwidth, sigma=sigma, entropy_t=entropy_t,
            phate_knn=phate_knn, seeds=seeds, top=top, gft_knn=gft_knn, seed=claims_seed + index, resamples=claims_resamples,
        )
        rows += sweep_rows
        robustness += sweep_robustness
    write_claims_table(rows, claims)
    # p_identity_in_top: how many of the top networks have P near the identity (a count)
    write_result_table(pd.DataFrame(robustness), table1_robustness, counts=["p_identity_in_top"])
    from ...claims import claims_frame

    return claims_frame(rows)
