"""Steps of the network-manifold study (paper 003).

Choices the paper leaves open, stated here and in the README:
- representations are taken at the final weights, in eval mode, on the registered evaluation
  subset (stratified, seeded) of the test set;
- the "weights" manifold concatenates every layer's weight matrix (the paper shows one layer at
  a time; per-layer distances are stored too);
- class separation = mean pairwise distance between class centroids; within-class variance =
  mean over classes of the average distance of a class's points to its centroid;
- PHATE of networks: precomputed distances, knn 5, 2 components, fixed random_state;
- the hyperparameter suggestion: see :func:`suggest_hyperparameters`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Sequence

import dask
import dask.array as da
import numpy as np
import pandas as pd
import torch

from .. import diffusion, store, topology, zoo
from ..tables import write_result_table
from ..data import evaluation_subset
from ..models import build_model
from ..parallel import dask_client
from ..train import population_activations

log = logging.getLogger(__name__)

MATRIX_KINDS = ("diffusion", "distance", "knn")
MANIFOLD_KINDS = MATRIX_KINDS + ("weights",)


# ------------------------------------------------------------------------- representations
READ_BATCH_BYTES = 256e6  # weights of the networks whose activations are computed together


def extract_representations(
    stores: Sequence[str],
    metrics: str,
    output: str,
    *,
    layer: str = "penultimate",
    n_points: int = 100,
    eval_seed: int = 0,
    data_root: str = "data",
    download: bool = False,
    threads: int = 1,
) -> Path:
    """Hidden activations of every network of a sweep on the registered evaluation points.

    Writes ``activations`` [network, point, feature], ``labels`` and ``eval_indices`` [point],
    ``test_accuracy`` [network], ``weights/<layer>`` [network, features] (flattened final weight
    matrices) and the networks' hyperparameters (attrs).
    """
    torch.set_num_threads(threads)
    table = store.read_table(metrics).sort_values("member").reset_index(drop=True)
    spec = store.open_population(stores[0]).attrs["spec"]
    data = zoo.load_spec_dataset(spec, data_root, download)
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
        stored = store.open_population(path)["final"]["params"]
        members = stored[base.weight_names[0]].shape[0]
        per_member = sum(int(np.prod(a.shape[1:])) * a.dtype.itemsize for _, a in stored.arrays())
        # a batch of networks at a time (~256 MB of weights), whatever the population size
        batch = max(1, int(READ_BATCH_BYTES // per_member))
        for start in range(0, members, batch):
            params, buffers = store.read_final_params(path, slice(start, start + batch))
            params = {k: torch.as_tensor(v) for k, v in params.items()}
            buffers = {k: torch.as_tensor(v) for k, v in buffers.items()}
            acts = population_activations(base, params, buffers, x, name)
            activations.append(acts.reshape(acts.shape[0], acts.shape[1], -1).numpy())
            del params, buffers, acts
    activations = np.concatenate(activations).astype(np.float32)
    weights = {}
    for w in base.weight_names:
        # streamed from the training stores into feature slabs of every network (the layout the
        # distances between networks read), never all networks' weights in memory at once
        flat = da.concatenate([store.final_weights_flat(path, w) for path in stores])
        weights[f"weights/{w}"] = flat.rechunk((1, diffusion.feature_chunk(len(activations), flat.shape[1])))
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
        return store.write_array_store(output, arrays, attrs, {"activations": (1, *activations.shape[1:])})


def _networks(representations: str) -> pd.DataFrame:
    return pd.DataFrame(store.open_array_store(representations).attrs["networks"])


# -------------------------------------------------------------------------------- matrices
def _matrices_block(block: np.ndarray, kind: str, sigma: float, bandwidth: str, k: int) -> np.ndarray:
    out = np.empty((block.shape[0], block.shape[1], block.shape[1]), dtype=np.float64)
    for i, points in enumerate(block.astype(np.float64)):
        if kind == "diffusion":
            out[i] = diffusion.diffusion_operator(points, diffusion.kernel_bandwidth(points, sigma, bandwidth))
        elif kind == "distance":
            out[i] = diffusion.pairwise_distances(points)
        else:
            out[i] = diffusion.knn_adjacency(points, k)
    return out


def matrix_chunks(m: int, n: int) -> tuple[int, int, int]:
    """On-disk chunks of ``m`` per-network ``n x n`` matrices: a slab of rows of one network.

    The distances between networks are then read one row slab of every network at a time
    (:func:`pipeline.diffusion.gram_frobenius_distances`), which bounds their memory."""
    return (1, max(1, diffusion.feature_chunk(m, n * n) // n), n)


def compute_network_matrices(
    representations: str,
    output: str,
    *,
    sigma: float = 0.5,
    bandwidth: str = "absolute",
    knn: int = 5,
    dask: Mapping | None = None,
    threads: int = 1,
) -> Path:
    """Per-network n x n matrices: diffusion operator P, distance matrix D, kNN adjacency.

    The kernel's bandwidth is ``sigma`` or ``sigma`` times each network's median distance
    (``bandwidth``, see :func:`pipeline.diffusion.kernel_bandwidth`). One Dask task per network;
    the results stream into the store chunk by chunk.
    """
    acts = store.dask_array(representations, "activations")
    m, n = acts.shape[:2]
    arrays = {
        kind: acts.map_blocks(_matrices_block, kind, sigma, bandwidth, knn, dtype=np.float64, chunks=(1, n, n)).rechunk(
            matrix_chunks(m, n)
        )
        for kind in MATRIX_KINDS
    }
    with dask_client(threads=threads, **(dask or {})), store.checked(representations):
        # the 0/1 kNN adjacency compresses well; the dense operators and distances do not
        return store.write_array_store(
            output, arrays, {"sigma": sigma, "bandwidth": bandwidth, "knn": knn}, uncompressed=("diffusion", "distance")
        )


# ------------------------------------------------------------------------------- distances
def compute_network_distances(
    representations: str,
    matrices: str,
    output: str,
    *,
    dask: Mapping | None = None,
    threads: int = 1,
) -> Path:
    """Pairwise Frobenius distances between networks for each matrix kind and for the weights.

    Gram form on Dask arrays read from the stores one feature slab of every network at a time
    (the stores are chunked so, see :func:`matrix_chunks`): memory is bounded by the slab size.
    """
    results = {}
    with dask_client(threads=threads, **(dask or {})):
        for kind in MATRIX_KINDS:
            with store.checked(matrices):
                results[kind] = diffusion.gram_frobenius_distances(store.dask_array(matrices, kind, all_items=True))
        root = store.open_array_store(representations)
        per_layer = []
        for name in root.attrs["weight_names"]:
            with store.checked(representations):
                d = diffusion.gram_frobenius_distances(store.dask_array(representations, f"weights/{name}", all_items=True))
            results[f"weights_by_layer/{name}"] = d
            per_layer.append(d**2)
        # all layers together: the squared distances add up over the concatenated weights
        results["weights"] = np.sqrt(np.sum(per_layer, axis=0))
    return store.write_array_store(output, results, {"kinds": list(MANIFOLD_KINDS)})


# ---------------------------------------------------------------------------------- embedding
def phate_embedding(distances: np.ndarray, knn: int = 5, seed: int = 0) -> np.ndarray:
    """2-D PHATE embedding of items from a precomputed distance matrix."""
    import phate

    operator = phate.PHATE(
        n_components=2,
        knn=min(knn, len(distances) - 2),
        knn_dist="precomputed_distance",
        random_state=seed,
        verbose=0,
        n_jobs=1,
    )
    return operator.fit_transform(distances)


def embed_networks(
    representations: str, distances: str, output: str, *, persistence: str | None = None, knn: int = 5, seed: int = 0
) -> pd.DataFrame:
    """PHATE embedding of the networks for each distance kind (and for the Wasserstein distances
    between persistence diagrams, kind ``wasserstein``): one row per (kind, network)."""
    networks = _networks(representations)
    frames = []
    sources = {kind: store.read_array(distances, kind) for kind in MANIFOLD_KINDS}
    if persistence:
        sources["wasserstein"] = store.read_array(persistence, "wasserstein/total")
    for kind, matrix in sources.items():
        coords = phate_embedding(np.asarray(matrix), knn, seed)
        frame = networks.copy()
        frame.insert(0, "kind", kind)
        frame["phate1"], frame["phate2"] = coords[:, 0], coords[:, 1]
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    store.write_table(table, output)
    return table


# ------------------------------------------------------------------------- characterization
def class_structure(points: np.ndarray, labels: np.ndarray) -> dict:
    """Centroid distances and within-class spread of one representation."""
    classes = np.unique(labels)
    centroids = np.stack([points[labels == c].mean(0) for c in classes])
    centroid_distances = diffusion.pairwise_distances(centroids)
    spread = [np.linalg.norm(points[labels == c] - centroids[i], axis=1).mean() for i, c in enumerate(classes)]
    upper = centroid_distances[np.triu_indices(len(classes), 1)]
    return {
        "centroid_distance": float(upper.mean()),
        "within_class_variance": float(np.mean(spread)),
        "within_class_variance_std": float(np.std(spread)),
        "centroid_matrix": centroid_distances,
    }


def ward_labels(points: np.ndarray, n_clusters: int = 10) -> np.ndarray:
    """Flat clusters of a Ward dendrogram cut at ``n_clusters``."""
    from scipy.cluster.hierarchy import fcluster, linkage

    return fcluster(linkage(points, method="ward"), t=n_clusters, criterion="maxclust")


def _characterize_one(points, labels, sigma, bandwidth, t, n_clusters):
    from sklearn.metrics import adjusted_rand_score

    points = points.astype(np.float64)
    structure = class_structure(points, labels)
    clusters = ward_labels(points, n_clusters)
    # one bandwidth per network, from all its points: the class operators of DSMI use it too
    sigma = diffusion.kernel_bandwidth(points, sigma, bandwidth)
    p = diffusion.diffusion_operator(points, sigma)
    return {
        "centroid_distance": structure["centroid_distance"],
        "within_class_variance": structure["within_class_variance"],
        "within_class_variance_std": structure["within_class_variance_std"],
        "ari": float(adjusted_rand_score(labels, clusters)),
        "entropy": diffusion.diffusion_spectral_entropy(p, t),
        "entropy_t0": diffusion.diffusion_spectral_entropy(p, 0.0),
        "dsmi": diffusion.diffusion_spectral_mutual_information(points, labels, sigma, t),
        "clusters": clusters,
        "centroid_matrix": structure["centroid_matrix"],
    }


def characterize_networks(
    representations: str,
    output: str,
    output_arrays: str,
    *,
    sigma: float = 0.5,
    bandwidth: str = "absolute",
    entropy_t: float = 1.0,
    n_clusters: int = 10,
    dask: Mapping | None = None,
    threads: int = 1,
) -> pd.DataFrame:
    """Per-network class separation, Ward/ARI, entropy, DSMI (table) and pairwise ARI (store)."""
    from sklearn.metrics import adjusted_rand_score

    root = store.open_array_store(representations)
    labels = store.read_array(representations, "labels")
    networks = _networks(representations)
    with dask_client(threads=threads, **(dask or {})) as client:
        acts = root["activations"]
        futures = client.map(
            lambda i: _characterize_one(acts[i], labels, sigma, bandwidth, entropy_t, n_clusters), range(len(networks))
        )
        with store.checked(representations):
            results = client.gather(futures)
    table = networks.copy()
    for key in ("centroid_distance", "within_class_variance", "within_class_variance_std", "ari", "entropy", "entropy_t0", "dsmi"):
        table[key] = [r[key] for r in results]
    clusters = np.stack([r["clusters"] for r in results])
    m = len(networks)
    pairwise = np.eye(m)
    for i in range(m):
        for j in range(i + 1, m):
            pairwise[i, j] = pairwise[j, i] = adjusted_rand_score(clusters[i], clusters[j])
    store.write_table(table, output)
    store.write_array_store(
        output_arrays,
        {"pairwise_ari": pairwise, "clusters": clusters, "centroid_matrices": np.stack([r["centroid_matrix"] for r in results])},
        {"entropy_t": entropy_t, "sigma": sigma, "bandwidth": bandwidth},
    )
    return table


def compute_persistence(
    representations: str,
    output: str,
    *,
    max_dim: int = 2,
    order: float = 1.0,
    dask: Mapping | None = None,
    threads: int = 1,
) -> Path:
    """Vietoris-Rips persistence (H0..max_dim) of every representation and pairwise Wasserstein
    distances per dimension (and their sum), computed as Dask tasks."""
    root = store.open_array_store(representations)
    acts = root["activations"]
    m = acts.shape[0]
    with dask_client(threads=threads, **(dask or {})) as client:
        futures = client.map(lambda i: topology.vietoris_rips_diagrams(acts[i].astype(np.float64), max_dim), range(m))
        with store.checked(representations):
            diagrams = client.gather(futures)
        distances = {
            f"wasserstein/H{d}": topology.wasserstein_distance_matrix([dg[d] for dg in diagrams], order, client=client)
            for d in range(max_dim + 1)
        }
    distances["wasserstein/total"] = np.sum(list(distances.values()), axis=0)
    # Diagrams are ragged: one [point, 4] table of (network, dimension, birth, death).
    rows = [np.column_stack([np.full(len(dg[d]), i), np.full(len(dg[d]), d), dg[d]]) for i, dg in enumerate(diagrams) for d in range(max_dim + 1)]
    distances["diagrams"] = np.concatenate(rows).astype(np.float64)
    distances["total_persistence"] = np.array([[topology.total_persistence(dg[d]) for d in range(max_dim + 1)] for dg in diagrams])
    return store.write_array_store(output, distances, {"max_dim": max_dim, "order": order})


# ---------------------------------------------------------------------------------- tables
def _r2(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(x[ok], y[ok])[0, 1] ** 2)


def tabulate_network_manifold(
    embeddings: Mapping[str, str],
    features: Mapping[str, str],
    distances: Mapping[str, str],
    output_dir: str,
    *,
    top: Sequence[int] = (10, 20, 30),
    gft_knn: int = 5,
) -> dict[str, pd.DataFrame]:
    """Table 1, r^2 of accuracy against each characterization, and GFT smoothness, per sweep.

    Written as CSV, Markdown and HTML (:func:`pipeline.tables.write_result_table`): ``table1``,
    ``characterization_r2``, ``gft_smoothness``.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    table1, r2_rows, gft_rows = [], [], []
    for sweep, path in embeddings.items():
        emb = store.read_table(path)
        for kind, frame in emb.groupby("kind", sort=False):
            row = {"sweep": sweep, "kind": kind}
            for n in top:
                value = diffusion.normalized_top_distance(
                    frame[["phate1", "phate2"]].to_numpy(), frame["test_accuracy"].to_numpy(), n
                ) if n < len(frame) else float("nan")
                row[f"top{n}"] = value
            table1.append(row)
    for sweep, path in features.items():
        feats = store.read_table(path)
        row = {"sweep": sweep}
        for key in ("centroid_distance", "within_class_variance", "ari", "entropy", "dsmi"):
            row[key] = _r2(feats["test_accuracy"], feats[key])
        r2_rows.append(row)
        affinity = diffusion.affinity_from_distances(store.read_array(distances[sweep], "diffusion"), gft_knn)
        gft = {"sweep": sweep}
        for signal in ("test_accuracy", "lr", "weight_decay", "momentum"):
            values = np.log10(feats[signal]) if signal in ("lr", "weight_decay") else feats[signal]
            gft[signal] = diffusion.laplacian_smoothness(affinity, np.asarray(values, float))
        gft_rows.append(gft)
    tables = {
        "table1": pd.DataFrame(table1),
        "characterization_r2": pd.DataFrame(r2_rows),
        "gft_smoothness": pd.DataFrame(gft_rows),
    }
    for name, frame in tables.items():
        write_result_table(frame, out / f"{name}.csv")
    return tables


