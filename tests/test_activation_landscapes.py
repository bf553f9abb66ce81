"""Activation-landscapes study: normalizations, local homology, landscapes and their norms, the
permutation test (against its loop, calibrated on nulls), the resumable landscape step, the data
sets of Naitzat et al., each step in-process on hand-made stores against hand computations
(activations, landscapes of a square and a rectangle, the summary of constant landscapes, the
claims, the figures' lines), and the study through Snakemake."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TEST_RESULTS

from pipeline import store
from pipeline.kernels import activations, landscapes, persistence
from pipeline.studies.activation_landscapes import claims as al_claims
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
    network 1 reached the first at step 3, never the second. Layer 0 is the batch itself, stored
    once (``inputs``); ``points[layer]`` gives every item's points as ``layers/<i>`` once held them."""
    rng = np.random.default_rng(5)
    batch = rng.normal(size=(30, 4)).astype(np.float32)
    arrays = {
        "inputs": batch[None],
        "labels": np.zeros((1, 30), dtype=np.int64),
        "draw": np.zeros(networks, dtype=np.int64),
        "threshold_step": np.array([[0, 0], [3, -1]]),
        "threshold_accuracy": np.array([[0.6, 0.6], [0.8, np.nan]]),
    }
    points = {0: np.broadcast_to(batch, (networks, thresholds, 30, 4)).copy()}
    for layer in range(1, layers):
        arrays[f"layers/{layer}"] = rng.normal(size=(networks, thresholds, 30, 4)).astype(np.float32)
        arrays[f"layers/{layer}"][0, 1] = arrays[f"layers/{layer}"][0, 0]
        arrays[f"layers/{layer}"][1, 1] = np.nan
        points[layer] = arrays[f"layers/{layer}"]
    path = tmp_path / "activations.zarr"
    attrs = {"layers": [f"l{i}" for i in range(layers)], "ends_with_relu": [False, True, False], "thresholds": [0.5, 0.9],
             "samples": ["a", "b"], "sweeps": ["s"], "draws": 1}
    store.write_array_store(path, arrays, attrs)
    return str(path), points


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

    source, points_of = _activations_store(tmp_path)
    settings = dict(local_homology=False, grid_width=0.01, homology_dimension=1, landscape_functions=2, threads=1)
    grid = steps.landscape_grid_of(False, 0.01)
    # every reached item computed alone, without the step's sharing of identical items
    expected = np.full((2, 2, 3, 2, len(grid)), np.nan, np.float32)
    for n, t in [(0, 0), (0, 1), (1, 0)]:
        for layer, relu in enumerate([False, True, False]):
            points = points_of[layer][n, t].astype(np.float64)
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


@pytest.fixture(scope="module")
def threshold_population(tmp_path_factory):
    """Two digits MLPs trained one epoch with a threshold every network reaches (5 %) and one
    none reaches (99.9 %), as train_population writes them."""
    import torch

    from pipeline import zoo
    from pipeline.config import validate_config

    config = validate_config({"sweeps": {"s": {
        "dataset": "digits", "architecture": {"name": "mlp", "hidden": [6, 5]}, "optimizer": "adam",
        "grid": {"lr": [0.01], "momentum": [0.9], "init_seed": [0, 1]}, "epochs": 1, "batch_size": 256,
        "population_size": 2, "snapshot_thresholds": [0.05, 0.999], "threshold_every": 2,
    }}})
    path = tmp_path_factory.mktemp("population") / "population.zarr"
    zoo.train_population_job(zoo.population_spec(config, "s", 0), path, progress=False, threads=torch.get_num_threads())
    return str(path)


BATCH = {"lattice_fraction": None, "size": 40, "draws": 2, "seed": 3, "label": None}


