"""Activation-landscapes study: normalizations, local homology, landscapes and their norms, the
permutation test (against its loop, calibrated on nulls), the resumable landscape step, the data
sets of Naitzat et al., and the study through Snakemake."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import store
from pipeline.kernels import activations, landscapes, persistence
from pipeline.studies.activation_landscapes import steps


def test_activations_are_centred_with_diameter_one():
    x = np.random.default_rng(0).normal(size=(40, 5)) * 7 + 3
    y = activations.normalize_activations(x)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)
    from scipy.spatial.distance import pdist

    assert pdist(y).max() == pytest.approx(1.0)


def test_local_homology_distances_of_a_hand_made_cloud():
    # norms 0, 1, 2, 3; median 1.5, so scaled norms 0, 2/3, 4/3, 2: the last two go to the unit
    # circle, (0, 1) and (1, 0), and their distance to each other is set to 0
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    d = activations.local_homology_distances(x, centre=False)
    third = np.sqrt(13) / 3
    expected = np.array([
        [0, 2 / 3, 1, 1],
        [2 / 3, 0, third, 1 / 3],
        [1, third, 0, 0],
        [1, 1 / 3, 0, 0],
    ])
    np.testing.assert_allclose(d, expected, atol=1e-12)
    # centred first when the layer does not end with a ReLU: shifting the cloud changes nothing
    shifted = activations.local_homology_distances(x + 5, centre=True)
    np.testing.assert_allclose(shifted, activations.local_homology_distances(x, centre=True))


def test_a_noisy_circle_gives_one_dominant_h1_landscape_peak_at_its_height():
    rng = np.random.default_rng(1)
    angles = rng.uniform(0, 2 * np.pi, 150)
    points = np.column_stack([np.cos(angles), np.sin(angles)]) + rng.normal(scale=0.02, size=(150, 2))
    grid = landscapes.landscape_grid(0.001, 1.0)
    landscape, pairs = steps.item_landscape(points, local_homology=False, centre=True, dimension=1, grid=grid, functions=3)
    # diameter 1: radius 1/2, the hole fills at the inscribed triangle's side sqrt(3)/2
    h1 = persistence.vietoris_rips_diagrams(activations.normalize_activations(points), 1)[1]
    birth, death = h1[np.argmax(h1[:, 1] - h1[:, 0])]
    assert 0.8 < death < 0.9
    assert landscape[0].max() == pytest.approx((death - birth) / 2, abs=2e-3)  # the tent's top
    assert grid[np.argmax(landscape[0])] == pytest.approx((birth + death) / 2, abs=2e-3)
    assert landscape[1].max() < 0.1 * landscape[0].max()  # one dominant feature
    assert pairs == len(h1)


def test_landscape_norm_of_a_hand_made_diagram():
    # one point (0, 2): a tent of height 1 on [0, 2]; int tent^2 = 2/3
    grid = landscapes.landscape_grid(0.0005, 2.0)
    tent = persistence.persistence_landscape(np.array([[0.0, 2.0]]), 2, grid)
    assert landscapes.landscape_norm(tent, 0.0005) == pytest.approx(np.sqrt(2 / 3), rel=1e-3)
    gram = landscapes.inner_products(np.stack([tent, 2 * tent]), 0.0005)
    np.testing.assert_allclose(gram, np.array([[1, 2], [2, 4]]) * 2 / 3, rtol=1e-3)


def test_permutation_test_near_one_for_one_distribution_and_tiny_for_two():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(12, 3, 40))
    same = a[rng.permutation(12)] + 1e-3 * rng.normal(size=a.shape)  # the same sample, reshuffled
    other = rng.normal(size=(12, 3, 40)) + 0.8
    for b, check in ((same, lambda p: p > 0.95), (other, lambda p: p < 0.01)):
        gram = landscapes.inner_products(np.concatenate([a, b]), 0.01)
        statistic, p = landscapes.permutation_test(gram, 12, 5000, seed=3)
        assert check(p), p
        # the vectorized test and the loop draw the same relabellings: the same p
        loop_statistic, loop_p = landscapes.permutation_test_loop(a, b, 0.01, 5000, seed=3)
        assert loop_p == p and loop_statistic == pytest.approx(statistic)


def test_permutation_test_is_calibrated_on_null_data():
    # 1,000 nulls (the issue asks 200; with 200 the band of +-2 % is only 1.3 binomial standard
    # deviations wide, with 1,000 it is 2.9)
    rng = np.random.default_rng(4)
    rejections, nulls = 0, 1000
    for _ in range(nulls):
        samples = rng.normal(size=(20, 30))  # two groups of 10 from one distribution
        gram = landscapes.inner_products(samples, 1.0)
        _, p = landscapes.permutation_test(gram, 10, 499, seed=int(rng.integers(1 << 30)))
        rejections += p <= 0.05
    assert abs(rejections / nulls - 0.05) <= 0.02 + 1e-12, rejections


def _activations_store(tmp_path, networks=2, thresholds=2, layers=3):
    """Network 0 reached both thresholds at step 0 (the same weights: the same activations);
    network 1 reached the first at step 3, never the second. Layer 0 is the batch itself."""
    rng = np.random.default_rng(5)
    arrays = {
        "labels": np.zeros((1, 30), dtype=np.int64),
        "draw": np.zeros(networks, dtype=np.int64),
        "threshold_step": np.array([[0, 0], [3, -1]]),
        "threshold_accuracy": np.array([[0.6, 0.6], [0.8, np.nan]]),
    }
    batch = rng.normal(size=(30, 4)).astype(np.float32)
    arrays["layers/0"] = np.broadcast_to(batch, (networks, thresholds, 30, 4)).copy()
    for layer in range(1, layers):
        arrays[f"layers/{layer}"] = rng.normal(size=(networks, thresholds, 30, 4)).astype(np.float32)
        arrays[f"layers/{layer}"][0, 1] = arrays[f"layers/{layer}"][0, 0]
    for layer in range(layers):
        arrays[f"layers/{layer}"][1, 1] = np.nan
    path = tmp_path / "activations.zarr"
    attrs = {"layers": [f"l{i}" for i in range(layers)], "ends_with_relu": [False, True, False], "thresholds": [0.5, 0.9],
             "samples": ["a", "b"], "sweeps": ["s"], "draws": 1}
    store.write_array_store(path, arrays, attrs)
    return str(path), arrays


def _counting(real, counter, limit=None):
    """item_landscape that appends a line to ``counter`` per call (a file: Dask pickles the function,
    so a Python list would be a copy) and dies after ``limit`` calls, as a killed step would."""

    def item(points, **kwargs):
        with open(counter, "a") as handle:
            handle.write("x\n")
        if limit is not None and len(Path(counter).read_text().splitlines()) > limit:
            raise RuntimeError("killed")
        return real(points, **kwargs)

    return item


def test_a_killed_landscape_step_resumes_without_recomputing_finished_items(tmp_path, monkeypatch):
    import zarr

    source, arrays = _activations_store(tmp_path)
    settings = dict(local_homology=False, grid_width=0.01, homology_dimension=1, landscape_functions=2, threads=1)
    grid = steps.landscape_grid_of(False, 0.01)
    # every reached item computed alone, without the step's sharing of identical items
    expected = np.full((2, 2, 3, 2, len(grid)), np.nan, np.float32)
    for n, t in [(0, 0), (0, 1), (1, 0)]:
        for layer, relu in enumerate([False, True, False]):
            points = arrays[f"layers/{layer}"][n, t].astype(np.float64)
            expected[n, t, layer] = steps.item_landscape(
                points, local_homology=False, centre=not relu, dimension=1, grid=grid, functions=2
            )[0]
    real, out = steps.item_landscape, str(tmp_path / "landscapes.zarr")
    monkeypatch.setattr(steps, "item_landscape", _counting(real, tmp_path / "first", limit=3))
    with pytest.raises(RuntimeError, match="killed"):
        steps.compute_layer_landscapes(source, out, **settings)
    assert not Path(out).exists()  # nothing that looks finished
    done = zarr.open_group(str(store.partial_path(out)))["done"][...]
    # distinct computations: the batch (layer 0), network 0's layers 1-2 at step 0, network 1's at step 3
    distinct_done = len({("input",) if layer == 0 else (n, t if n else 0, layer) for n, t, layer in zip(*np.nonzero(done))})
    assert 1 <= distinct_done <= 3
    monkeypatch.setattr(steps, "item_landscape", _counting(real, tmp_path / "second"))
    steps.compute_layer_landscapes(source, out, **settings)
    assert len((tmp_path / "second").read_text().splitlines()) == 5 - distinct_done
    np.testing.assert_array_equal(store.read_array(out, "landscapes"), expected)  # NaN where never reached


def test_rings_and_spheres_follow_their_geometry():
    from pipeline.data import lattice_dataset

    for name, dims in (("rings9", 2), ("spheres9", 3)):
        x, y = lattice_dataset(name, 4000)
        assert x.shape == (4000, dims) and np.linalg.norm(x, axis=1).max() < 1 and 0 < y.mean() < 0.5
    x, y = lattice_dataset("rings9", 4000)
    rings = x[y == 1]
    # nine rings: nine H1 bars born at the lattice's scale that last (each ring's hole); the ring of
    # eight rings closes one more loop, born only once the gaps between rings are bridged
    h1 = persistence.vietoris_rips_diagrams(rings, 1)[1]
    assert np.sum((h1[:, 0] < 0.05) & (h1[:, 1] - h1[:, 0] > 0.05)) == 9


def test_config_errors_name_the_experiment_key():
    from pipeline.config import ConfigError, validate_config

    def config(experiment, **sweep):
        base = {
            "dataset": "disks9", "architecture": {"name": "mlp", "hidden": [4]}, "snapshot_thresholds": [0.6, 0.8],
            "variants": {"dataset_options.seed": [0, 1]}, **sweep,
        }
        return {"sweeps": {"s": base}, "activation_landscapes": {"experiments": {"e": {"sweep": "s", **experiment}}}}

    lattice = {"batch": {"lattice_fraction": 0.1}}
    assert validate_config(config(lattice))["activation_landscapes"]["experiments"]["e"]["batch"]["label"] is None
    cases = [
        (config({"sweep": "t", **lattice}), "experiments.e.sweep': no sweep or sweep family named 't'"),
        (config({**lattice, "shown_thresholds": [0.7]}), "[0.7] are not among"),
        (config({"batch": {"lattice_fraction": 0.1, "size": 100}}), "give exactly one of lattice_fraction and size"),
        (config(lattice, snapshot_thresholds=[]), "saves no snapshot_thresholds"),
        (config(lattice, variants={"architecture.hidden": [[4], [5]]}), "differ in architecture"),
        (config(lattice, dataset="digits"), "'digits' is not a lattice data set"),
        (config({"batch": {"lattice_fraction": 0.1, "draws": 2}}), "batch.draws': a lattice batch is one fixed set of points"),
    ]
    for bad, message in cases:
        with pytest.raises(ConfigError, match=re.escape(message)):
            validate_config(bad)


@pytest.mark.slow
def test_study_runs_end_to_end(finished_test_run):
    base = finished_test_run / "results/activation_landscapes/tiny"
    complexity = pd.read_csv(base / "tables/complexity.csv")
    assert complexity["norm_of_average"].notna().any() and (complexity["layer"].max() + 1) == 3
    pvalues = pd.read_csv(base / "tables/pvalues.csv")
    assert len(pvalues) == 2
    for name in ("landscapes", "curves", "complexity_by_layer"):
        assert (base / f"figures/{name}.png").stat().st_size > 5000
    # two random input draws per network: each (network, draw) a sample, each draw its own points
    draws = finished_test_run / "results/activation_landscapes/tiny_draws"
    activations = store.open_array_store(draws / "activations.zarr")
    samples = activations.attrs["samples"]
    assert [name.split("/")[0] for name in samples] == ["mlp_thresholds__seed0"] * 2 + ["mlp_thresholds__seed1"] * 2
    assert [name.split("/")[-1] for name in samples] == ["draw0", "draw1"] * 2
    batches = store.read_array(draws / "activations.zarr", "layers/0")[:, 0]
    assert batches.shape[1] == 80 and not np.array_equal(batches[0], batches[1]) and np.array_equal(batches[0], batches[2])
    assert pd.read_csv(draws / "tables/complexity.csv")["samples"].max() == 4
