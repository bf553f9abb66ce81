"""Loss-landscape study: its kernels by hand and against libraries, jump-and-retrain as a population
against each retraining alone, the alignment of samples and losses, and the study through Snakemake."""

import dask.array as da
import numpy as np
import pandas as pd
import pytest

from pipeline import store, zoo
from pipeline.config import validate_config
from pipeline.kernels import directions as landscape
from pipeline.kernels import distances, graphs, persistence
from pipeline.studies.loss_landscape import steps

# ------------------------------------------------------------------------------- directions


def test_filter_normalization_gives_each_filter_its_weights_norm():
    rng = np.random.default_rng(0)
    weights = {
        "conv.weight": rng.normal(size=(4, 3, 3, 3)),
        "fc.weight": rng.normal(size=(5, 7)) * np.arange(1, 6)[:, None],  # filters of different norms
        "fc.bias": rng.normal(size=5),
        "bn.weight": rng.normal(size=4),
    }
    direction = landscape.filter_normalize(landscape.random_direction({k: v.shape for k, v in weights.items()}, 3), weights)
    for name in ("conv.weight", "fc.weight"):
        w, d = weights[name], direction[name]
        np.testing.assert_allclose(
            np.linalg.norm(d.reshape(len(d), -1), axis=1), np.linalg.norm(w.reshape(len(w), -1), axis=1), rtol=1e-12
        )
    # biases and BatchNorm entries stay at the optimum
    assert not direction["fc.bias"].any() and not direction["bn.weight"].any()
    # the same seed, the same raw direction; another seed, another
    again = landscape.random_direction({"fc.weight": (5, 7)}, 3)["fc.weight"]
    np.testing.assert_array_equal(again, landscape.random_direction({"fc.weight": (5, 7), "x": (2,)}, 3)["fc.weight"])
    assert not np.allclose(again, landscape.random_direction({"fc.weight": (5, 7)}, 4)["fc.weight"])


def test_grid_leaves_out_the_optimum_and_combinations_have_the_basis_inner_products():
    grid = landscape.grid_coordinates(9, 1.0, 3)
    assert grid.shape == (9**3 - 1, 3) and not np.any(np.all(grid == 0, axis=1))
    assert landscape.grid_coordinates(8, 1.0, 3).shape == (512, 3)  # even: the centre is not on it
    rng = np.random.default_rng(1)
    origin = {"a.weight": rng.normal(size=(3, 4)), "b.weight": rng.normal(size=(2, 2))}
    seeds = [10, 11]
    basis = landscape.basis_gram(origin, seeds)
    directions = [landscape.filter_normalize(landscape.random_direction({k: v.shape for k, v in origin.items()}, s), origin) for s in seeds]
    coefficients = np.array([[0.0, 0.0], [0.5, -1.0], [1.0, 0.25]])
    points = landscape.combine(origin, directions, coefficients)
    flat = np.concatenate([points[k].reshape(3, -1).astype(np.float64) for k in origin], axis=1)
    np.testing.assert_allclose(landscape.gram_of_combinations(basis, coefficients), flat @ flat.T, rtol=1e-6)


def test_streamed_cosine_gram_equals_the_in_memory_one():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(12, 500))
    lazy = da.from_array(x, chunks=(12, 37))
    np.testing.assert_allclose(distances.gram_matrix(lazy), x @ x.T, rtol=1e-12)
    cosine = distances.cosine_distances_from_gram(x @ x.T)
    from scipy.spatial.distance import cdist

    np.testing.assert_allclose(cosine, cdist(x, x, metric="cosine"), atol=1e-12)


# ---------------------------------------------------------------------------------- topology


def test_knn_graph_joins_nearest_not_farthest_neighbours():
    points = np.array([[0.0], [1.0], [3.0], [10.0]])
    adjacency = graphs.knn_adjacency_of_distances(distances.pairwise_distances(points), 1)
    # nearest: 0-1, 1-0, 3 -> 1, 10 -> 3; the public code's "largest entries" would join 0 and 10
    assert graphs.edges_of(adjacency).tolist() == [[0, 1], [1, 2], [2, 3]]