def test_activations_hold_the_input_once_per_draw_and_every_network_as_computed_directly(threshold_population, tmp_path):
    import torch

    from pipeline import zoo
    from pipeline.models import build_model
    from pipeline.train import population_activations

    out = tmp_path / "activations.zarr"
    steps.extract_layer_activations([threshold_population], str(out), batch=BATCH)
    root = store.open_array_store(out)
    spec = store.open_population(threshold_population).attrs["spec"]
    data = zoo.load_spec_dataset(spec)
    batches = [steps.input_batch(spec, data, BATCH, d)[0] for d in range(2)]
    # layer 0: one [point, features] batch per draw, each draw its own points, no copy per network
    inputs = store.read_array(out, "inputs")
    assert inputs.shape == (2, 40, 64) and sorted(root["layers"].keys()) == ["1", "2", "3"]
    for d in range(2):
        np.testing.assert_array_equal(inputs[d], batches[d].flatten(1).numpy())
    assert not np.array_equal(inputs[0], inputs[1])
    np.testing.assert_array_equal(store.read_array(out, "draw"), [0, 1, 0, 1])
    # the other layers: what every network gives at each threshold, computed for the whole
    # population at once (as the step did before it streamed one network at a time)
    saved = store.read_thresholds(threshold_population)
    assert (saved["step"][:, 0] >= 0).all() and (saved["step"][:, 1] < 0).all()
    np.testing.assert_array_equal(store.read_array(out, "threshold_step"), np.repeat(saved["step"], 2, axis=0))
    base = build_model(spec["architecture"], data.input_shape, data.num_outputs).to("meta")
    params = {k: torch.as_tensor(v[:, 0]) for k, v in saved["params"].items()}
    buffers = {k: torch.as_tensor(v[:, 0]) for k, v in saved["buffers"].items()}
    names = ["hidden1", "hidden2", "output"]
    for d, x in enumerate(batches):
        direct = population_activations(base, params, buffers, x, names, precision=zoo.spec_precision(spec))
        for i, name in enumerate(names, start=1):
            stored = store.read_array(out, f"layers/{i}")
            for network in range(2):
                np.testing.assert_allclose(stored[2 * network + d, 0], direct[name][network].numpy(), rtol=1e-6, atol=1e-6)
                assert np.isnan(stored[2 * network + d, 1]).all()  # 99.9 % never reached


def test_a_killed_extraction_resumes_with_the_networks_it_lacks(threshold_population, tmp_path, monkeypatch):
    import pipeline.train

    whole = tmp_path / "whole.zarr"
    steps.extract_layer_activations([threshold_population], str(whole), batch=BATCH)
    real, calls = pipeline.train.population_activations, []

    def dies_on_the_third(*args, **kwargs):  # one forward pass per (network, draw)
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline.train, "population_activations", dies_on_the_third)
    out = tmp_path / "activations.zarr"
    with pytest.raises(RuntimeError, match="killed"):
        steps.extract_layer_activations([threshold_population], str(out), batch=BATCH)
    assert not out.exists()
    calls.clear()
    steps.extract_layer_activations([threshold_population], str(out), batch=BATCH)
    assert len(calls) == 2  # the second network's two draws only
    for name in ("inputs", "layers/1", "layers/3", "threshold_step", "labels"):
        np.testing.assert_array_equal(store.read_array(out, name), store.read_array(whole, name))


def test_input_landscapes_are_computed_once_per_draw_and_equal_the_batch_s(threshold_population, tmp_path, monkeypatch):
    source = tmp_path / "activations.zarr"
    steps.extract_layer_activations([threshold_population], str(source), batch=BATCH)
    inputs = store.read_array(source, "inputs").astype(np.float64)
    real, counter = steps.item_landscape, tmp_path / "calls"
    monkeypatch.setattr(steps, "item_landscape", _counting(real, counter))
    out = tmp_path / "landscapes.zarr"
    steps.compute_layer_landscapes(
        str(source), str(out), local_homology=True, grid_width=0.01, homology_dimension=1, landscape_functions=2, threads=1
    )
    # 4 samples (2 networks x 2 draws) x 4 layers at the one threshold reached: 16 items, and the
    # input layer's 4 are the 2 draws' batches, so 2 + 4 x 3 = 14 computations
    assert len(counter.read_text().splitlines()) == 14
    values = store.read_array(out, "landscapes")
    grid = steps.landscape_grid_of(True, 0.01)
    for sample, d in enumerate([0, 1, 0, 1]):
        direct = real(inputs[d], local_homology=True, centre=True, dimension=1, grid=grid, functions=2)[0]
        np.testing.assert_array_equal(values[sample, 0, 0], direct)
    assert np.isnan(values[:, 1]).all()


