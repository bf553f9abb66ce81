"""Network-manifold study: every step in-process on tiny hand-made stores against a direct
computation, and the whole study through Snakemake."""

import numpy as np
import pandas as pd
import pytest
from conftest import TEST_RESULTS

from pipeline import store
from pipeline.kernels import diffusion, distances, embedding, graphs, persistence
from pipeline.kernels.clustering import class_structure
from pipeline.studies.network_manifold import steps
from pipeline.studies.network_manifold.steps import suggest_from_top

# Four networks (PHATE needs four items), six points in the plane each, two classes: known
# activations.
ACTIVATIONS = np.array(
    [
        [[0, 0], [0.2, 0], [0, 0.3], [3, 3], [3.1, 3], [3, 3.4]],
        [[0, 0], [1, 0], [2, 0], [3, 0], [4, 0], [5, 0]],
        [[0, 0], [0.1, 0.1], [0.2, 0], [0.1, 0.5], [0, 0.9], [0.3, 0.2]],
        [[1, 1], [1.5, 1], [1, 2], [2, 1], [2.5, 2.5], [0, 0.5]],
    ],
    dtype=np.float32,
)
LABELS = np.array([0, 0, 0, 1, 1, 1])
WEIGHTS = {  # two layers of weights per network, as extract_representations stores them
    "layers.0.weight": np.arange(4 * 8, dtype=np.float32).reshape(4, 8) ** 0.5,
    "layers.1.weight": np.array([[1.0, 2.0], [0.0, -1.0], [4.0, 4.0], [2.0, 0.5]], dtype=np.float32),
}
NETWORKS = [
    {"member": i, "network": f"n{i}", "lr": lr, "momentum": 0.9, "weight_decay": wd, "init_seed": 0, "label_noise": 0.0,
     "test_accuracy": acc}
    for i, (lr, wd, acc) in enumerate([(0.1, 0.0, 0.9), (0.01, 1e-4, 0.5), (0.05, 1e-3, 0.7), (0.2, 1e-4, 0.6)])
]


@pytest.fixture
def representations(tmp_path):
    path = tmp_path / "representations.zarr"
    arrays = {
        "activations": ACTIVATIONS,
        "labels": LABELS,
        "test_accuracy": np.array([n["test_accuracy"] for n in NETWORKS]),
        **{f"weights/{k}": v for k, v in WEIGHTS.items()},
    }
    store.write_array_store(path, arrays, {"weight_names": list(WEIGHTS), "networks": NETWORKS, "layer": "hidden1"})
    return str(path)


@pytest.fixture
def matrices(representations, tmp_path):
    path = str(tmp_path / "matrices.zarr")
    steps.compute_network_matrices(representations, path, sigma=0.7, bandwidth="absolute", knn=2, threads=1)
    return path


def test_matrices_are_each_networks_operator_distances_and_knn(matrices):
    for i, points in enumerate(ACTIVATIONS.astype(np.float64)):
        np.testing.assert_allclose(store.read_array(matrices, "diffusion")[i], diffusion.diffusion_operator(points, 0.7))
        np.testing.assert_allclose(store.read_array(matrices, "distance")[i], distances.pairwise_distances(points))
        np.testing.assert_array_equal(store.read_array(matrices, "knn")[i], graphs.knn_adjacency(points, 2))


def test_network_distances_and_the_combined_weight_distance(representations, matrices, tmp_path):
    out = str(tmp_path / "distances.zarr")
    steps.compute_network_distances(representations, matrices, out, threads=1)
    operators = [diffusion.diffusion_operator(p, 0.7) for p in ACTIVATIONS.astype(np.float64)]
    np.testing.assert_allclose(store.read_array(out, "diffusion"), distances.direct_frobenius_distances(np.stack(operators)), atol=1e-12)
    # all layers together: the distance between the networks' concatenated weights
    concatenated = np.concatenate([WEIGHTS["layers.0.weight"], WEIGHTS["layers.1.weight"]], axis=1).astype(np.float64)
    for i in range(4):
        for j in range(4):
            assert store.read_array(out, "weights")[i, j] == pytest.approx(np.linalg.norm(concatenated[i] - concatenated[j]))
    np.testing.assert_allclose(
        store.read_array(out, "weights_by_layer/layers.1.weight"),
        distances.direct_frobenius_distances(WEIGHTS["layers.1.weight"]),
        atol=1e-6,
    )


