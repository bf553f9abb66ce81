"""Steps of the loss-landscape study (Horoi et al., paper 002). Each opens its inputs, maps a kernel
over the optima of one population store (or over every optimum), and writes its outputs.

Path arguments are the named inputs and outputs of the Snakemake rule of the same name; the
keyword-only settings are keys of ``config/schema/loss_landscape.yaml`` (defaults there).

An optimum is one network of an optimum sweep (its final parameters and BatchNorm statistics).
Around each, three samplings:

- jump and retrain: for every seed and step size, the optimum plus ``step x`` a filter-normalized
  Gaussian direction, retrained for N epochs with the optimum's own optimizer (all retrainings of
  the optima of one population store are one vectorized population); parameters and the train and
  test loss and accuracy of the whole sets, in eval mode, recorded at the jump and after every
  epoch (BatchNorm running statistics are retrained with the weights and recorded with them);
- grid: a 3-D grid along three filter-normalized directions;
- naive: random filter-normalized directions times the step sizes.

Grid and naive points are evaluated as populations (many parameter vectors through one vectorized
forward pass) in eval mode with the optimum's BatchNorm statistics (their directions leave every
BatchNorm parameter at the optimum).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ... import store, zoo
from ...kernels import directions as directions_kernel
from ...kernels import distances as distance_kernels
from ...kernels import embedding, graphs
from ...kernels import persistence as ph
from ...parallel import dask_client, device_of
from ...tables import write_result_table
from . import claims as study_claims

log = logging.getLogger(__name__)

SAMPLINGS = ("jump_retrain", "grid", "naive")
METRICS = store.METRIC_NAMES  # train_loss, train_accuracy, test_loss, test_accuracy


def final_lr_factor(training: Mapping) -> float:
    """The learning rate's factor at the end of training (after every milestone of its schedule)."""
    return float(training["schedule"]["gamma"] ** len(training["schedule"]["milestones"]))


# ------------------------------------------------------------------------ jump and retrain
def jump_retrain_spec(spec: Mapping, seeds: Sequence[int], step_sizes: Sequence[float], retrain: Mapping) -> dict:
    """The population spec of the retrainings of one population store's optima.

    One member per (optimum, seed, step size), in that order, with the retraining's
    hyperparameters (``retrain``: a null value means the optimum's own; the learning rate's own
    value is the optimum's final one) and the optimum's initialization seed and label noise, so
    that it retrains on the labels it was trained on. The optimum's store is named by its spec
    hash: a partial run of other optima is never resumed.
    """
    factor = final_lr_factor(spec["training"])
    members = []
    for index, optimum in enumerate(spec["members"]):
        for seed in seeds:
            for step in step_sizes:
                members.append({
                    "member": len(members),
                    "network": f"{optimum['network']}_seed~{seed}_step~{step}",
                    "optimum": index,
                    "optimum_network": optimum["network"],
                    "seed": int(seed),
                    "step_size": float(step),
                    "lr": retrain["lr"] if retrain["lr"] is not None else optimum["lr"] * factor,
                    "momentum": retrain["momentum"] if retrain["momentum"] is not None else optimum["momentum"],
                    "weight_decay": retrain["weight_decay"] if retrain["weight_decay"] is not None else optimum["weight_decay"],
                    "init_seed": optimum["init_seed"],
                    "label_noise": optimum["label_noise"],
                })
    training = {
        **spec["training"],
        "epochs": retrain["epochs"],
        "schedule": {"milestones": [], "gamma": spec["training"]["schedule"]["gamma"]},
        "snapshot_every": "epoch",
        "snapshot_metrics": True,
        "snapshot_dtype": retrain.get("snapshot_dtype") or spec["training"]["snapshot_dtype"],
    }
    return {
        "sweep": spec["sweep"],
        "population": spec["population"],
        "purpose": "jump_retrain",
        "optima_spec_hash": store.spec_hash(spec),
        "dataset": spec["dataset"],
        "dataset_options": spec["dataset_options"],
        "architecture": spec["architecture"],
        "training": training,
        "init_from": None,
        "members": members,
    }


def jump_states(optima: Mapping[str, np.ndarray], members: Sequence[Mapping]) -> dict[str, np.ndarray]:
    """Every member's starting parameters ``[member, *shape]``: its optimum plus its step size times
    the filter-normalized direction of its seed (a kernel of :mod:`pipeline.kernels.directions`)."""
    out = {name: np.empty((len(members), *value.shape[1:]), dtype=np.float32) for name, value in optima.items()}
    directions = {}
    for i, member in enumerate(members):
        key = (member["optimum"], member["seed"])
        weights = {name: value[member["optimum"]] for name, value in optima.items()}
        if key not in directions:
            shapes = {name: value.shape for name, value in weights.items()}
            directions[key] = directions_kernel.filter_normalize(directions_kernel.random_direction(shapes, member["seed"]), weights)
        for name, value in weights.items():
            out[name][i] = value + member["step_size"] * directions[key][name]
    return out