def test_extraction_memory_grows_with_the_items_held_not_with_the_networks():
    import copy

    from pipeline.config import load_config
    from pipeline.studies import activation_landscapes as al

    paper = load_config("config/paper.yaml")
    terms = al.extraction_memory(paper, "mnist")
    # 784-128-64(x5)-10 at 8 thresholds: one network's 2,000 images in every layer after the input
    assert terms["activations"] == 2000 * (128 + 5 * 64 + 10) * 8 * 4
    assert terms["inputs"] == 5 * 2000 * 784 * 4 and terms["dataset"] == 70000 * 784 * 4
    assert terms["written"] == 10 * 5 * terms["activations"]

    def changed(edit):
        config = copy.deepcopy(paper)
        edit(config["activation_landscapes"]["experiments"]["mnist"], config["sweeps"]["mlp_mnist_deep"])
        return al.extraction_memory(config, "mnist"), al.extraction_mem_mb(config, "mnist")

    more_draws, mb = changed(lambda e, s: e["batch"].update(draws=10))
    assert more_draws["inputs"] == 2 * terms["inputs"] and more_draws["activations"] == terms["activations"]
    assert mb > al.extraction_mem_mb(paper, "mnist")
    more_points, _ = changed(lambda e, s: e["batch"].update(size=4000))
    assert more_points["activations"] == 2 * terms["activations"] and more_points["inputs"] == 2 * terms["inputs"]
    more_thresholds, _ = changed(lambda e, s: s.update(snapshot_thresholds=[t / 20 for t in range(1, 17)]))
    assert more_thresholds["activations"] == 2 * terms["activations"]
    # streamed: twice the networks write twice the store in the same memory
    more_networks, mb = changed(lambda e, s: s["grid"].update(init_seed=list(range(20))))
    assert more_networks["written"] == 2 * terms["written"] and more_networks["activations"] == terms["activations"]
    assert mb == al.extraction_mem_mb(paper, "mnist")
    # the runtime follows the store written: 20x the networks, 20x the minutes past the fixed 5
    # (each rounded up: 2 minutes for 1.47 GB, 25 for 29.3 GB)
    many = copy.deepcopy(paper)
    many["sweeps"]["mlp_mnist_deep"]["grid"]["init_seed"] = list(range(200))
    assert al.extraction_runtime_min(many, "mnist") - 5 >= 10 * (al.extraction_runtime_min(paper, "mnist") - 5)


def test_landscape_memory_is_one_item_per_thread():
    import copy

    from pipeline.config import load_config
    from pipeline.studies import activation_landscapes as al

    paper = load_config("config/paper.yaml")
    one, two = (al.landscapes_mem_mb(paper, "mnist", threads) - al.LANDSCAPES_BASE_MB for threads in (1, 2))
    assert two == 2 * one and one == 288  # 9 x 2,000^2 float64
    bigger = copy.deepcopy(paper)
    bigger["activation_landscapes"]["experiments"]["mnist"]["batch"]["size"] = 4000
    assert al.landscapes_mem_mb(bigger, "mnist", 1) - al.LANDSCAPES_BASE_MB == 4 * one
    bigger["sweeps"]["mlp_mnist_deep"]["grid"]["init_seed"] = list(range(100))
    assert al.landscapes_mem_mb(bigger, "mnist", 1) - al.LANDSCAPES_BASE_MB == 4 * one


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