def test_graph_persistence_of_hand_built_graphs():
    # a 4-cycle 0-1-2-3 (values 0, 2, 1, 3) with a pendant vertex 4 (value 5) at 3
    values = np.array([0.0, 2.0, 1.0, 3.0, 5.0])
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [3, 4]])
    for complex_name in ("graph", "flag"):  # no triangle: both complexes agree
        h0, h1 = persistence.graph_persistence(values, edges, complex_name)
        # component of 2 (born 1) joins that of 0 at 2; the component of 0 never dies
        assert sorted(map(tuple, h0)) == [(0.0, np.inf), (1.0, 2.0)]
        # the cycle closes at 3 and never dies
        assert sorted(map(tuple, h1)) == [(3.0, np.inf)]
        # the public code's convention closes them at the largest value, 5
        assert sorted(map(tuple, persistence.close_essential(h0, 5.0))) == [(0.0, 5.0), (1.0, 2.0)]
        assert persistence.close_essential(h1, 5.0).tolist() == [[3.0, 5.0]]
    # a triangle 0-1-2 (values 0, 1, 2) with a pendant vertex 3 (value 4): the flag complex fills it
    values = np.array([0.0, 1.0, 2.0, 4.0])
    edges = np.array([[0, 1], [1, 2], [0, 2], [2, 3]])
    assert persistence.graph_persistence(values, edges, "graph")[1].tolist() == [[2.0, np.inf]]
    assert persistence.graph_persistence(values, edges, "flag")[1].tolist() == []
    assert persistence.total_persistence(np.array([[0.0, 4.0]])) == 16.0  # sum (d - b)^2


def test_graph_convention_equals_gudhi_on_random_graphs():
    import gudhi

    rng = np.random.default_rng(3)
    for _ in range(5):
        points, values = rng.normal(size=(50, 3)), rng.normal(size=50)
        edges = graphs.edges_of(graphs.knn_adjacency_of_distances(distances.pairwise_distances(points), 3))
        top = max(values.max(), max(max(values[i], values[j]) for i, j in edges))
        ours = [persistence.close_essential(d, top) for d in persistence.graph_persistence(values, edges, "graph")]
        tree = gudhi.SimplexTree()
        for i, v in enumerate(values):
            tree.insert([i], filtration=v)
        for i, j in edges:
            tree.insert([int(i), int(j)], filtration=max(values[i], values[j]))
        tree.compute_persistence(homology_coeff_field=2, min_persistence=0.0, persistence_dim_max=True)
        for dim in (0, 1):
            theirs = tree.persistence_intervals_in_dimension(dim)
            theirs[~np.isfinite(theirs[:, 1]), 1] = top
            theirs = theirs[theirs[:, 1] > theirs[:, 0]]
            order = lambda d: d[np.lexsort((d[:, 1], d[:, 0]))]  # noqa: E731
            np.testing.assert_allclose(order(ours[dim]), order(theirs))


def test_two_well_function_gives_its_two_h0_pairs_on_the_flag_complex():
    x = np.linspace(-2, 2, 81)
    f = (x**2 - 1) ** 2 + 0.3 * x  # wells near -1 (deeper) and +1, barrier near 0
    # k = 2 on evenly spaced points: each joined to its neighbours, so the wells meet over the barrier
    # (a larger k would join points across the barrier's top and lower the death to the next value)
    edges = graphs.edges_of(graphs.knn_adjacency_of_distances(distances.pairwise_distances(x[:, None]), 2))
    h0, _ = persistence.graph_persistence(f, edges, "flag")
    left, right = np.argmin(np.where(x < 0, f, np.inf)), np.argmin(np.where(x > 0, f, np.inf))
    barrier = f[left : right + 1].max()
    # the deeper well's component never dies; the other dies at the barrier between them
    expected = sorted([(f.min(), np.inf), (f[right], barrier)])
    np.testing.assert_allclose(sorted(map(tuple, h0)), expected)


# --------------------------------------------------------------------- sampling, retraining
def _tiny_optima(tmp_path, **sweep):
    config = validate_config({"sweeps": {"s": {
        "dataset": "digits", "dataset_options": {"n_samples": 200}, "architecture": {"name": "mlp", "hidden": [8]},
        "grid": {"lr": [0.1], "weight_decay": [0.0, 1e-3]}, "epochs": 2, "batch_size": 50, "population_size": 2,
        "schedule": {"milestones": [0.5], "gamma": 0.1}, **sweep,
    }}})
    path = tmp_path / "population_000.zarr"
    zoo.train_population_job(zoo.population_spec(config, "s", 0), path, progress=False)
    return str(path)