def sample_jump_retrain(
    population_store: str,
    jump_retrain: str,
    *,
    seeds: Sequence[int],
    step_sizes: Sequence[float],
    retrain: Mapping,
    data_root: str = "data",
    device: str = "auto",
    threads: int = 1,
) -> Path:
    """Jump from every optimum of a population store and retrain, all as one population."""
    from ...train import population_from_states

    spec = store.open_population(population_store).attrs["spec"]
    params, buffers = store.read_final_params(population_store)
    jr_spec = jump_retrain_spec(spec, seeds, step_sizes, retrain)
    members = jr_spec["members"]
    data = zoo.load_spec_dataset(spec, data_root)
    start = population_from_states(
        spec["architecture"], data.input_shape, data.num_outputs,
        jump_states(params, members), {name: value[[m["optimum"] for m in members]] for name, value in buffers.items()},
    )
    return zoo.run_population(jr_spec, jump_retrain, data, start, device=device, threads=threads)


# ---------------------------------------------------------------------------- grid, naive
def probe_coordinates(grid_points_per_axis: int, grid_extent: float, naive_directions: int, step_sizes: Sequence[float]):
    """Grid coefficients ``[g, 3]`` and naive (direction index, step size) pairs ``[K x S, 2]``."""
    grid = directions_kernel.grid_coordinates(grid_points_per_axis, grid_extent, 3)
    naive = np.array([(j, s) for j in range(naive_directions) for s in step_sizes], dtype=np.float64)
    return grid, naive


