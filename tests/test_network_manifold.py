"""Network-manifold study: its small pure pieces by hand, and the whole study through Snakemake."""

import numpy as np
import pandas as pd
import pytest

from pipeline import store
from pipeline.network_manifold.steps import class_structure, suggest_from_top, ward_labels


def test_class_structure_by_hand():
    # two classes, centroids at (0, 0) and (3, 4): distance 5; each point 1 from its centroid
    points = np.array([[1.0, 0], [-1, 0], [3, 5], [3, 3]])
    labels = np.array([0, 0, 1, 1])
    result = class_structure(points, labels)
    assert result["centroid_distance"] == pytest.approx(5.0)
    assert result["within_class_variance"] == pytest.approx(1.0)
    assert result["centroid_matrix"].shape == (2, 2)


def test_ward_recovers_separated_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]])
    points = np.concatenate([c + 0.1 * rng.normal(size=(20, 2)) for c in centres])
    clusters = ward_labels(points, 3)
    assert len(set(clusters[:20])) == len(set(clusters[20:40])) == len(set(clusters[40:])) == 1
    assert len(set(clusters)) == 3


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


@pytest.mark.slow
def test_study_runs_end_to_end(finished_test_run):
    base = finished_test_run / "results/network_manifold"
    table1 = pd.read_csv(base / "tables/table1.csv")
    assert set(table1["kind"]) == {"diffusion", "distance", "knn", "weights", "wasserstein"}
    assert table1[["top3", "top5"]].notna().all().all()
    r2 = pd.read_csv(base / "tables/characterization_r2.csv")
    assert r2[["centroid_distance", "ari", "entropy"]].apply(lambda c: c.between(0, 1)).all().all()
    for name in ("manifolds", "entropy_vs_accuracy", "wasserstein_heatmap", "dendrograms", "class_structure", "hidden_layers"):
        assert (base / f"mlp_tiny/figures/{name}.png").stat().st_size > 1000
    suggestion = pd.read_csv(base / "mlp_tiny/suggestion.csv")
    assert suggestion["suggested_test_accuracy"].between(0, 1).all()


def test_suggestion_for_a_fine_tuning_sweep_starts_from_its_source_network(tmp_path):
    from pipeline import store, zoo
    from pipeline.config import validate_config
    from pipeline.network_manifold.steps import suggest_hyperparameters

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
    result = suggest_hyperparameters(
        config["sweeps"]["tune"], "tune", str(tmp_path / "metrics.parquet"), str(tmp_path / "suggestion.csv"),
        top=4, init_store=str(source), init_member=0,
    )
    assert result["suggested_test_accuracy"].item() == pytest.approx(source_accuracy, abs=0.01)


@pytest.mark.slow
def test_representation_weights_are_the_networks_final_weights(finished_test_run):
    # streamed from the training stores in feature slabs; must equal each network's final layer
    results = finished_test_run / "results"
    representations = store.open_array_store(results / "network_manifold/mlp_tiny/representations.zarr")
    populations = sorted((results / "zoo/mlp_tiny").glob("population_*.zarr"))
    assert len(populations) == 2
    finals = [store.read_final_params(p)[0] for p in populations]
    for name in representations.attrs["weight_names"]:
        stored = representations[f"weights/{name}"][...]
        expected = np.concatenate([f[name].reshape(len(f[name]), -1) for f in finals])
        np.testing.assert_array_equal(stored, expected)