# ------------------------------------------------------------------- hyperparameter suggestion
def suggest_from_top(table: pd.DataFrame, top: int = 30) -> dict:
    """The paper's rule, made precise: among the ``top`` most accurate networks, take the most
    common learning rate; among those top networks with that rate, average the two most frequent
    weight decays and the two most frequent momenta (ties broken by mean accuracy)."""

    def frequent(frame, key, count):
        stats = frame.groupby(key)["test_accuracy"].agg(["size", "mean"]).sort_values(["size", "mean"], ascending=False)
        return list(stats.index[:count])

    best = table.sort_values("test_accuracy", ascending=False, kind="stable").head(top)
    lr = frequent(best, "lr", 1)[0]
    with_lr = best[best["lr"] == lr]
    return {
        "lr": float(lr),
        "momentum": float(np.mean(frequent(with_lr, "momentum", 2))),
        "weight_decay": float(np.mean(frequent(with_lr, "weight_decay", 2))),
    }


def suggest_hyperparameters(
    config_sweep: Mapping,
    sweep_name: str,
    metrics: str,
    output: str,
    *,
    top: int = 30,
    init_store: str | None = None,
    init_member: int = 0,
    data_root: str = "data",
    download: bool = False,
    device: str = "auto",
    threads: int = 1,
) -> pd.DataFrame:
    """Suggest hyperparameters from the top networks, train that network, and place its test
    accuracy beside the sweep's (best, median, rank).

    For a fine-tuning sweep, ``init_store``/``init_member`` name the network its members start
    from: the suggested network is fine-tuned from the same one, as the sweep's were."""
    import tempfile

    if config_sweep.get("init_from") and init_store is None:
        raise ValueError(f"sweep {sweep_name!r} is fine-tuned from another sweep: pass init_store (and init_member)")
    table = store.read_table(metrics)
    suggestion = suggest_from_top(table, top)
    grid = {"lr": [suggestion["lr"]], "momentum": [suggestion["momentum"]], "weight_decay": [suggestion["weight_decay"]],
            "init_seed": config_sweep["grid"]["init_seed"][:1], "label_noise": [0.0]}
    sweep = {**config_sweep, "grid": grid, "population_size": 1}
    spec = zoo.population_spec({"sweeps": {sweep_name: sweep}}, sweep_name, 0)
    with tempfile.TemporaryDirectory() as tmp:
        trained = zoo.train_population_job(spec, Path(tmp) / "suggested.zarr", data_root=data_root,
                                           download=download, device=device, threads=threads, progress=False,
                                           init_store=init_store, init_member=init_member)
        accuracy = float(store.read_metrics(trained)["test_accuracy"][0, -1])
    accuracies = table["test_accuracy"].to_numpy()
    result = pd.DataFrame([{
        "sweep": sweep_name, **suggestion, "suggested_test_accuracy": accuracy,
        "sweep_best": float(np.nanmax(accuracies)), "sweep_median": float(np.nanmedian(accuracies)),
        "rank_among_sweep": int((accuracies > accuracy).sum()) + 1, "sweep_size": len(accuracies),
    }])
    write_result_table(result, output)
    return result