def test_a_population_retraining_equals_each_retraining_alone(tmp_path):
    from pipeline.data import load_dataset
    from pipeline.train import population_from_states

    optima = _tiny_optima(tmp_path)
    retrain = {"epochs": 2, "lr": None, "momentum": None, "weight_decay": None}
    jr = str(tmp_path / "jump_retrain.zarr")
    steps.sample_jump_retrain(optima, jr, seeds=[0, 1], step_sizes=[0.5, 1.0], retrain=retrain, threads=1)
    spec = store.open_population(jr).attrs["spec"]
    assert len(spec["members"]) == 2 * 2 * 2
    member = spec["members"][5]  # optimum 1, seed 0, step 1.0
    assert (member["optimum"], member["seed"], member["step_size"]) == (1, 0, 1.0)
    assert member["lr"] == pytest.approx(0.1 * 0.1)  # the optimum's final learning rate
    # the same retraining, alone
    alone = {**spec, "members": [{**member, "member": 0}]}
    params, buffers = store.read_final_params(optima)
    data = load_dataset("digits", n_samples=200)
    start = population_from_states(spec["architecture"], data.input_shape, 10, steps.jump_states(params, alone["members"]), {})
    single = zoo.run_population(alone, tmp_path / "alone.zarr", data, start, progress=False)
    together, _ = store.read_final_params(jr)
    by_itself, _ = store.read_final_params(single)
    for name in together:
        np.testing.assert_allclose(together[name][5], by_itself[name][0], rtol=1e-6, atol=1e-6)
    # the first snapshot is the jump: the optimum plus its step times the normalized direction
    first = store.snapshot_arrays(jr)["layers.0.weight"][5, 0].compute()
    weights = {k: v[1] for k, v in params.items()}
    direction = landscape.filter_normalize(landscape.random_direction({k: v.shape for k, v in weights.items()}, 0), weights)
    np.testing.assert_allclose(first, weights["layers.0.weight"] + direction["layers.0.weight"], rtol=1e-6)


@pytest.mark.slow
def test_every_sample_carries_its_own_loss(finished_test_run):
    base = finished_test_run / "results/loss_landscape/mlp_landscape__augmentTrue/population_000"
    jr = base / "jump_retrain.zarr"
    spec = store.open_population(jr).attrs["spec"]
    recorded = store.read_snapshot_metrics(jr)["train_loss"]
    values = store.read_array(base / "landscape.zarr", "jump_retrain/train_loss")
    seeds = store.read_array(base / "landscape.zarr", "jump_retrain/seed")
    steps_ = store.read_array(base / "landscape.zarr", "jump_retrain/step_size")
    epochs = store.read_array(base / "landscape.zarr", "jump_retrain/epoch")
    for o in range(values.shape[0]):
        assert values[o, 0] == pytest.approx(store.read_array(base / "probes.zarr", "optimum/train_loss")[o])
        for i in range(1, values.shape[1]):
            [member] = [m["member"] for m in spec["members"] if (m["optimum"], m["seed"], m["step_size"]) == (o, seeds[i], steps_[i])]
            assert values[o, i] == recorded[member, epochs[i]]
    assert values.shape[1] == 1 + 2 * 2 * (2 + 1)  # optimum + seeds x steps x (jump + 2 epochs)


@pytest.mark.slow
def test_study_runs_end_to_end(finished_test_run):
    base = finished_test_run / "results/loss_landscape"
    table1 = pd.read_csv(base / "tables/table1.csv")
    assert len(table1) == 7 and table1.iloc[0]["features"].startswith("Theoretical random")
    assert table1.filter(like="mean").iloc[1:].apply(lambda c: c.between(0, 100)).all().all()
    optima = pd.read_csv(base / "tables/optima.csv")
    assert len(optima) == 8 + 1 and optima["memorization"].sum() == 1
    # filling triangles only shortens cycles, and the flag convention leaves the essential ones out
    assert (optima["tp_flag_h1"] <= optima["tp_graph_h1"] + 1e-12).all()
    for name in ("embedding_methods", "samplings", "good_bad_memorization", "total_persistence"):
        assert (base / f"figures/{name}.png").stat().st_size > 5000
    comparison = store.read_table(base / "embedding_comparison.parquet")
    assert {"PHATE", "t-SNE", "PCA", "UMAP"} <= set(comparison["method"])
    # Table 1 under both protocols; the claims table: every claim, each verdict one of the rule's
    from pipeline.claims import VERDICTS

    grouped = pd.read_csv(base / "tables/table1_grouped.csv")
    assert list(grouped["features"]) == [table1["features"][0], *steps.PROTOCOL_FEATURE_SETS["grouped"]]
    assert set(pd.read_csv(base / "tables/table1_by_classifier.csv")["protocol"]) == {"stratified", "grouped"}
    claims = pd.read_csv(base / "tables/claims.csv")
    assert {"T1-wd-order", "T1g-wd-order", "T1-gen-control", "TP-weight-decay", "TP-test-loss", "M-memorizes"} <= set(claims["id"])
    assert set(claims["verdict"]) <= set(VERDICTS)