def test_characterization_from_the_stored_operators(representations, matrices, tmp_path):
    table = steps.characterize_networks(
        representations, matrices, str(tmp_path / "c.parquet"), str(tmp_path / "c.zarr"), entropy_t=2.0, n_clusters=2, threads=1
    )
    for i, points in enumerate(ACTIVATIONS.astype(np.float64)):
        kernel = diffusion.gaussian_kernel(points, 0.7)  # from the points, not the store
        assert table["entropy"][i] == pytest.approx(diffusion.diffusion_spectral_entropy(kernel, 2.0), rel=1e-9)
        assert table["dsmi"][i] == pytest.approx(diffusion.diffusion_spectral_mutual_information(kernel, LABELS, 2.0), rel=1e-9)
        structure = class_structure(points, LABELS)
        assert table["centroid_distance"][i] == pytest.approx(structure["centroid_distance"])
    # network 0 is two tight, far-apart classes: Ward with 2 clusters finds them exactly
    assert table["ari"][0] == pytest.approx(1.0)
    arrays = store.open_array_store(tmp_path / "c.zarr")
    assert arrays["linkage"].shape == (4, 5, 4) and arrays.attrs["sigma"] == 0.7


def test_persistence_of_known_point_sets(representations, tmp_path):
    out = str(tmp_path / "p.zarr")
    steps.compute_persistence(representations, out, homology_max_dim=1, wasserstein_order=1.0, threads=1)
    rows = store.read_array(out, "diagrams")
    h0 = rows[(rows[:, 0] == 1) & (rows[:, 1] == 0)]
    # network 1: six points 1 apart on a line: five finite H0 bars dying at 1, one infinite
    np.testing.assert_allclose(np.sort(h0[:, 3])[:5], 1.0)
    assert np.isinf(h0[:, 3]).sum() == 1
    expected = persistence.wasserstein_distance(
        persistence.vietoris_rips_diagrams(ACTIVATIONS[0].astype(np.float64), 1)[0],
        persistence.vietoris_rips_diagrams(ACTIVATIONS[1].astype(np.float64), 1)[0],
    )
    assert store.read_array(out, "wasserstein/H0")[0, 1] == pytest.approx(expected)


def test_embeddings_are_phate_of_the_stored_distances(representations, matrices, tmp_path):
    dist = str(tmp_path / "distances.zarr")
    steps.compute_network_distances(representations, matrices, dist, threads=1)
    ph = str(tmp_path / "persistence.zarr")
    steps.compute_persistence(representations, ph, homology_max_dim=0, wasserstein_order=1.0, threads=1)
    emb, hidden = str(tmp_path / "e.parquet"), str(tmp_path / "h.parquet")
    table = steps.embed_networks(representations, dist, ph, emb, hidden, phate_knn=5, phate_seed=3)
    assert list(dict.fromkeys(table["kind"])) == ["diffusion", "distance", "knn", "weights", "wasserstein"]
    for kind, source, name in (("weights", dist, "weights"), ("wasserstein", ph, "wasserstein/total")):
        direct = embedding.phate_embedding(store.read_array(source, name), 5, 3)
        np.testing.assert_allclose(table[table["kind"] == kind][["phate1", "phate2"]].to_numpy(), direct)
    rows = store.read_table(hidden)
    # the 4 best and 4 worst of 4 networks: each network once per group, in accuracy order
    assert rows[rows["group"] == "best"].groupby("rank")["network"].first().tolist() == [0, 2, 3, 1]
    assert rows["label"].tolist()[:6] == LABELS.tolist()
    best = rows[(rows["group"] == "best") & (rows["rank"] == 0)]
    direct = embedding.phate_embedding(distances.pairwise_distances(ACTIVATIONS[0].astype(np.float64)), 5, 3)
    np.testing.assert_allclose(best[["phate1", "phate2"]].to_numpy(), direct)