def test_pvalue_floor_and_the_interval_of_the_largest_pvalue():
    from scipy.stats import binom

    # the exact test's smallest p: the observed split (and its mirror for equal groups) of all
    assert al_claims.pvalue_floor(4, 4) == pytest.approx(2 / 70)  # today's 4 networks: 0.029
    assert al_claims.pvalue_floor(6, 6) == pytest.approx(2 / 924)
    assert al_claims.pvalue_floor(6, 5) == pytest.approx(1 / 462)
    # Monte Carlo p-values of 3 pairs with known exact p: the interval holds the largest exact p
    # in >= 95 % - 3 % of 400 repetitions, and never lies below the groups' floor
    exact, permutations, hits = np.array([0.003, 0.01, 0.03]), 2000, 0
    rng = np.random.default_rng(7)
    for _ in range(400):
        counts = binom.rvs(permutations, exact, random_state=rng)
        pvalues = np.full((3, 3), np.nan)
        pvalues[0, 1], pvalues[0, 2], pvalues[1, 2] = (1 + counts) / (1 + permutations)
        result = al_claims.largest_pvalue(pvalues, [6, 6, 6], permutations)
        assert result["pairs"] == 3 and result["low"] >= result["floor"] == pytest.approx(2 / 924)
        assert result["value"] == pytest.approx(pvalues[np.isfinite(pvalues)].max())
        hits += result["low"] <= exact.max() <= result["high"]
    assert hits / 400 >= 0.92, hits
    # an untested pair (a group of fewer than 2 samples): no statistic
    assert np.isnan(al_claims.largest_pvalue(np.full((2, 2), np.nan), [1, 6], 100)["value"])


def test_largest_rise_and_the_networks_of_samples():
    assert al_claims.largest_rise([3.0, 2.0, 2.0, 1.0]) == 0.0  # monotone non-increasing
    assert al_claims.largest_rise([3.0, 2.0, 1.0]) == -1.0
    assert al_claims.largest_rise([3.0, 1.0, 2.0, 0.5, 2.5]) == pytest.approx(2.0)  # 0.5 -> 2.5
    assert np.isnan(al_claims.largest_rise([1.0, np.nan]))
    networks, network_of = al_claims.network_units(["s__seed0/0/draw0", "s__seed0/0/draw1", "s__seed1/0/draw0", "s__seed1/0/draw1"])
    assert networks == ["s__seed0/0", "s__seed1/0"] and network_of.tolist() == [0, 0, 1, 1]


def _summary(tmp_path, name, rise, pvalue, networks=6, draws=1, permutations=100_000, sizes=None):
    """A summary store of ``networks`` x ``draws`` samples, 2 thresholds and 4 layers whose norms
    change by ``rise`` per layer and per threshold (plus noise), and Table I's one p-value."""
    rng = np.random.default_rng(11)
    samples = [f"s/{n}" + (f"/draw{d}" if draws > 1 else "") for n in range(networks) for d in range(draws)]
    base = 1.0 + rise * (np.arange(2)[:, None] + np.arange(4)[None, :])  # [threshold, layer]
    norms = base[None] + 0.01 * rng.normal(size=(len(samples), 2, 4))
    norms[:, :, 0] = norms[:, :1, 0]  # the input: the same batch at every threshold
    pvalues = np.full((2, 2), np.nan)
    pvalues[0, 1] = pvalue
    path = tmp_path / name / "summary.zarr"
    store.write_array_store(
        path,
        {"norms": norms, "pvalues": pvalues, "group_sizes": np.array(sizes or [len(samples)] * 2)},
        {"thresholds": [0.5, 0.9], "shown_thresholds": [0.5, 0.9], "layers": ["input", "h1", "h2", "output"],
         "samples": samples, "permutations": permutations, "local_homology": draws > 1},
    )
    return str(path)