@pytest.mark.parametrize(
    "block, key, items",
    [
        ({"seeds": [0], "step_sizes": [0.5], "retrain": {"epochs": 1}}, "loss_landscape.seeds", 3),
        ({"naive_directions": 1, "step_sizes": [0.5, 1.0]}, "loss_landscape.naive_directions", 3),
    ],
)
def test_too_few_samples_for_phate_are_refused_before_any_job(block, key, items):
    from pipeline.config import ConfigError
    from pipeline.kernels.embedding import PHATE_MIN_ITEMS, phate_embedding

    grid = {"weight_decay": [0.0, 1e-4, 1e-3, 1e-2]}
    sweeps = {"s": {"dataset": "digits", "architecture": {"name": "mlp", "hidden": [8]}, "grid": grid}}
    base = {"sweeps": ["s"], "generalization_classes": 2, "classifiers": {"folds": 2}}
    with pytest.raises(ConfigError) as info:
        validate_config({"sweeps": sweeps, "loss_landscape": {**base, **block}})
    assert f"config key '{key}'" in str(info.value) and f"gives {items} items" in str(info.value)
    # the check's threshold is the embedding's own: one item fewer fails there, at run time
    with pytest.raises(ValueError, match="PHATE needs"):
        phate_embedding(np.ones((PHATE_MIN_ITEMS - 1,) * 2) - np.eye(PHATE_MIN_ITEMS - 1), 2, 0)
    validate_config({"sweeps": sweeps, "loss_landscape": {**base, "seeds": [0], "step_sizes": [0.5], "retrain": {"epochs": 2}}})


def test_half_precision_retrained_snapshots_keep_the_gram_within_its_stated_bound():
    # the bound of loss_landscape.retrain.snapshot_dtype: an optimum, jumps of every step size
    # along norm-matched random directions, retrainings that return towards it with SGD noise
    from pipeline.kernels import distances as distance_kernels
    from pipeline.studies.loss_landscape.steps import jump_retrain_spec

    rng = np.random.default_rng(0)
    optimum = rng.normal(0, 0.05, 60_000).astype(np.float32)
    rows = [optimum]
    for _ in range(4):
        direction = rng.normal(0, 1, optimum.size)
        direction *= np.linalg.norm(optimum) / np.linalg.norm(direction)
        for step in (0.25, 0.5, 0.75, 1.0):
            for epoch in range(10):
                rows.append((optimum + step * direction * 0.6**epoch + rng.normal(0, 1e-3, optimum.size)).astype(np.float32))
    vectors = np.stack(rows)
    exact = distance_kernels.cosine_distances_from_gram(distance_kernels.gram_matrix(vectors))
    half = distance_kernels.cosine_distances_from_gram(distance_kernels.gram_matrix(vectors.astype(np.float16).astype(np.float32)))
    apart = ~np.eye(len(vectors), dtype=bool)
    assert exact[apart].min() < 1e-3 and exact.max() > 0.4  # the span of distances the bound is stated for
    error = np.abs(half - exact)
    assert error.max() < 1e-5 and (error[apart] / exact[apart]).max() < 1e-3
    # and the setting reaches the retraining's spec (null: the optimum's storage)
    spec = {"training": {"schedule": {"milestones": [], "gamma": 0.1}, "snapshot_dtype": "float32", "epochs": 1},
            "members": [], "sweep": "s", "population": 0, "dataset": "digits", "dataset_options": {}, "architecture": {}}
    retrain = {"epochs": 2, "lr": None, "momentum": None, "weight_decay": None}
    assert jump_retrain_spec(spec, [0], [1.0], {**retrain, "snapshot_dtype": "float16"})["training"]["snapshot_dtype"] == "float16"
    assert jump_retrain_spec(spec, [0], [1.0], {**retrain, "snapshot_dtype": None})["training"]["snapshot_dtype"] == "float32"