def images_per_pass(points: int) -> int:
    """Inputs per vectorized forward pass when ``points`` parameter vectors are evaluated at once:
    about 4,096 point-inputs, so that a pass's activations stay in cache (measured on the digits
    CNN: 64 points x 64 images took half the time per point of 64 x 1,024)."""
    return max(32, 4096 // max(1, points))


def _evaluate_points(evaluate, weights, buffers, directions, coefficients, batch):
    """Evaluate the points ``weights + coefficients @ directions`` ``batch`` at a time (each a
    population), with the optimum's buffers."""
    results = {name: [] for name in METRICS}
    for start in range(0, len(coefficients), batch):
        chosen = coefficients[start : start + batch]
        points = directions_kernel.combine(weights, directions, chosen)
        point_buffers = {name: np.repeat(value[None], len(chosen), axis=0) for name, value in buffers.items()}
        for name, values in evaluate(points, point_buffers).items():
            results[name].append(values)
    return {name: np.concatenate(values) for name, values in results.items()}


def sample_probes(
    population_store: str,
    probes: str,
    *,
    grid_points_per_axis: int,
    grid_extent: float,
    naive_directions: int,
    step_sizes: Sequence[float],
    probe_seed: int,
    probe_batch: int,
    data_root: str = "data",
    device: str = "auto",
    threads: int = 1,
) -> Path:
    """Grid and naive samplings around every optimum of a population store, and the optimum itself:
    train and test loss and accuracy of every point, evaluated as populations; plus each sampling's
    basis Gram (the optimum and its directions), from which the samples' cosine distances follow."""
    import torch

    from ...models import build_model
    from ...train import evaluate_members, member_targets, population_forward, select_device

    torch.set_num_threads(threads)
    spec = store.open_population(population_store).attrs["spec"]
    params, buffers = store.read_final_params(population_store)
    data = zoo.load_spec_dataset(spec, data_root)
    dev = select_device(device_of(device, spec["sweep"]))
    base = build_model(spec["architecture"], data.input_shape, data.num_outputs).to("meta")
    # the optima's own arithmetic: a landscape in another precision is another landscape
    forward = population_forward(base, dev, precision=zoo.spec_precision(spec))
    targets = member_targets(data, zoo.members_of(spec), spec["training"]["seed"]).to(dev)
    x_train, x_test, y_test = data.x_train.to(dev), data.x_test.to(dev), data.y_test.to(dev)
    grid, naive = probe_coordinates(grid_points_per_axis, grid_extent, naive_directions, step_sizes)
    classification = data.task == "classification"
    k = len(spec["members"])
    arrays = {}

    for o in range(k):
        weights = {name: value[o] for name, value in params.items()}
        state = {name: value[o] for name, value in buffers.items()}

        def evaluate(points, point_buffers):
            p = {n: torch.as_tensor(v, device=dev) for n, v in points.items()}
            b = {n: torch.as_tensor(v, device=dev) for n, v in point_buffers.items()}
            images = images_per_pass(len(next(iter(p.values()))))
            train = evaluate_members(forward, base, p, b, x_train, targets[o], classification, images)
            test = evaluate_members(forward, base, p, b, x_test, y_test, classification, images)
            return dict(zip(METRICS, (*train, *test)))

        shapes = {name: value.shape for name, value in weights.items()}

        def direction(seed):
            return directions_kernel.filter_normalize(directions_kernel.random_direction(shapes, seed), weights)

        grid_seeds = [probe_seed + i for i in range(3)]
        naive_seeds = [probe_seed + 3 + j for j in range(naive_directions)]
        results = {"optimum": evaluate({n: v[None] for n, v in weights.items()}, {n: v[None] for n, v in state.items()})}
        results["grid"] = _evaluate_points(evaluate, weights, state, [direction(s) for s in grid_seeds], grid, probe_batch)
        # naive: a batch of directions at a time, each at every step size (never all directions in memory)
        per_batch = max(1, probe_batch // len(step_sizes))
        naive_results = {name: [] for name in METRICS}
        for first in range(0, naive_directions, per_batch):
            chosen = list(range(first, min(naive_directions, first + per_batch)))
            coefficients = np.zeros((len(chosen) * len(step_sizes), len(chosen)))
            for row, (j, step) in enumerate((j, s) for j in range(len(chosen)) for s in step_sizes):
                coefficients[row, j] = step
            part = _evaluate_points(evaluate, weights, state, [direction(naive_seeds[j]) for j in chosen], coefficients, probe_batch)
            for name in METRICS:
                naive_results[name].append(part[name])
        results["naive"] = {name: np.concatenate(v) for name, v in naive_results.items()}
        for sampling, values in results.items():
            for name, value in values.items():
                arrays.setdefault(f"{sampling}/{name}", []).append(value)
        arrays.setdefault("grid/basis_gram", []).append(directions_kernel.basis_gram(weights, grid_seeds))
        arrays.setdefault("naive/basis_gram", []).append(directions_kernel.basis_gram(weights, naive_seeds))
        log.info("optimum %d/%d: %d grid and %d naive points evaluated", o + 1, k, len(grid), len(naive))

    arrays = {name: np.stack(values) for name, values in arrays.items()}
    for name in METRICS:
        arrays[f"optimum/{name}"] = arrays[f"optimum/{name}"][:, 0]  # one point per optimum
    arrays["grid/coordinates"] = grid
    arrays["naive/coordinates"] = naive
    attrs = {"optima": [m["network"] for m in spec["members"]], "optima_spec_hash": store.spec_hash(spec)}
    return store.write_array_store(probes, arrays, attrs)


# ------------------------------------------------------------------------------ embedding
def trajectory_samples(jr_spec: Mapping, optimum: int, n_snapshots: int) -> pd.DataFrame:
    """The jump-and-retrain samples of one optimum, in the order of the rows of its embedding:
    the optimum first, then every retraining (seed, step size) at the jump (epoch 0) and after
    each epoch."""
    rows = [{"member": -1, "seed": -1, "step_size": 0.0, "epoch": -1}]
    for member in jr_spec["members"]:
        if member["optimum"] == optimum:
            rows += [
                {"member": member["member"], "seed": member["seed"], "step_size": member["step_size"], "epoch": epoch}
                for epoch in range(n_snapshots)
            ]
    return pd.DataFrame(rows)


def sampling_coefficients(probes_root, sampling: str) -> np.ndarray:
    """Each grid or naive sample as coefficients over its basis (the optimum, then directions),
    the optimum itself first (all zero)."""
    coordinates = np.asarray(probes_root[f"{sampling}/coordinates"][...])
    if sampling == "grid":
        coefficients = coordinates
    else:
        directions = int(coordinates[:, 0].max()) + 1
        coefficients = np.zeros((len(coordinates), directions))
        coefficients[np.arange(len(coordinates)), coordinates[:, 0].astype(int)] = coordinates[:, 1]
    return np.vstack([np.zeros((1, coefficients.shape[1])), coefficients])


def landscape_topology(potential: np.ndarray, values: np.ndarray, graph_knn: int) -> dict:
    """H0/H1 diagrams of the loss-level filtration on the kNN graph of PHATE potential distances,
    for both complexes, and their total persistence ``[complex, dimension]``.

    ``graph`` follows the public code: the bare graph, every essential class (the surviving
    component, every cycle) closed at the largest loss, all counted. ``flag`` is the flag
    complex with its essential classes left infinite and out of total persistence (the finite
    pairs only), so that it measures the loss landscape's features rather than its loss range.
    """
    potential_distances = distance_kernels.pairwise_distances(potential)
    edges = graphs.edges_of(graphs.knn_adjacency_of_distances(potential_distances, min(graph_knn, len(values) - 1)))
    top = float(values.max())
    diagrams = {
        "graph": [ph.close_essential(d, top) for d in ph.graph_persistence(values, edges, "graph")],
        "flag": ph.graph_persistence(values, edges, "flag"),
    }
    total = np.array([[ph.total_persistence(diagrams[c][d]) for d in (0, 1)] for c in ph.COMPLEXES])
    return {"diagrams": diagrams, "total_persistence": total, "edges": len(edges)}


def embed_landscape(
    population_store: str,
    jump_retrain: str,
    probes: str,
    landscape: str,
    *,
    phate_knn: int,
    phate_seed: int,
    graph_knn: int,
    filtration_loss: str,
    dask_cluster: Mapping | None = None,
    threads: int = 1,
) -> Path:
    """Cosine PHATE of every optimum's samples and the topology of its jump-and-retrain data.

    For each optimum of the population store: the Gram matrix of its parameter vectors (the
    optimum and every jump-and-retrain sample, streamed from the stores with Dask over parameter
    slabs), cosine distances, PHATE (cosine; potential stored), the kNN graph on the PHATE
    potential distances (each sample joined to its ``graph_knn`` nearest), vertex ``i`` valued by
    sample ``i``'s ``filtration_loss``, and the H0/H1 persistence of both complexes (graph, flag).
    The grid and naive samples are embedded too (cosine distances from their basis Grams).
    """
    spec = store.open_population(population_store).attrs["spec"]
    jr_root = store.open_population(jump_retrain)
    jr_spec = jr_root.attrs["spec"]
    if jr_spec["optima_spec_hash"] != store.spec_hash(spec):
        raise ValueError(f"{jump_retrain} was sampled around other optima than those of {population_store}")
    n_snapshots = int(jr_root.attrs["n_snapshots"])
    metrics = store.read_snapshot_metrics(jump_retrain)
    probes_root = store.open_array_store(probes)
    arrays, diagram_rows = {}, []
    with dask_client(threads=threads, **(dask_cluster or {})):
        for o in range(len(spec["members"])):
            samples = trajectory_samples(jr_spec, o, n_snapshots)
            members = sorted(set(samples["member"]) - {-1})
            matrix = store.parameter_matrix([(population_store, "final", [o]), (jump_retrain, "snapshots", members)])
            gram = distance_kernels.gram_matrix(matrix)
            coords, potential = embedding.phate_embedding(
                distance_kernels.cosine_distances_from_gram(gram), phate_knn, phate_seed, mds_dist="cosine", potential=True
            )
            sample_metrics = {}
            for name in METRICS:
                optimum_value = float(store.read_array(probes, f"optimum/{name}")[o])
                sample_metrics[name] = np.concatenate([[optimum_value], metrics[name][members].ravel()])
            topology = landscape_topology(potential, sample_metrics[f"{filtration_loss}_loss"], graph_knn)
            for c, complex_name in enumerate(ph.COMPLEXES):
                for d, diagram in enumerate(topology["diagrams"][complex_name]):
                    labels = np.tile([o, c, d], (len(diagram), 1))
                    diagram_rows.append(np.column_stack([labels, diagram]))
            values = {
                "jump_retrain/gram": gram, "jump_retrain/embedding": coords, "jump_retrain/potential": potential,
                "total_persistence": topology["total_persistence"],
                **{f"jump_retrain/{name}": v for name, v in sample_metrics.items()},
            }
            for sampling in ("grid", "naive"):
                basis = np.asarray(probes_root[f"{sampling}/basis_gram"][o])
                coefficients = sampling_coefficients(probes_root, sampling)
                cosine = distance_kernels.cosine_distances_from_gram(directions_kernel.gram_of_combinations(basis, coefficients))
                values[f"{sampling}/embedding"] = embedding.phate_embedding(cosine, phate_knn, phate_seed, mds_dist="cosine")
                for name in METRICS:
                    optimum_value = np.asarray(probes_root[f"optimum/{name}"][o])[None]
                    values[f"{sampling}/{name}"] = np.concatenate([optimum_value, np.asarray(probes_root[f"{sampling}/{name}"][o])])
            for name, value in values.items():
                arrays.setdefault(name, []).append(value)
            log.info(
                "optimum %d: %d samples, %d graph edges, total persistence %s",
                o, len(samples), topology["edges"], topology["total_persistence"].tolist(),
            )
    arrays = {name: np.stack(values) for name, values in arrays.items()}
    samples = trajectory_samples(jr_spec, 0, n_snapshots)
    for column in ("seed", "step_size", "epoch"):
        arrays[f"jump_retrain/{column}"] = samples[column].to_numpy()
    arrays["diagrams"] = np.concatenate(diagram_rows) if diagram_rows else np.empty((0, 5))
    attrs = {
        "optima": [m["network"] for m in spec["members"]],
        "complexes": list(ph.COMPLEXES),
        "filtration_loss": filtration_loss,
        "graph_knn": graph_knn,
        "diagram_columns": ["optimum", "complex", "dimension", "birth", "death"],
    }
    return store.write_array_store(landscape, arrays, attrs)


# --------------------------------------------------------------------------------- tables
def classifier_set(seed: int) -> dict:
    """The 11 classifiers of Table 1 (scikit-learn's classic comparison set plus logistic
    regression), each behind a StandardScaler, untuned, as the paper stresses. QDA takes
    Ledoit-Wolf shrinkage of its covariances: with more features than optima per class (640
    losses of ~20 optima) the plain estimate is singular and scikit-learn refuses to fit; a fold
    it still cannot fit is left out of its mean (:func:`cross_validated_accuracy`)."""
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
    from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier
    from sklearn.gaussian_process import GaussianProcessClassifier
    from sklearn.gaussian_process.kernels import RBF
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    models = {
        "nearest neighbors": KNeighborsClassifier(3),
        "linear SVM": SVC(kernel="linear", C=0.025, random_state=seed),
        "RBF SVM": SVC(gamma=2, C=1, random_state=seed),
        "Gaussian process": GaussianProcessClassifier(1.0 * RBF(1.0), random_state=seed),
        "decision tree": DecisionTreeClassifier(max_depth=5, random_state=seed),
        "random forest": RandomForestClassifier(max_depth=5, n_estimators=10, max_features=1, random_state=seed),
        "neural net": MLPClassifier(alpha=1, max_iter=1000, random_state=seed),
        "AdaBoost": AdaBoostClassifier(random_state=seed),
        "naive Bayes": GaussianNB(),
        "QDA": QuadraticDiscriminantAnalysis(solver="eigen", shrinkage="auto"),
        "logistic regression": LogisticRegression(max_iter=1000),
    }
    return {name: make_pipeline(StandardScaler(), model) for name, model in models.items()}


def cross_validated_accuracy(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    folds: int,
    repeats: int,
    seed: int,
    scramble: bool = False,
    groups: np.ndarray | None = None,
) -> dict:
    """Mean accuracy of each classifier over ``repeats`` stratified ``folds``-fold cross-validations.

    With ``scramble``, each repetition first permutes the rows of ``features`` (a seeded
    permutation), breaking their link to the labels: the control of Table 1. With ``groups``, the
    folds keep every group whole (``StratifiedGroupKFold``: no optimum is tested with a member of
    its group in the training folds; min(folds, groups) folds), else they are the paper's
    stratified folds over optima.
    """
    import warnings

    from sklearn.model_selection import cross_val_score

    scores = {}
    for repeat in range(repeats):
        rng = np.random.default_rng([seed, repeat])
        x = features[rng.permutation(len(features))] if scramble else features
        splits = fold_splits(labels, groups, folds, seed + repeat)
        n_splits = len(splits)
        for name, model in classifier_set(seed + repeat).items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # collinear QDA, unconverged nets: untuned, as in the paper
                try:
                    fold_scores = cross_val_score(model, x, labels, cv=splits, error_score=np.nan)
                except ValueError:  # scikit-learn's "all the fits failed"
                    fold_scores = np.full(n_splits, np.nan)
                scores.setdefault(name, []).extend(fold_scores)
    # a fold a classifier cannot fit (QDA on a class whose features are collinear) scores NaN and is
    # left out of that classifier's mean; a classifier that fits no fold is left out of the table
    return {name: float(np.nanmean(values)) for name, values in scores.items() if np.isfinite(values).any()}


def fold_splits(labels: np.ndarray, groups: np.ndarray | None, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) indices of a shuffled cross-validation: the paper's stratified ``folds``
    folds over optima, or with ``groups`` folds that keep every group whole, stratified as far as
    the groups allow (``StratifiedGroupKFold``, min(folds, groups) folds)."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    index = np.zeros((len(labels), 1))
    if groups is None:
        return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(index, labels))
    n_splits = min(folds, len(np.unique(groups)))
    return list(StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(index, labels, groups))


def sibling_groups(table: pd.DataFrame) -> np.ndarray:
    """Group index of each optimum: optima of the same sweep that share every grid
    hyperparameter but the weight decay are siblings (the default's triplets: same batch size,
    augmentation, learning rate and initialization, weight decay 0, 1e-4, 1e-3)."""
    keys = ["sweep", *[k for k in zoo.GRID_KEYS if k != "weight_decay" and k in table.columns]]
    return table.groupby(keys, sort=True, dropna=False).ngroup().to_numpy()


def nearest_neighbour_siblings(features: np.ndarray, groups: np.ndarray, weight_decay: np.ndarray) -> dict:
    """How often each optimum's nearest other optimum (Euclidean distance between standardized
    features, as the scaled nearest-neighbour classifier sees them) is its sibling, and how often
    it shares its weight decay; beside the fractions a random other optimum would give."""
    from sklearn.preprocessing import StandardScaler

    x = StandardScaler().fit_transform(features)
    distances = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    nearest = distances.argmin(axis=1)  # ties: the first in table order
    n = len(groups)
    others = n - 1
    return {
        "optima": n,
        "sibling_groups": len(np.unique(groups)),
        "nn_is_sibling": float(np.mean(groups[nearest] == groups)),
        "nn_same_weight_decay": float(np.mean(weight_decay[nearest] == weight_decay)),
        "random_is_sibling": float(np.mean([(np.sum(groups == g) - 1) / others for g in groups])),
        "random_same_weight_decay": float(np.mean([(np.sum(weight_decay == w) - 1) / others for w in weight_decay])),
    }


def quantile_classes(test_loss: np.ndarray, classes: int) -> np.ndarray:
    """Quantile classes of the test loss at the optimum: 0 = the lowest ~1/classes, and so on
    (equal sizes to within one; ties by order)."""
    ranks = pd.Series(test_loss).rank(method="first").to_numpy()
    return pd.qcut(ranks, classes, labels=False).astype(int)


def _optimum_rows(population_store, jump_retrain, probes, landscape_store, memorization, complex_index):
    spec = store.open_population(population_store).attrs["spec"]
    jr_spec = store.open_population(jump_retrain).attrs["spec"]
    jr_metrics = store.read_snapshot_metrics(jump_retrain)
    total = store.read_array(landscape_store, "total_persistence")  # [optimum, complex, dim]
    rows, features = [], []
    for o, member in enumerate(spec["members"]):
        arch = spec["architecture"]
        row = {
            "sweep": spec["sweep"], "network": member["network"], "architecture": arch["name"],
            **{k: v for k, v in arch.items() if k != "name" and not isinstance(v, (list, dict))},
            "widths": str(arch.get("channels", arch.get("hidden", ""))),
            "batch_size": spec["training"]["batch_size"], "augment": bool(spec["training"]["augment"]),
            **{k: member[k] for k in zoo.GRID_KEYS},
            "memorization": spec["sweep"] == memorization,
            **{f"optimum_{name}": float(store.read_array(probes, f"optimum/{name}")[o]) for name in METRICS},
            "total_persistence_h0": float(total[o, complex_index, 0]), "total_persistence_h1": float(total[o, complex_index, 1]),
        }
        for c, complex_name in enumerate(ph.COMPLEXES):
            row[f"tp_{complex_name}_h0"], row[f"tp_{complex_name}_h1"] = float(total[o, c, 0]), float(total[o, c, 1])
        rows.append(row)
        members = [m["member"] for m in jr_spec["members"] if m["optimum"] == o]
        retrained = np.concatenate([jr_metrics[name][members, 1:].ravel() for name in ("train_loss", "train_accuracy")])
        probed = {
            s: np.concatenate([store.read_array(probes, f"{s}/{name}")[o] for name in ("train_loss", "train_accuracy")])
            for s in ("grid", "naive")
        }
        features.append({
            "jump_retrain": retrained,
            **probed,
            "total_persistence": total[o, complex_index],
            "optimum": np.array([row["optimum_train_loss"], row["optimum_train_accuracy"]]),
        })
    return rows, features


FEATURE_SETS = {  # name in the table: which features, scrambled
    study_claims.CONTROL: ("jump_retrain", True),
    study_claims.GRID: ("grid", False),
    study_claims.NAIVE: ("naive", False),
    study_claims.JUMP_RETRAIN: ("jump_retrain", False),
    "Total persistence of the J&R loss filtration (H0, H1)": ("total_persistence", False),
    "Optimum alone, train loss and accuracy": ("optimum", False),
}
# the grouped protocol refits only the paper's three samplings (a cross-validation of every feature
# set under both protocols doubled the step's ~50 s of CPU in the default run)
PROTOCOL_FEATURE_SETS = {
    "stratified": tuple(FEATURE_SETS),
    "grouped": (study_claims.GRID, study_claims.NAIVE, study_claims.JUMP_RETRAIN),
}
TASKS = {"generalization": "generalization", "weight decay": "weight_decay", "data augmentation": "augment"}


def tabulate_loss_landscape(
    population_stores: Sequence[str],
    jump_retrains: Sequence[str],
    probes: Sequence[str],
    landscapes: Sequence[str],
    optima: str,
    table1: str,
    table1_grouped: str,
    table1_by_classifier: str,
    siblings: str,
    persistence_by_weight_decay: str,
    *,
    memorization: str | None,
    complex: str,
    generalization_classes: int,
    classifiers: Mapping,
    threads: int = 1,
) -> dict[str, pd.DataFrame]:
    """The optima table, Table 1 (11 classifiers on three tasks from each feature set, mean and
    standard error over classifiers) under the paper's stratified folds and under folds that keep
    sibling optima together (:func:`sibling_groups`), their per-classifier long form, how often
    each optimum's nearest neighbour is a sibling, and total persistence by weight decay. The
    memorization optima are left out of the classification tasks."""
    from scipy.stats import spearmanr

    if not len({len(population_stores), len(jump_retrains), len(probes), len(landscapes)}) == 1:
        raise ValueError("one jump-and-retrain, probes and landscape store per population store")
    complex_index = ph.COMPLEXES.index(complex)
    rows, features = [], []
    for sources in zip(population_stores, jump_retrains, probes, landscapes):
        r, f = _optimum_rows(*sources, memorization, complex_index)
        rows += r
        features += f
    table = pd.DataFrame(rows)
    classified = ~table["memorization"].to_numpy()
    labels = {
        "generalization": quantile_classes(table.loc[classified, "optimum_test_loss"].to_numpy(), generalization_classes),
        "weight_decay": pd.factorize(table.loc[classified, "weight_decay"], sort=True)[0],
        "augment": table.loc[classified, "augment"].astype(int).to_numpy(),
    }
    table["generalization_class"] = -1
    table.loc[classified, "generalization_class"] = labels["generalization"]
    table["sibling_group"] = -1
    groups = sibling_groups(table[classified])
    table.loc[classified, "sibling_group"] = groups
    chosen = [f for f, keep in zip(features, classified) if keep]
    tasks = {
        (f"{generalization_classes}-class generalization" if key == "generalization" else task): key for task, key in TASKS.items()
    }
    protocols = {"stratified": None, "grouped": groups}
    # every (protocol, feature set, task) cross-validation is independent: one process each,
    # `threads` at a time, each with one BLAS thread (the fits are tiny: under Snakemake's
    # OMP_NUM_THREADS = the rule's threads, two-thread BLAS in each of two workers made the step
    # 4.7x slower, measured)
    from joblib import Parallel, delayed, parallel_config

    jobs = [(protocol, name, task) for protocol in protocols for name in PROTOCOL_FEATURE_SETS[protocol] for task in tasks]
    with parallel_config(backend="loky", inner_max_num_threads=1):
        results = Parallel(n_jobs=threads)(
            delayed(cross_validated_accuracy)(
                np.stack([f[FEATURE_SETS[name][0]] for f in chosen]), labels[tasks[task]], scramble=FEATURE_SETS[name][1],
                groups=protocols[protocol], **classifiers,
            )
            for protocol, name, task in jobs
        )
    accuracies = dict(zip(jobs, results))
    summaries, long = {}, []
    for protocol in protocols:
        chance = {"features": "Theoretical random (1/#classes)"}
        for task, key in tasks.items():
            chance[f"{task} mean"], chance[f"{task} se"] = 100.0 / len(np.unique(labels[key])), float("nan")
        summary = [chance]
        for name in PROTOCOL_FEATURE_SETS[protocol]:
            row = {"features": name}
            for task in tasks:
                accuracy = accuracies[(protocol, name, task)]
                values = 100.0 * np.array(list(accuracy.values()))
                row[f"{task} mean"] = float(values.mean())
                row[f"{task} se"] = float(values.std(ddof=1) / np.sqrt(len(values)))
                row[f"{task} classifiers"] = len(values)
                long += [
                    {"protocol": protocol, "features": name, "task": task, "classifier": c, "accuracy": 100.0 * a}
                    for c, a in accuracy.items()
                ]
            summary.append(row)
        summaries[protocol] = pd.DataFrame(summary)
    weight_decay = table.loc[classified, "weight_decay"].to_numpy()
    near = pd.DataFrame([
        {"features": name, **nearest_neighbour_siblings(np.stack([f[FEATURE_SETS[name][0]] for f in chosen]), groups, weight_decay)}
        for name, (_, scrambled) in FEATURE_SETS.items()
        if not scrambled
    ])
    by_wd = []
    for wd, group in table[classified].groupby("weight_decay"):
        by_wd.append({
            "weight_decay": str(wd), "optima": len(group),
            "tp_h0_mean": group["total_persistence_h0"].mean(), "tp_h0_se": group["total_persistence_h0"].sem(),
            "tp_h1_mean": group["total_persistence_h1"].mean(), "tp_h1_se": group["total_persistence_h1"].sem(),
            "test_loss_mean": group["optimum_test_loss"].mean(),
        })
    every = table[classified]
    by_wd.append({
        "weight_decay": "all (Spearman rho)", "optima": len(every),
        "rho_tp_h0_weight_decay": spearmanr(every["total_persistence_h0"], every["weight_decay"]).statistic,
        "rho_tp_h0_test_loss": spearmanr(every["total_persistence_h0"], every["optimum_test_loss"]).statistic,
        "rho_tp_h1_test_loss": spearmanr(every["total_persistence_h1"], every["optimum_test_loss"]).statistic,
    })
    tables = {
        "optima": (table, optima), "table1": (summaries["stratified"], table1), "table1_grouped": (summaries["grouped"], table1_grouped),
        "table1_by_classifier": (pd.DataFrame(long), table1_by_classifier), "siblings": (near, siblings),
        "persistence_by_weight_decay": (pd.DataFrame(by_wd), persistence_by_weight_decay),
    }
    for frame, path in tables.values():
        write_result_table(frame, path)
    return {name: frame for name, (frame, _) in tables.items()}


def tabulate_loss_landscape_claims(
    optima_table: str, table1_by_classifier: str, siblings: str, claims: str, *, complex: str, classifiers: Mapping
) -> pd.DataFrame:
    """The study's claims table (``claims.{csv,md,html}``) from its tables: Table 1 under both
    protocols, total persistence by weight decay and against test loss, the memorizer
    (:mod:`.claims`; every bootstrap seeded from ``classifiers.seed``)."""
    from ...claims import claims_frame, write_claims_table

    found = study_claims.loss_landscape_claims(
        pd.read_csv(optima_table), pd.read_csv(table1_by_classifier), pd.read_csv(siblings),
        complex=complex, folds=classifiers["folds"], repeats=classifiers["repeats"], seed=classifiers["seed"],
    )
    write_claims_table(found, claims)
    return claims_frame(found)


# ---------------------------------------------------------------------- embedding methods
def pca_of_gram(gram: np.ndarray, n_components: int = 2) -> np.ndarray:
    """PCA coordinates of the vectors behind a Gram matrix: the top eigenvectors of the centred
    Gram times the square roots of their eigenvalues (the same as PCA of the vectors, which are
    never materialized)."""
    g = np.asarray(gram, dtype=np.float64)
    n = len(g)
    centring = np.eye(n) - 1.0 / n
    values, vectors = np.linalg.eigh(centring @ g @ centring)
    top = np.argsort(values)[::-1][:n_components]
    return vectors[:, top] * np.sqrt(np.maximum(values[top], 0.0))


def _other_methods(distances: np.ndarray | None, points: np.ndarray | None, seed: int) -> dict[str, np.ndarray]:
    """t-SNE and UMAP (when umap-learn is installed), on precomputed distances or on points."""
    from sklearn.manifold import TSNE

    out = {}
    n = len(distances) if distances is not None else len(points)
    perplexity = min(30.0, (n - 1) / 3)  # t-SNE needs perplexity < n
    if distances is not None:
        out["t-SNE"] = TSNE(metric="precomputed", init="random", random_state=seed, perplexity=perplexity).fit_transform(distances)
    else:
        out["t-SNE"] = TSNE(random_state=seed, perplexity=perplexity).fit_transform(points)
    try:
        import umap
    except ImportError:  # pragma: no cover - umap-learn is in the pinned stack
        log.warning("umap-learn is not installed: Fig. 1 shows PHATE, t-SNE and PCA only")
        return out
    if distances is not None:
        out["UMAP"] = umap.UMAP(metric="precomputed", random_state=seed).fit_transform(distances)
    else:
        out["UMAP"] = umap.UMAP(random_state=seed).fit_transform(points)
    return out


def compare_embeddings(
    landscapes: Sequence[str],
    embedding_comparison: str,
    *,
    example: str | None,
    tree: Mapping,
    phate_knn: int,
    phate_seed: int,
) -> pd.DataFrame:
    """Fig. 1: PHATE, t-SNE, UMAP and PCA of one optimum's jump-and-retrain samples (cosine) and of
    an artificial tree (phate.tree.gen_dla). One row per (data set, method, point)."""
    import phate

    for path in landscapes:
        names = store.open_array_store(path).attrs["optima"]
        if example is None or example in names:
            o = 0 if example is None else names.index(example)
            break
    else:
        raise ValueError(f"loss_landscape.example {example!r} is in none of the landscape stores")
    gram = store.read_array(path, "jump_retrain/gram")[o]
    cosine = distance_kernels.cosine_distances_from_gram(gram)
    seeds = store.read_array(path, "jump_retrain/seed")
    epochs = store.read_array(path, "jump_retrain/epoch")
    frames = []

    def add(dataset, method, coords, group, order):
        frames.append(pd.DataFrame({"dataset": dataset, "method": method, "point": np.arange(len(coords)),
                                    "x": coords[:, 0], "y": coords[:, 1], "group": group, "order": order}))

    jr = {
        "PHATE": store.read_array(path, "jump_retrain/embedding")[o],
        **_other_methods(cosine, None, phate_seed),
        "PCA": pca_of_gram(gram),
    }
    for method, coords in jr.items():
        add(f"jump_retrain ({names[o]})", method, coords, seeds, epochs)
    points, branches = phate.tree.gen_dla(
        n_dim=tree["n_dim"], n_branch=tree["n_branch"], branch_length=tree["branch_length"], seed=tree["seed"]
    )
    tree_methods = {
        "PHATE": phate.PHATE(knn=phate_knn, random_state=phate_seed, verbose=0).fit_transform(points),
        **_other_methods(None, points, phate_seed),
        "PCA": pca_of_gram(points @ points.T),
    }
    order = np.arange(len(points)) % tree["branch_length"]
    for method, coords in tree_methods.items():
        add("tree", method, np.asarray(coords), branches, order)
    table = pd.concat(frames, ignore_index=True)
    store.write_table(table, embedding_comparison)
    return table