def test_claims_table_reaches_each_verdict_from_hand_made_summaries(tmp_path):
    from pipeline import claims as cl

    summaries = [
        _summary(tmp_path, "rising", 0.2, 1e-4),  # every claim holds
        _summary(tmp_path, "falling", -0.2, 0.4),  # none holds
        _summary(tmp_path, "borderline", 0.2, 0.045, permutations=1000),  # p below 0.05, its interval over
        _summary(tmp_path, "few", 0.2, 1e-4, networks=2, draws=2, sizes=[2, 2]),  # floor 1/3, 2 networks
    ]
    table = steps.tabulate_activation_landscapes_claims(summaries, str(tmp_path / "tables/claims.html"), claims_seed=0)
    assert (tmp_path / "tables/claims.csv").exists() and (tmp_path / "tables/claims.md").exists()
    verdict = dict(zip(table["id"], table["verdict"]))
    assert [verdict[f"rising-{c}"] for c in ("table1", "depth", "training")] == [cl.REPRODUCED] * 3
    assert [verdict[f"falling-{c}"] for c in ("table1", "depth", "training")] == [cl.NOT_REPRODUCED] * 3
    assert verdict["borderline-table1"] == cl.PARTLY
    assert [verdict[f"few-{c}"] for c in ("table1", "depth", "training")] == [cl.NOT_TESTABLE] * 3
    rows = table.set_index("id")
    # the statistics against a direct computation: at the top threshold the input is 1.0 (the
    # same batch as at the lowest) and the output 1 + 0.2 x (1 + 3); each later layer 0.2 higher
    # at the top threshold than at the lowest
    assert rows.loc["rising-depth", "ours"] == pytest.approx(0.8, abs=0.05)
    assert rows.loc["rising-training", "ours"] == pytest.approx(0.2, abs=0.02)
    assert rows.loc["rising-training", "interval_low"] < 0.2 < rows.loc["rising-training", "interval_high"]
    assert "0.33" in rows.loc["few-table1", "scale_note"] and "MNIST" in rows.loc["few-table1", "paper"]
    assert "p >= 0.05 for 0.5/0.9 (0.4)" in rows.loc["falling-table1", "scale_note"]
    assert "p >= 0.05" not in rows.loc["rising-table1", "scale_note"]
    assert "0.01434" in rows.loc["rising-table1", "paper"]  # the paper's synthetic Table I
    # deterministic: the same seed, the same table
    again = steps.tabulate_activation_landscapes_claims(summaries, str(tmp_path / "again/claims.csv"), claims_seed=0)
    pd.testing.assert_frame_equal(table, again)


@pytest.mark.slow
def test_study_runs_end_to_end(finished_test_run):
    base = finished_test_run / TEST_RESULTS / "activation_landscapes/tiny"
    complexity = pd.read_csv(base / "tables/complexity.csv")
    assert complexity["norm_of_average"].notna().any() and (complexity["layer"].max() + 1) == 3
    pvalues = pd.read_csv(base / "tables/pvalues.csv")
    assert len(pvalues) == 2
    for name in ("landscapes", "curves", "complexity_by_layer"):
        assert (base / f"figures/{name}.png").stat().st_size > 5000
    # two random input draws per network: each (network, draw) a sample, each draw its own points
    draws = finished_test_run / TEST_RESULTS / "activation_landscapes/tiny_draws"
    activations = store.open_array_store(draws / "activations.zarr")
    samples = activations.attrs["samples"]
    assert [name.split("/")[0] for name in samples] == ["mlp_thresholds__seed0"] * 2 + ["mlp_thresholds__seed1"] * 2
    assert [name.split("/")[-1] for name in samples] == ["draw0", "draw1"] * 2
    # the input layer once per draw, not once per (network, threshold)
    batches = store.read_array(draws / "activations.zarr", "inputs")
    assert batches.shape[:2] == (2, 80) and not np.array_equal(batches[0], batches[1]) and "0" not in activations["layers"]
    np.testing.assert_array_equal(store.read_array(draws / "activations.zarr", "draw"), [0, 1, 0, 1])
    assert pd.read_csv(draws / "tables/complexity.csv")["samples"].max() == 4
    # the claims table: three rows per experiment; 2 networks per group cannot reach p < 0.05
    claims = pd.read_csv(finished_test_run / TEST_RESULTS / "activation_landscapes/tables/claims.csv").set_index("id")
    assert sorted(claims.index) == sorted(f"{e}-{c}" for e in ("tiny", "tiny_draws") for c in ("table1", "depth", "training"))
    assert claims.loc["tiny-table1", "verdict"] == "not testable at this scale"
    assert store.read_array(base / "summary.zarr", "group_sizes").tolist() == [2, 2]


# ------------------------------------------------------------------ each step on hand-made stores
def _tent(birth, death, grid):
    """Bubenik's tent of one bar, by hand: max(0, min(t - birth, death - t))."""
    return np.maximum(0.0, np.minimum(grid - birth, death - grid))


SQUARE = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]])
RECTANGLE = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [4.0, 3.0, 0.0], [0.0, 3.0, 0.0]])
LINE = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])