# ------------------------------------------------------------------------------- claims


def _sibling_table(groups: int, decays=(0.0, 1e-4, 1e-3)) -> pd.DataFrame:
    """Optima in sibling groups: the same sweep, learning rate and initialization, one per weight decay."""
    rows = [
        {"sweep": f"s{g % 2}", "lr": 0.1 * (1 + g // 2), "momentum": 0.9, "weight_decay": wd, "init_seed": 0, "label_noise": 0.0}
        for g in range(groups)
        for wd in decays
    ]
    return pd.DataFrame(rows)


def test_siblings_are_the_optima_that_differ_only_in_weight_decay_and_are_each_others_nearest():
    table = _sibling_table(6)
    groups = steps.sibling_groups(table)
    assert len(np.unique(groups)) == 6 and all(np.bincount(groups) == 3)
    for g in np.unique(groups):
        members = table[groups == g]
        assert members["weight_decay"].nunique() == 3 and len(members.drop(columns="weight_decay").drop_duplicates()) == 1
    # near-duplicate features within each group: every nearest neighbour is a sibling, never of the same weight decay
    rng = np.random.default_rng(0)
    features = rng.normal(size=(6, 5))[groups] + 1e-3 * rng.normal(size=(18, 5))
    found = steps.nearest_neighbour_siblings(features, groups, table["weight_decay"].to_numpy())
    assert found["nn_is_sibling"] == 1.0 and found["nn_same_weight_decay"] == 0.0
    assert found["random_is_sibling"] == pytest.approx(2 / 17) and found["random_same_weight_decay"] == pytest.approx(5 / 17)


def test_grouped_folds_remove_what_near_duplicate_siblings_leak_into_stratified_folds():
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    # the label is a property of the group (as augmentation is) that the features do not carry
    # across groups: only a sibling in the training folds gives it away
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(12), 3)
    labels = np.repeat(np.arange(12) % 2, 3)
    features = rng.normal(size=(12, 3))[groups] + 1e-3 * rng.normal(size=(36, 3))
    stratified = steps.fold_splits(labels, None, 3, seed=0)
    grouped = steps.fold_splits(labels, groups, 3, seed=0)
    for splits in (stratified, grouped):  # every optimum tested exactly once
        assert sorted(np.concatenate([test for _, test in splits]).tolist()) == list(range(36))
    assert all(not set(groups[train]) & set(groups[test]) for train, test in grouped)
    assert all(np.bincount(labels[test], minlength=2).min() > 0 for _, test in grouped)  # stratified as groups allow
    assert any(set(groups[train]) & set(groups[test]) for train, test in stratified)
    nearest = KNeighborsClassifier(1)
    assert cross_val_score(nearest, features, labels, cv=stratified).mean() > 0.9  # a sibling answers
    assert cross_val_score(nearest, features, labels, cv=grouped).mean() < 0.7  # no sibling: about chance


def _claims_inputs(jr_gain: float, memorizer_accuracy: float | None, tp_by_decay=(3.0, 2.0, 1.0)):
    """Hand-made tables: 11 classifiers whose accuracy is grid + noise, naive = grid + 4,
    J&R = naive + jr_gain; 8 sibling groups; total persistence by weight decay."""
    from pipeline.studies.loss_landscape import claims as ll_claims

    rng = np.random.default_rng(2)
    classifiers = [f"c{i}" for i in range(11)]
    chance = {"5-class generalization": 20.0, "weight decay": 100 / 3, "data augmentation": 50.0}
    rows = []
    for protocol in ("stratified", "grouped"):
        for task, level in chance.items():
            grid = level + 10 + rng.normal(0, 3, 11)
            sets = {ll_claims.GRID: grid, ll_claims.NAIVE: grid + 4, ll_claims.JUMP_RETRAIN: grid + 4 + jr_gain,
                    ll_claims.CONTROL: level + rng.normal(0, 1, 11)}
            rows += [{"protocol": protocol, "features": f, "task": task, "classifier": c, "accuracy": a}
                     for f, values in sets.items() for c, a in zip(classifiers, values)]
    by_classifier = pd.DataFrame(rows)
    optima = _sibling_table(8).assign(augment=lambda t: t["sweep"] == "s0", memorization=False)
    optima["sibling_group"] = steps.sibling_groups(optima)
    optima["generalization_class"] = np.arange(len(optima)) % 5
    decay_index = optima["weight_decay"].rank(method="dense").astype(int) - 1
    optima["total_persistence_h0"] = np.take(tp_by_decay, decay_index) + rng.uniform(0, 0.1, len(optima))
    optima["tp_flag_h0"] = optima["total_persistence_h0"]
    optima["tp_graph_h0"] = 10 * optima["total_persistence_h0"]
    optima["optimum_test_loss"] = optima["total_persistence_h0"] + rng.uniform(0, 0.01, len(optima))
    optima["optimum_train_accuracy"], optima["optimum_test_accuracy"] = 1.0, 0.9
    if memorizer_accuracy is not None:
        memorizer = optima.iloc[:1].assign(memorization=True, optimum_train_accuracy=memorizer_accuracy, optimum_test_accuracy=0.1,
                                           sibling_group=-1, generalization_class=-1)
        optima = pd.concat([optima, memorizer], ignore_index=True)
    siblings = pd.DataFrame([{"features": ll_claims.JUMP_RETRAIN, "nn_is_sibling": 0.9, "nn_same_weight_decay": 0.0,
                              "random_is_sibling": 0.09, "random_same_weight_decay": 0.3}])
    found = ll_claims.loss_landscape_claims(optima, by_classifier, siblings, complex="flag", folds=4, repeats=1, seed=0, n_resamples=300)
    return {c.id: c for c in found}, by_classifier


def test_claims_from_hand_made_tables_follow_their_rules():
    from pipeline.claims import NOT_REPRODUCED, NOT_TESTABLE, PARTLY, REPRODUCED

    claims, by_classifier = _claims_inputs(jr_gain=6.0, memorizer_accuracy=1.0)
    assert {f"{p}-{t}-{k}" for p in ("T1", "T1g") for t in ("gen", "wd", "aug") for k in ("order", "jr")} <= set(claims)
    # the ordering's statistic is the smaller mean paired difference: naive - grid = 4 exactly
    order = claims["T1-wd-order"]
    assert order.value == pytest.approx(4.0) and order.low == pytest.approx(4.0) and order.verdict == REPRODUCED
    wd = by_classifier[(by_classifier["protocol"] == "stratified") & (by_classifier["task"] == "weight decay")]
    jr = wd[wd["features"].str.startswith("J&R")]["accuracy"].mean()
    assert claims["T1-wd-jr"].value == pytest.approx(jr - 100 / 3) and claims["T1-wd-jr"].low < claims["T1-wd-jr"].value
    assert "sibling 90 %" in claims["T1-wd-order"].scale_note  # the nearest-neighbour fact, from the siblings table
    assert claims["T1-aug-control"].value < 1.5 and claims["T1-aug-control"].verdict == REPRODUCED
    assert claims["TP-weight-decay"].value == pytest.approx(1.0, abs=0.1) and claims["TP-weight-decay"].verdict == REPRODUCED
    assert claims["TP-test-loss"].value > 0.9 and claims["TP-test-loss"].verdict == REPRODUCED
    assert claims["M-memorizes"].verdict == REPRODUCED
    # J&R below naive: the ordering fails; persistence rising with weight decay; a memorizer at 0.95
    claims, _ = _claims_inputs(jr_gain=-6.0, memorizer_accuracy=0.95, tp_by_decay=(1.0, 2.0, 3.0))
    assert claims["T1-gen-order"].value == pytest.approx(-6.0) and claims["T1-gen-order"].verdict == NOT_REPRODUCED
    assert claims["TP-weight-decay"].verdict == NOT_REPRODUCED and claims["M-memorizes"].verdict == PARTLY
    # no memorizer, no topology (every total persistence 0): not testable, never a verdict
    claims, _ = _claims_inputs(jr_gain=6.0, memorizer_accuracy=None, tp_by_decay=(0.0, 0.0, 0.0))
    assert claims["M-memorizes"].verdict == NOT_TESTABLE