def _features(tmp_path, weight_decay):
    frame = pd.DataFrame(NETWORKS[:3]).assign(
        weight_decay=weight_decay, centroid_distance=[3.0, 1.0, 2.0], within_class_variance=[0.1, 0.3, 0.2],
        ari=[1.0, 0.0, 0.5], entropy=[0.2, 0.9, 0.5], dsmi=[0.6, 0.1, 0.3],
    )
    store.write_table(frame, tmp_path / "features.parquet")
    return frame


def test_tables_from_hand_made_inputs(tmp_path):
    # Table 1 on a hand-made embedding: 4 networks on a unit square, the 2 best on one side
    coords = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    emb = pd.DataFrame({"kind": "diffusion", "test_accuracy": [0.9, 0.8, 0.1, 0.2], "phate1": coords[:, 0], "phate2": coords[:, 1]})
    store.write_table(emb, tmp_path / "emb.parquet")
    features = _features(tmp_path, weight_decay=[0.0, 1e-4, 1e-3])  # a grid holding 0, as in the loss-landscape sweeps
    d = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 1.5], [2.0, 1.5, 0.0]])
    store.write_array_store(tmp_path / "d.zarr", {"diffusion": d})
    out = {name: str(tmp_path / "tables" / f"{name}.html") for name in ("table1", "characterization_r2", "gft_smoothness")}
    frames = steps.tabulate_network_manifold(
        [str(tmp_path / "emb.parquet")], [str(tmp_path / "features.parquet")], [str(tmp_path / "d.zarr")],
        sweeps=["s"], top=[2, 3, 4], gft_knn=1, **out,
    )
    # mean over all 6 pairs: (4 * 1 + 2 * sqrt 2) / 6; the best two are 1 apart
    overall = (4 + 2 * np.sqrt(2)) / 6
    assert frames["table1"]["top2"][0] == pytest.approx(1 / overall)
    assert np.isnan(frames["table1"]["top4"][0])  # not fewer than all networks
    r2 = np.corrcoef(features["test_accuracy"], features["entropy"])[0, 1] ** 2
    assert frames["characterization_r2"]["entropy"][0] == pytest.approx(r2)
    affinity = graphs.affinity_from_distances(d, 1)
    expected = graphs.laplacian_smoothness(affinity, np.log10([0.0 + 1e-4, 2e-4, 1.1e-3]))
    assert frames["gft_smoothness"]["weight_decay"][0] == pytest.approx(expected)
    assert np.isfinite(frames["gft_smoothness"].drop(columns="sweep").to_numpy()).all()
    assert pd.read_csv(tmp_path / "tables" / "table1.csv")["top2"][0] == pytest.approx(1 / overall, abs=1e-4)


def test_hyperparameter_suggestion_rule():
    table = pd.DataFrame(
        {
            "lr": [0.1, 0.1, 0.1, 0.2, 0.01],
            "momentum": [0.9, 0.8, 0.9, 0.9, 0.5],
            "weight_decay": [1e-4, 1e-3, 1e-5, 1e-4, 1e-4],
            "test_accuracy": [0.97, 0.96, 0.95, 0.94, 0.10],
        }
    )
    suggestion = suggest_from_top(table, top=4)
    assert suggestion["lr"] == 0.1  # the most common rate among the top 4
    # momenta among those: 0.9 twice, 0.8 once -> mean of 0.9 and 0.8
    assert suggestion["momentum"] == pytest.approx(0.85)
    # decays all once: ties broken by mean accuracy -> 1e-4 (0.97) and 1e-3 (0.96)
    assert suggestion["weight_decay"] == pytest.approx(5.5e-4)


def test_class_structure_by_hand():
    # two classes, centroids at (0, 0) and (3, 4): distance 5; each point 1 from its centroid
    points = np.array([[1.0, 0], [-1, 0], [3, 5], [3, 3]])
    labels = np.array([0, 0, 1, 1])
    result = class_structure(points, labels)
    assert result["centroid_distance"] == pytest.approx(5.0)
    assert result["within_class_variance"] == pytest.approx(1.0)
    assert result["centroid_matrix"].shape == (2, 2)