def test_layer_landscapes_of_hand_made_shapes_are_their_tents(tmp_path):
    # Every item four points: the input a square, layer 1 a 3-4-5 rectangle (network 1's ten
    # times larger and moved: the step normalizes), layer 2 four points on a line. Scaled to
    # diameter 1, the square's loop is born at its side 1/sqrt(2) and dies at its diagonal 1, the
    # rectangle's at its long side 0.8 and at 1; the line has none. Network 1 never reached the
    # second threshold. At the second threshold network 0's layer 1 is a square too (each
    # threshold's own activations: a square's tent there, not the rectangle's of the first).
    rectangles = np.stack([RECTANGLE, 10 * RECTANGLE + 7])
    layer1 = np.repeat(rectangles[:, None], 2, axis=1)
    layer1[0, 1] = 5 * np.column_stack([SQUARE, np.zeros(4)]) - 3
    arrays = {
        "inputs": SQUARE[None].astype(np.float32),
        "labels": np.zeros((1, 4), dtype=np.int64),
        "draw": np.zeros(2, dtype=np.int64),
        "threshold_step": np.array([[0, 5], [2, -1]]),
        "threshold_accuracy": np.array([[0.6, 0.9], [0.7, np.nan]]),
        "layers/1": layer1.astype(np.float32),
        "layers/2": np.broadcast_to(LINE, (2, 2, 4, 2)).astype(np.float32),
    }
    attrs = {"layers": ["input", "h1", "output"], "ends_with_relu": [False, True, False], "thresholds": [0.5, 0.9],
             "samples": ["s/0", "s/1"], "sweeps": ["s"], "draws": 1}
    source = store.write_array_store(tmp_path / "activations.zarr", arrays, attrs)
    out = steps.compute_layer_landscapes(
        str(source), str(tmp_path / "landscapes.zarr"), local_homology=False, grid_width=0.01, homology_dimension=1,
        landscape_functions=2, threads=1,
    )
    grid = np.arange(101) * 0.01
    np.testing.assert_allclose(store.open_array_store(out).attrs["grid"], grid, atol=1e-12)
    values = store.read_array(out, "landscapes")
    square, rectangle = _tent(1 / np.sqrt(2), 1.0, grid), _tent(0.8, 1.0, grid)
    for n, t in [(0, 0), (0, 1), (1, 0)]:
        np.testing.assert_allclose(values[n, t, 0, 0], square, atol=1e-6)
        np.testing.assert_allclose(values[n, t, 1, 0], square if (n, t) == (0, 1) else rectangle, atol=1e-6)
        np.testing.assert_array_equal(values[n, t, 2], 0)  # no loop on a line
        np.testing.assert_array_equal(values[n, t, :, 1], 0)  # one bar each: no second function
    assert np.isnan(values[1, 1]).all()
    np.testing.assert_array_equal(store.read_array(out, "diagram_points"), [[[1, 1, 0], [1, 1, 0]], [[1, 1, 0], [-1, -1, -1]]])


def _constant_landscapes(tmp_path, width=0.1, points=11):
    """A landscapes store of 4 samples, thresholds 0.2-0.8 and 2 layers, one landscape function,
    each landscape constant along the grid: sample n at layer l is (n + 1)(l + 1) at 0.2 and at
    0.4 (the same samples twice), (n + 11)(l + 1) at 0.6 and 2 (n + 1)(l + 1) at 0.8, which
    sample 3 never reached. A constant c has the norm c sqrt(points x width)."""
    n, layer = np.arange(4.0)[:, None], np.arange(2.0)[None, :]
    base = (n + 1) * (layer + 1)
    by_threshold = np.stack([base, base, (n + 11) * (layer + 1), 2 * base], axis=1)  # [N, T, L]
    by_threshold[3, 3] = np.nan
    values = np.repeat(by_threshold[..., None, None], points, axis=-1).astype(np.float32)  # [N, T, L, 1, g]
    attrs = {"grid": (np.arange(points) * width).tolist(), "grid_width": width, "thresholds": [0.2, 0.4, 0.6, 0.8],
             "layers": ["input", "output"], "samples": [f"s/{i}" for i in range(4)], "local_homology": False}
    return str(store.write_array_store(tmp_path / "landscapes.zarr", {"landscapes": values}, attrs)), np.sqrt(points * width)


def test_summary_of_hand_made_landscapes(tmp_path):
    landscapes, unit = _constant_landscapes(tmp_path)
    tables = steps.summarize_activation_landscapes(
        landscapes, str(tmp_path / "summary.zarr"), str(tmp_path / "tables/pvalues.html"), str(tmp_path / "tables/complexity.html"),
        shown_thresholds=[0.2, 0.4, 0.6], permutations=5000, permutation_seed=0,
    )
    complexity = tables["complexity"].set_index(["threshold", "layer"])
    sd = np.std([1, 2, 3, 4], ddof=1)
    # threshold -> (samples, mean of the constants, their sd) at layer 0; layer 1 twice each
    expected = {0.2: (4, 2.5, sd), 0.4: (4, 2.5, sd), 0.6: (4, 12.5, sd), 0.8: (3, 4.0, 2.0)}
    for threshold, (samples, mean, spread) in expected.items():
        for layer in (0, 1):
            row = complexity.loc[(threshold, layer)]
            assert row["samples"] == samples
            # the average of constants is their mean, so its norm is the mean norm
            assert row["norm_of_average"] == pytest.approx(mean * (layer + 1) * unit, rel=1e-6)
            assert row["mean_norm"] == pytest.approx(mean * (layer + 1) * unit, rel=1e-6)
            assert row["std_norm"] == pytest.approx(spread * (layer + 1) * unit, rel=1e-6)
    assert complexity.loc[(0.8, 1), "layer_name"] == "output"
    pvalues = store.read_array(tmp_path / "summary.zarr", "pvalues")
    # the same four samples at 0.2 and 0.4: no split of the eight lies further apart than the
    # observed one (0), up to rounding; 0.6 holds every sample 10 (l + 1) higher: only the observed
    # split and its mirror, 2 of the 70 splits into two groups of 4, lie as far apart
    assert pvalues[0, 1] > 0.95
    assert pvalues[0, 2] == pytest.approx(2 / 70, abs=0.01) and pvalues[1, 2] == pytest.approx(2 / 70, abs=0.01)
    assert np.isnan(pvalues[np.tril_indices(3)]).all()
    np.testing.assert_array_equal(store.read_array(tmp_path / "summary.zarr", "group_sizes"), [4, 4, 4])
    assert tables["pvalues"].columns.tolist() == ["threshold", "0.2", "0.4", "0.6"]


def test_figures_draw_the_summary_they_are_given(tmp_path, monkeypatch):
    from pipeline.figures import FigureFiles
    from pipeline.studies.activation_landscapes import FIGURES
    from pipeline.studies.activation_landscapes.figures import plot_activation_landscapes

    landscapes, unit = _constant_landscapes(tmp_path)
    summary = str(tmp_path / "summary.zarr")
    steps.summarize_activation_landscapes(
        landscapes, summary, str(tmp_path / "p.csv"), str(tmp_path / "c.csv"), shown_thresholds=[0.2, 0.6], permutations=10,
        permutation_seed=0,
    )
    drawn, save = {}, FigureFiles.save

    def keep(self, fig, name):
        drawn[name] = [[np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()] for ax in fig.axes]
        return save(self, fig, name)

    monkeypatch.setattr(FigureFiles, "save", keep)
    paths = {name: str(tmp_path / f"figures/{name}.png") for name in FIGURES}
    written = plot_activation_landscapes(summary, experiment="e", dpi=50, formats=["png"], **paths)
    assert sorted(p.name for p in written) == sorted(f"{name}.png" for name in FIGURES)
    # Fig. 4: one line per threshold through the layers at the samples' mean norm (by hand)
    means = {0.2: 2.5, 0.4: 2.5, 0.6: 12.5, 0.8: 4.0}
    [lines] = drawn["complexity_by_layer"][:1]
    for line, mean in zip(lines, means.values()):
        np.testing.assert_allclose(line, mean * np.array([1, 2]) * unit, rtol=1e-6)
    # Fig. 2: the shown thresholds' average landscapes, constant at the samples' mean
    panels = drawn["landscapes"][:4]  # rows 0.2 and 0.6, layers input and output
    for (threshold, layer), lines in zip([(0.2, 0), (0.2, 1), (0.6, 0), (0.6, 1)], panels):
        np.testing.assert_allclose(lines[0], np.full(11, means[threshold] * (layer + 1)), rtol=1e-6)