def test_ward_recovers_separated_clusters():
    from pipeline.kernels.clustering import ward_labels

    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]])
    points = np.concatenate([c + 0.1 * rng.normal(size=(20, 2)) for c in centres])
    clusters = ward_labels(points, 3)
    assert len(set(clusters[:20])) == len(set(clusters[20:40])) == len(set(clusters[40:])) == 1
    assert len(set(clusters)) == 3


# ------------------------------------------------------------------- from training stores
def _sweep(tmp_path, sizes=(2, 2)):
    """Finished population stores of tiny MLPs with random weights on digits, and their metrics."""
    from pipeline.models import build_model

    architecture = {"name": "mlp", "hidden": [6]}
    model = build_model(architecture, (1, 8, 8), 10)
    shapes = {k: tuple(v.shape) for k, v in model.named_parameters()}
    rng = np.random.default_rng(0)
    paths, rows, finals, start = [], [], [], 0
    for p, size in enumerate(sizes):
        members = [{"member": start + i, "network": f"n{start + i}"} for i in range(size)]
        spec = {"sweep": "s", "population": p, "dataset": "digits", "dataset_options": {}, "architecture": architecture,
                "members": members}
        path = tmp_path / f"population_{p:03d}.zarr"
        root = store.create_population_store(store.partial_path(path), spec, shapes, {}, 1, 1)
        params = {k: rng.normal(size=(size, *s)).astype(np.float32) for k, s in shapes.items()}
        store.finalize_store(root, path, params, {})
        paths.append(str(path))
        finals.append(params)
        rows += [{"member": m["member"], "test_accuracy": 0.5 + 0.1 * m["member"]} for m in members]
        start += size
    store.write_table(pd.DataFrame(rows), tmp_path / "metrics.parquet")
    return paths, str(tmp_path / "metrics.parquet"), architecture, finals


def test_representations_are_each_networks_activations(tmp_path):
    import torch

    from pipeline.data import evaluation_subset, load_dataset
    from pipeline.models import build_model

    paths, metrics, architecture, finals = _sweep(tmp_path)
    out = str(tmp_path / "representations.zarr")
    steps.extract_representations(paths, metrics, out, layer="penultimate", n_points=20, eval_seed=1)
    data = load_dataset("digits")
    x = data.x_test[evaluation_subset(data, 20, 1)]
    stored = store.read_array(out, "activations")
    for network in range(4):
        params = finals[network // 2]
        model = build_model(architecture, data.input_shape, 10)
        model.load_state_dict({k: torch.as_tensor(v[network % 2]) for k, v in params.items()})
        expected = model.eval()(x, return_activations=True)[1]["hidden1"].detach().numpy()
        np.testing.assert_allclose(stored[network], expected, rtol=1e-5, atol=1e-6)
        stored_weights = store.read_array(out, "weights/layers.0.weight")[network]
        np.testing.assert_array_equal(stored_weights, params["layers.0.weight"][network % 2].ravel())
    np.testing.assert_allclose(store.read_array(out, "test_accuracy"), [0.5, 0.6, 0.7, 0.8])


def test_representations_refuse_a_metrics_table_of_another_member_order(tmp_path):
    paths, metrics, _, _ = _sweep(tmp_path)
    table = store.read_table(metrics)
    store.write_table(table.assign(member=[0, 1, 3, 4]), metrics)  # not the stores' members
    with pytest.raises(ValueError, match="not of the same sweep run"):
        steps.extract_representations(paths, metrics, str(tmp_path / "r.zarr"), layer="penultimate", n_points=20, eval_seed=0)


def test_suggested_network_of_a_fine_tuning_sweep_starts_from_its_source_network(tmp_path):
    from pipeline import zoo
    from pipeline.config import validate_config

    pre = {
        "dataset": "digits", "architecture": {"name": "mlp", "hidden": [16]}, "grid": {"lr": [0.1]},
        "epochs": 5, "batch_size": 32, "population_size": 1,
    }
    tune = {**pre, "init_from": {"sweep": "pre", "member": 0}, "grid": {"lr": [1e-7]}, "epochs": 1}
    config = validate_config({"sweeps": {"pre": pre, "tune": tune}})
    source = tmp_path / "pre.zarr"
    zoo.train_population_job(zoo.population_spec(config, "pre", 0), source, progress=False)
    source_accuracy = float(store.read_metrics(source)["test_accuracy"][0, -1])
    assert source_accuracy > 0.6  # far above chance (0.1), so a start from scratch would show
    # every network of the sweep had a learning rate too small to move it: so has the suggestion
    metrics = pd.DataFrame({"lr": [1e-7] * 4, "momentum": [0.9] * 4, "weight_decay": [1e-4] * 4, "test_accuracy": [0.5] * 4})
    metrics.to_parquet(tmp_path / "metrics.parquet")
    suggestion, network = str(tmp_path / "suggestion.json"), str(tmp_path / "suggested.zarr")
    steps.suggest_hyperparameters(str(tmp_path / "metrics.parquet"), suggestion, suggestion_top=4)
    steps.train_suggested_network(
        suggestion, network, sweep_settings=config["sweeps"]["tune"], sweep_name="tune", init_store=str(source), init_member=0
    )
    result = steps.tabulate_suggestion(str(tmp_path / "metrics.parquet"), suggestion, network, str(tmp_path / "s.html"), sweep_name="tune")
    assert result["suggested_test_accuracy"].item() == pytest.approx(source_accuracy, abs=0.01)
    assert result["lr"].item() == 1e-7 and result["rank_among_sweep"].item() == 1
    assert (tmp_path / "s.csv").exists() and (tmp_path / "s.md").exists()


@pytest.mark.slow
def test_study_runs_end_to_end(finished_test_run):
    base = finished_test_run / TEST_RESULTS / "network_manifold"
    table1 = pd.read_csv(base / "tables/table1.csv")
    assert set(table1["kind"]) == {"diffusion", "distance", "knn", "weights", "wasserstein"}
    assert table1[["top3", "top5"]].notna().all().all()
    r2 = pd.read_csv(base / "tables/characterization_r2.csv")
    assert r2[["centroid_distance", "ari", "entropy"]].apply(lambda c: c.between(0, 1)).all().all()
    for name in ("manifolds", "entropy_vs_accuracy", "wasserstein_heatmap", "dendrograms", "class_structure", "hidden_layers"):
        assert (base / f"mlp_tiny/figures/{name}.png").stat().st_size > 1000
    suggestion = pd.read_csv(base / "mlp_tiny/suggestion.csv")
    assert suggestion["suggested_test_accuracy"].between(0, 1).all()
    # the suggested network is a kept training store
    assert store.read_metrics(base / "mlp_tiny/suggested_network.zarr")["test_accuracy"].shape[0] == 1
    # the claims table: every claim of the paper for the sweep; 8 networks decide none of them
    claims = pd.read_csv(base / "tables/claims.csv")
    assert {"T1-mlp-top3-abs", "T1-mlp-top5-median", "R2-mlp-entropy-median-above-chance", "GFT-mlp", "SUGGEST-mlp"} <= set(claims["id"])
    assert (claims["verdict"] == "not testable at this scale").all()
    robustness = pd.read_csv(base / "tables/table1_robustness.csv")
    # seed 0 is the pipeline's own embedding: Table 1 itself
    diffusion = robustness[(robustness["kind"] == "diffusion_abs") & (robustness["top"] == 3)]["seed_0"].iloc[0]
    assert diffusion == pytest.approx(table1[table1["kind"] == "diffusion"]["top3"].iloc[0], abs=1e-4)


@pytest.mark.slow
def test_representation_weights_are_the_networks_final_weights(finished_test_run):
    # streamed from the training stores in feature slabs; must equal each network's final layer
    results = finished_test_run / TEST_RESULTS
    representations = store.open_array_store(results / "network_manifold/mlp_tiny/representations.zarr")
    populations = sorted((results / "zoo/mlp_tiny").glob("population_*.zarr"))
    assert len(populations) == 2
    finals = [store.read_final_params(p)[0] for p in populations]
    for name in representations.attrs["weight_names"]:
        stored = representations[f"weights/{name}"][...]
        expected = np.concatenate([f[name].reshape(len(f[name]), -1) for f in finals])
        np.testing.assert_array_equal(stored, expected)


def test_a_sweep_too_small_for_a_manifold_is_refused_before_any_job():
    from pipeline.config import ConfigError, validate_config

    def config(lrs, gft_knn=5):
        sweep = {"dataset": "digits", "architecture": {"name": "mlp", "hidden": [8]}, "grid": {"lr": lrs}}
        return {"sweeps": {"s": sweep}, "network_manifold": {"sweeps": ["s"], "gft_knn": gft_knn}}

    with pytest.raises(ConfigError, match=r"network_manifold.sweeps\[0\]'.*has 5 networks.*at least 6"):
        validate_config(config([0.1, 0.2, 0.3, 0.4, 0.5]))  # gft_knn 5 needs a 6th network
    with pytest.raises(ConfigError, match="has 3 networks.*at least 4"):
        validate_config(config([0.1, 0.2, 0.3], gft_knn=2))  # PHATE needs 4
    validate_config(config([0.1, 0.2, 0.3, 0.4], gft_knn=3))


# ------------------------------------------------------------------------------ claims table
def test_table1_resampler_is_table1_and_leaves_copies_pairs_out():
    from pipeline.studies.network_manifold import claims as nm_claims

    rng = np.random.default_rng(0)
    m = 30
    accuracy = rng.random(m)
    accuracy[[3, 7]] = accuracy.max()  # a tie: the lower index ranks first
    coords = {name: rng.normal(size=(2, m, 2)) for name in ("diffusion_abs", "distance", "knn", "weights")}
    resampler = nm_claims.Table1Resampler(coords, accuracy, [5, 10])
    every = np.arange(m)
    for name, c in coords.items():
        for s in range(2):
            assert resampler.values(every)[5][name][s] == pytest.approx(distances.normalized_top_distance(c[s], accuracy, 5))
    expected = np.mean([distances.normalized_top_distance(c, accuracy, 10) for c in coords["diffusion_abs"]]) - min(
        np.mean([distances.normalized_top_distance(c, accuracy, 10) for c in coords[k]]) for k in ("distance", "knn", "weights")
    )
    assert resampler.difference(every, 10, "diffusion_abs") == pytest.approx(expected)
    # a resample with copies: the 5 best draws, pairs of copies of one network left out
    draw = np.array([3, 3, 3, 7, 1, 2, 2, 4, 5, 6] + list(range(8, 28)))
    counts = np.bincount(draw, minlength=m)
    top = nm_claims.top_counts(counts, distances.rank_descending(accuracy), 5)
    assert top.sum() == 5 and top[3] == 3 and top[7] == 1  # 3 copies of 3, then 7, then the next best
    e = coords["knn"][0]
    positions = [i for i in distances.rank_descending(accuracy) for _ in range(top[i])]
    pairs = [np.linalg.norm(e[a] - e[b]) for x, a in enumerate(positions) for b in positions[x + 1:] if a != b]
    full = [np.linalg.norm(e[a] - e[b]) for x, a in enumerate(draw) for b in draw[x + 1:] if a != b]
    assert resampler.values(draw)[5]["knn"][0] == pytest.approx(np.mean(pairs) / np.mean(full))


def test_claim_statistics_by_hand():
    from pipeline.studies.network_manifold import claims as nm_claims

    x = np.arange(10.0)
    assert nm_claims.signed_r2(x, -2 * x + 1) == pytest.approx(-1.0)
    assert nm_claims.signed_r2(x, x**2) == pytest.approx(np.corrcoef(x, x**2)[0, 1] ** 2)
    assert np.isnan(nm_claims.signed_r2(x, np.ones(10)))
    # the networks' contributions sum to each signal's quadratic form
    rng = np.random.default_rng(1)
    d = distances.pairwise_distances(rng.normal(size=(12, 3)))
    signals = {k: rng.random(12) for k in ("test_accuracy", "lr", "weight_decay", "momentum")}
    q = nm_claims.gft_contributions(d, signals, 3)
    affinity = graphs.affinity_from_distances(d, 3)
    for k, v in signals.items():
        assert q[k].sum() == pytest.approx(graphs.laplacian_smoothness(affinity, v))
    smooth = {k: graphs.laplacian_smoothness(affinity, v) for k, v in signals.items()}
    assert nm_claims.gft_ratio(q) == pytest.approx(
        max(smooth["test_accuracy"], smooth["lr"]) / min(smooth["weight_decay"], smooth["momentum"])
    )


def test_sweep_claims_reach_the_verdicts_their_data_hold():
    """A synthetic sweep with a known answer: accuracy drives the centroid distance, the diffusion
    embedding gathers the best networks (the others do not), accuracy is smooth on the graph."""
    from pipeline.studies.network_manifold import claims as nm_claims

    rng = np.random.default_rng(2)
    m = 40
    accuracy = np.linspace(0.05, 0.95, m)
    rng.shuffle(accuracy)
    good = accuracy > 0.6
    spread = np.where(good, 0.05, 3.0)[:, None] * rng.normal(size=(m, 2))
    coords = {"diffusion_abs": np.stack([spread, spread + 0.01]), "diffusion_median": np.stack([spread, spread])}
    for k in nm_claims.OTHER_KINDS:
        coords[k] = rng.normal(size=(2, m, 2))
    features = pd.DataFrame({
        "test_accuracy": accuracy, "centroid_distance": 2 * accuracy + 0.05 * rng.normal(size=m),
        "within_class_variance": rng.random(m), "ari": -accuracy, "entropy": accuracy, "dsmi": accuracy,
        "lr": 10.0 ** rng.integers(-3, 0, m), "weight_decay": 10.0 ** rng.integers(-5, -2, m), "momentum": rng.random(m),
    })
    d = np.abs(accuracy[:, None] - accuracy[None, :])  # the manifold orders networks by accuracy
    features["lr"] = 10.0 ** (-3 + 2 * accuracy)  # ... and lr with it
    rows, robustness = nm_claims.sweep_claims(
        "s", "mlp", "digits", accuracy=accuracy, n_classes=10, features=features, embeddings=coords,
        diagonal_means={"abs": np.where(good, 1.0, 0.5), "median": np.full(m, 0.3)},
        alternative_entropies={"entropy": rng.random(m), "dsmi": rng.random(m)}, diffusion_distances=d,
        suggested_accuracy=float(np.sort(accuracy)[-2]), configured="absolute", top=[5, 10], gft_knn=5, seed=0,
        resamples=200,
    )
    verdicts = {r.id: r.verdict for r in rows}
    assert verdicts["T1-mlp-top5-abs"] == verdicts["T1-mlp-top10-median"] == "reproduced"
    assert verdicts["R2-mlp-centroid_distance-all"] == "reproduced"
    assert verdicts["R2-mlp-ari-all"] == "not reproduced"  # falls with accuracy
    assert verdicts["GFT-mlp"] == "reproduced" and verdicts["SUGGEST-mlp"] == "reproduced"
    # at-chance networks (accuracy <= 0.2 with 10 classes) are left out of the above-chance rows
    note = next(r.scale_note for r in rows if r.id == "R2-mlp-entropy-abs-above-chance")
    assert "7 of 40 at chance (test accuracy <= 2 x chance, 0.2)" in note
    t1 = next(r for r in rows if r.id == "T1-mlp-top5-abs")
    assert t1.low <= t1.value <= t1.high and "P the identity to 1 % for 5 of the top 5" in t1.scale_note
    assert {r["kind"] for r in robustness} == {"diffusion_abs", "diffusion_median", "distance", "knn", "weights"}
    for r in rows:
        if np.isfinite(r.value):
            assert r.low <= r.value + 1e-9 and r.value <= r.high + 1e-9, r.id


def test_hyperparameter_suggestion_breaks_full_ties_by_the_lower_value():
    # three momenta and weight decays, each once with the same accuracy: the two lowest are taken
    table = pd.DataFrame({
        "lr": [0.1] * 3, "momentum": [0.9, 0.5, 0.7], "weight_decay": [1e-3, 1e-2, 1e-4], "test_accuracy": [0.8] * 3,
    })
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        got = suggest_from_top(table.iloc[order].reset_index(drop=True), top=3)
        assert got == {"lr": 0.1, "momentum": pytest.approx(0.6), "weight_decay": pytest.approx(5.5e-4)}
