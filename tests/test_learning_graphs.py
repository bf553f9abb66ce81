"""Study learning_graphs: the branch detector on trajectories of known branching (a Y, a three-way
split, a straight line), extended persistence of a hand-made graph, the L2 lens from the origin,
self-contained pages, config errors, each step in-process on hand-made stores (trajectories
aligned on examples, the graphs of a Y and a line, the tables and claims of hand-made graphs, the
figures' lines), and the study end to end."""

import re

import numpy as np
import pandas as pd
import pytest
from conftest import TEST_RESULTS

from pipeline import store
from pipeline.kernels import mapper
from pipeline.kernels import trajectories as synthetic
from pipeline.studies.learning_graphs import pages, steps

NORM_LENS = dict(cubes=15, overlap=0.5, eps=1.0, eps_quantile=0.99, min_samples=1, space_components=10)
PCA_LENS = dict(components=3, cubes=6, overlap=0.4, eps=1.0, eps_quantile=0.99, min_samples=1, space_components=10)


def _detect(splits, seed=1, bootstrap=10):
    cloud = synthetic.branching_trajectories(splits, n_neurons=20, n_snapshots=40, dim=10, seed=seed)
    found = steps.item_learning_graphs(
        cloud.points, cloud.step.astype(float), norm_lens=NORM_LENS, pca_lens=PCA_LENS, bootstrap=bootstrap, min_support=0.5,
        stability={"cubes": [10, 15, 20], "overlap": [0.4, 0.5, 0.6]}, min_branch_steps=2, seed=0,
    )
    return cloud, found


def test_a_y_shaped_cloud_has_one_branching_within_one_snapshot_of_the_truth():
    cloud, found = _detect([(15, 0, 2)])
    splits = found["branching"].splits[found["significant"]]
    assert len(splits) == 1 and abs(splits[0, 0] - 15) <= 1
    assert found["connected_branches"] == found["lasting_branches"] == cloud.groups_at_end == 2
    assert found["branching"].pieces == 1 and found["detached_splits"] == 0
    assert np.all(found["stability_counts"] == 2) and np.all(found["stability_pieces"] == 1)  # every cover setting of the grid agrees


def test_a_three_way_split_reports_three_branches():
    cloud, found = _detect([(15, 0, 3)])
    assert found["connected_branches"] == cloud.groups_at_end == 3
    assert np.all(np.abs(found["branching"].splits[found["significant"], 0] - 15) <= 1)


def test_a_straight_noisy_trajectory_reports_no_branching():
    cloud, found = _detect([])
    assert len(found["branching"].splits) == 0 and found["connected_branches"] == 1


def test_extended_persistence_of_a_hand_made_tree():
    # trunk 0-1-2 (steps 0, 1, 2); from node 2 a branch 3-4 (steps 3, 4) and a branch 5-6 (3.5, 5);
    # and a second trunk 7 (step 0.5) merging into node 1
    values = np.array([0, 1, 2, 3, 4, 3.5, 5, 0.5])
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [2, 5], [5, 6], [7, 1]])
    found = mapper.branching(values, edges)
    np.testing.assert_allclose(found.splits, [[2, 4]], atol=1e-12)  # the shorter branch splits off at 2
    np.testing.assert_allclose(found.merges, [[0.5, 1]], atol=1e-12)
    np.testing.assert_allclose(found.components, [[0, 5]], atol=1e-12)
    assert len(found.loops) == 0 and found.connected_branches() == 2
    assert found.pieces == 1 and found.root == 0 and found.split_piece.tolist() == [0]


def test_a_nodes_value_is_the_mean_step_of_its_points():
    # node 0: three points of snapshot 0, one of snapshot 1, one of snapshot 5 (mean 1.2, median 0);
    # node 1: two points of snapshot 5 and one of 8 (mean 6, median 5); they share point 4
    step = np.array([0.0, 0.0, 0.0, 1.0, 5.0, 5.0, 8.0])
    graph = mapper.MapperGraph(members=[np.array([0, 1, 2, 3, 4]), np.array([4, 5, 6])], edges=np.array([[0, 1]]), names=["a", "b"])
    np.testing.assert_allclose(mapper.node_values(graph, step), [6 / 5, 18 / 3], rtol=1e-15)


def test_branches_are_counted_in_the_piece_that_holds_the_start():
    # the tree above (one split at 2), and two more pieces: a later stretch 8-9-10 (steps 3, 4, 5)
    # that splits at 4 into 10 and 11 (step 4.5), and a lone node 12 (step 4)
    values = np.array([0, 1, 2, 3, 4, 3.5, 5, 0.5, 3, 4, 5, 4.5, 4])
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [2, 5], [5, 6], [7, 1], [8, 9], [9, 10], [9, 11]])
    found = mapper.branching(values, edges)
    assert found.pieces == 3
    np.testing.assert_allclose(found.components[found.root], [0, 5])  # the longest-lived piece, here the start's
    assert found.start == found.root
    np.testing.assert_allclose(sorted(map(tuple, found.splits)), [(2, 4), (4, 4.5)], atol=1e-12)
    detached = found.split_piece != found.root
    np.testing.assert_allclose(found.splits[detached], [[4, 4.5]])
    np.testing.assert_allclose(found.components[found.split_piece[detached][0]], [3, 5])
    # two branches grow from the start; the other pieces are counted apart, never as branches
    assert found.connected_branches() == 2 and found.detached_splits() == 1
    # the count before issue 19 took the 2 lasting pieces (not the lone node) as branches
    assert found.pieces_plus_splits() == 2 + 2
    assert found.connected_branches(min_length=1.0) == 2 and found.detached_splits(min_length=1.0) == 0
    assert found.connected_branches(significant=~np.isclose(found.splits[:, 0], 2)) == 1
    # the same pairs as gudhi gives on the whole graph at once
    whole = mapper._extended(values, edges)
    assert len(mapper._pairs(whole[1], 1)) == len(found.splits) and len(mapper._pairs(whole[0], 0)) == len(found.merges)
    # a stub of the early trunk (0, 2) apart from the tree (1 to 8, one split at 3): the tree is
    # the main piece, though the stub holds the earliest node
    stub = mapper.branching(np.array([0, 2, 1, 3, 8, 6]), np.array([[0, 1], [2, 3], [3, 4], [3, 5]]))
    np.testing.assert_allclose(stub.components[[stub.root, stub.start]], [[1, 8], [0, 2]])
    assert stub.connected_branches() == 2 and stub.detached_splits() == 0 and stub.pieces == 2
    empty = mapper.branching(np.zeros(0), np.zeros((0, 2)))
    assert empty.pieces == 0 and empty.connected_branches() == 0 and empty.root == -1


def test_a_trajectory_broken_by_a_fast_move_is_one_branch_not_two():
    # one straight trajectory of 10 neurons that jumps once, by far more than it moves otherwise:
    # the learning graph falls in two pieces, the branches at the end stay 1
    from pipeline.kernels import mapper as m

    step = np.repeat(np.arange(30.0), 10)
    rng = np.random.default_rng(0)
    along = np.arange(30.0) + 20.0 * (np.arange(30) >= 15)
    points = np.zeros((300, 4))
    points[:, 0] = np.repeat(along, 10)
    points[:, 1:] = rng.normal(scale=0.05, size=(300, 3))
    lens = m.norm_lens(points)
    graph, _ = m.mapper_graph(lens, points, cubes=15, overlap=0.5, eps=1.5)
    found = m.branching(m.node_values(graph, step), graph.edges)
    assert found.pieces == 2 and found.connected_branches(1.0) == 1
    assert found.pieces_plus_splits(1.0) == 2  # what was counted before


def test_the_l2_lens_is_measured_from_the_origin():
    rng = np.random.default_rng(0)
    cloud = rng.normal(size=(200, 5)) + 10.0  # far from the origin
    lens = mapper.norm_lens(cloud)[:, 0]
    np.testing.assert_allclose(lens, np.linalg.norm(cloud, axis=1))
    centred = np.linalg.norm(cloud - cloud.mean(axis=0), axis=1)  # what the public notebook measured
    assert lens.min() > 15 > centred.max()


def test_repeated_points_give_keplermappers_graph_of_the_raw_cloud():
    import kmapper
    from sklearn.cluster import DBSCAN

    cloud = synthetic.branching_trajectories([(10, 0, 2)], n_neurons=6, n_snapshots=25, dim=5, noise=0.0, seed=3)
    points = np.repeat(cloud.points, 3, axis=0)  # every neuron three times, as after a symmetric start
    lens = mapper.norm_lens(points)
    ours, _ = mapper.mapper_graph(lens, points, cubes=8, overlap=0.5, eps=1.5)
    raw = kmapper.KeplerMapper(verbose=0).map(lens, X=points, cover=kmapper.Cover(8, 0.5), clusterer=DBSCAN(eps=1.5, min_samples=1))
    assert sorted(map(tuple, ours.members)) == sorted(tuple(sorted(m)) for m in raw["nodes"].values())
    assert len(ours.edges) == sum(len(v) for v in raw["links"].values())


def test_trajectory_eps_is_a_quantile_of_the_moves():
    positions = np.cumsum(np.ones((5, 3, 2)), axis=0)  # 5 snapshots of 3 neurons moving by (1, 1)
    assert mapper.trajectory_eps(positions.reshape(15, 2), 5, 0.5, 2.0) == pytest.approx(2 * np.sqrt(2))
    with pytest.raises(ValueError, match="not 4 snapshots"):
        mapper.trajectory_eps(positions.reshape(15, 2), 4, 0.5, 1.0)


def test_pages_are_self_contained(tmp_path):
    cloud, found = _detect([(15, 0, 2)], bootstrap=0)
    page = pages.write_page(found["kepler"], cloud.step, tmp_path / "y.html", "Y")
    html = page.read_text()
    assert pages.remote_references(html) == []
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?https?://", html)
    assert "d3.min.js, inlined" in html and "FileSaver.min.js, inlined" in html
    assert "Mike Bostock" in html and "Eli Grey" in html  # the licences travel with the scripts
    # the check itself finds what KeplerMapper's own page references
    import kmapper

    raw = kmapper.KeplerMapper(verbose=0).visualize(
        found["kepler"], color_values=cloud.step.astype(float), color_function_name="step", save_file=False
    )
    assert len(pages.remote_references(raw)) == 4  # d3, FileSaver, the font, the icon


def test_config_errors_name_the_run_key():
    from pipeline.config import ConfigError, validate_config

    def config(run, **sweep):
        base = {
            "dataset": "digits", "architecture": {"name": "mlp", "hidden": [8]}, "snapshot_every": 5, "snapshot_metrics": True, **sweep,
        }
        return {"sweeps": {"s": base}, "learning_graphs": {"runs": {"r": {"sweep": "s", **run}}}}

    assert validate_config(config({}))["learning_graphs"]["runs"]["r"]["layers"] == []
    cases = [
        (config({"sweep": "t"}), "runs.r.sweep': no sweep or sweep family named 't'"),
        (config({}, snapshot_every="epoch"), "must record weights every few steps"),
        (config({}, snapshot_metrics=False), "must record weights every few steps"),
        (config({"layers": ["hidden3"]}), "['hidden3'] are not layers of sweep 's' (hidden1, output)"),
    ]
    for bad, message in cases:
        with pytest.raises(ConfigError, match=re.escape(message)):
            validate_config(bad)


def _family(cadence, batch_sizes=(10, 20), **sweep):
    """A config whose run 'r' reads a family of digits MLP sweeps, one per batch size."""
    base = {
        "dataset": "digits", "architecture": {"name": "mlp", "hidden": [6], "activation": "sigmoid", "bias": False},
        "optimizer": "sgd", "grid": {"lr": [1.0], "momentum": [0.0]}, "epochs": 3, "snapshot_every": cadence,
        "snapshot_metrics": True, "variants": {"batch_size": list(batch_sizes)}, "population_size": 1, **sweep,
    }
    return {"sweeps": {"fam": base}, "learning_graphs": {"runs": {"r": {"sweep": "fam"}}}}


def test_the_check_rejects_a_run_whose_sweeps_record_different_schedules():
    from pipeline.config import ConfigError, validate_config

    # the examples cadence at two batch sizes: one schedule, accepted
    validate_config(_family({"examples": 200}))
    # a step cadence at two batch sizes: twice the snapshots at batch 10
    with pytest.raises(ConfigError, match=re.escape(
        "config key 'sweeps.fam__batch_size20.snapshot_every' (of family 'fam': its snapshot_every or variants): run 'r' "
        "(learning_graphs.runs.r) aligns its sweeps on their snapshots, but sweeps 'fam__batch_size10' and "
        "'fam__batch_size20' record 23 and 12 snapshots; snapshot 1 comes after 200 and 400 examples"
    )):
        validate_config(_family(20))
    # the same examples, but 1,440 and 1,472 batch slots per epoch of the 1,437 digits
    with pytest.raises(ConfigError, match=r"sweeps.fam__batch_size64.batch_size'.*count 1440 and 1472 examples per epoch"):
        validate_config(_family({"examples": 640}, batch_sizes=(32, 64)))
    # epochs and data, in sweeps named one by one into a family
    config = _family({"examples": 200})
    base = {k: v for k, v in config["sweeps"].pop("fam").items() if k != "variants"}
    config["sweeps"] = {"a": {**base, "family": "fam", "batch_size": 10}, "b": {**base, "family": "fam", "batch_size": 20, "epochs": 4}}
    with pytest.raises(ConfigError, match=r"sweeps.b.epochs' \(of family 'fam'.*'a' and 'b' train for 3 and 4 epochs"):
        validate_config(config)
    config["sweeps"]["b"].update(epochs=3, dataset_options={"n_samples": 1000})
    with pytest.raises(ConfigError, match=r"sweeps.b.dataset_options'.*train on 1437 and 1000 examples"):
        validate_config(config)


def test_the_paper_compare_run_records_the_same_201_positions_at_both_batch_sizes():
    from pipeline.config import load_config
    from pipeline.studies.learning_graphs import recorded_schedule, run_sweeps

    config = load_config("config/paper.yaml")
    schedules = {s: recorded_schedule(config["sweeps"][s]) for s in run_sweeps(config, "compare")}
    assert {config["sweeps"][s]["batch_size"] for s in schedules} == {50, 100}
    first = next(iter(schedules.values()))
    assert len(first["examples"]) == 201 and first["examples"][-1] == 70 * 60000
    assert all(s["examples"] == first["examples"] and s["epoch_positions"] == first["epoch_positions"] for s in schedules.values())


def test_trajectories_of_two_batch_sizes_are_aligned_on_examples(tmp_path):
    from pipeline import zoo
    from pipeline.config import validate_config

    config = validate_config(_family({"examples": 480}))
    paths = []
    for sweep in ("fam__batch_size10", "fam__batch_size20"):
        paths.append(tmp_path / f"{sweep}.zarr")
        zoo.train_population_job(zoo.population_spec(config, sweep, 0), paths[-1], progress=False)
    recorded = [store.open_population(p)["snapshot_step"][...].tolist() for p in paths]
    assert recorded[0] == [0, 48, 96, 144, 192, 240, 288, 336, 384, 432]  # 144 steps per epoch at 10
    assert recorded[1] == [s // 2 for s in recorded[0]]  # 72 at 20: the same examples, half the steps
    out = steps.extract_weight_trajectories([str(p) for p in paths], str(tmp_path / "t.zarr"), layers=[], digit=9)
    names = ("epoch", "examples", "step", "steps_per_epoch", "weights/hidden1", "test_accuracy")
    read = {name: store.read_array(out, name) for name in names}
    assert read["weights/hidden1"].shape == (2, 10, 6, 64) and read["test_accuracy"].shape == (2, 10)
    np.testing.assert_array_equal(read["examples"], np.array(recorded[0]) * 10)
    np.testing.assert_allclose(read["epoch"], np.array(recorded[0]) / 144)
    np.testing.assert_array_equal(read["step"], recorded)
    np.testing.assert_array_equal(read["steps_per_epoch"], [144, 72])
    assert read["epoch"][-1] == 3.0
    # the stored weights are each network's own snapshots, in that order
    for n, path in enumerate(paths):
        np.testing.assert_array_equal(read["weights/hidden1"][n], store.snapshot_arrays(path)["layers.0.weight"][0].compute())

    # a step cadence records other positions at the two batch sizes: refused, naming both stores
    config = validate_config({**_family(48), "learning_graphs": {}})
    stepwise = tmp_path / "steps20.zarr"
    zoo.train_population_job(zoo.population_spec(config, "fam__batch_size20", 0), stepwise, progress=False)
    with pytest.raises(ValueError, match=f"{stepwise} \\(batch size 20, 6 snapshots\\) recorded at other examples seen"):
        steps.extract_weight_trajectories([str(paths[0]), str(stepwise)], str(tmp_path / "u.zarr"), layers=[], digit=9)


@pytest.mark.slow
def test_study_runs_end_to_end(finished_test_run):
    base = finished_test_run / TEST_RESULTS / "learning_graphs"
    counts = pd.read_csv(base / "tables/branch_counts.csv")
    assert set(counts["layer"]) == {"hidden1", "output"}
    # the table holds what the run's graphs store holds (the steps themselves are tested on
    # hand-made stores above: test_learning_graphs_of_hand_made_trajectories_find_their_branches,
    # test_tables_of_hand_made_graphs)
    graphs = base / "tiny/graphs.zarr"
    networks = store.open_array_store(graphs).attrs["networks"]
    for row in counts.itertuples():
        key = f"{networks.index(row.network)}/{row.layer}"
        stored = tuple(int(store.read_array(graphs, f"{key}/{count}")) for count in ("connected_branches", "pieces"))
        assert (row.connected_branches, row.pieces) == stored
        assert row.grid_max == store.read_array(graphs, f"{key}/stability_counts").max()
    claims = pd.read_csv(base / "tables/claims.csv", keep_default_na=False, na_values=[""])
    assert claims["id"].tolist() == ["zero-output-branches", "zero-hidden-branches", "tiny-output-branches", "branchings-at-jumps"]
    # no zero-init run in the test config; one network cannot be resampled
    assert claims.set_index("id").loc[["zero-output-branches", "branchings-at-jumps"], "verdict"].eq("not testable at this scale").all()
    assert claims.set_index("id").loc["tiny-output-branches", "verdict"] != "not testable at this scale"
    branchings = pd.read_csv(base / "tables/branchings.csv")
    # keys first (the network by its short label), the full network name, which joins, last
    assert list(branchings.columns[:4]) == ["run", "label", "layer", "split_epoch"] and branchings.columns[-1] == "network"
    run = base / "tiny"
    for name in ("layers", "digit_over_training", "pca_lens", "learning_surface", "norms_and_accuracy"):
        assert (run / f"figures/{name}.png").stat().st_size > 5000
    html = sorted((run / "pages").glob("*.html"))
    assert len(html) == 4 and all(pages.remote_references(p.read_text()) == [] for p in html)
    weights = store.read_array(run / "trajectories.zarr", "weights/output")
    epochs = store.read_array(run / "trajectories.zarr", "epoch")
    assert weights.shape[-1] == 8 and weights.shape[1] == len(epochs) and epochs[0] == 0 and (np.diff(epochs) > 0).all()


def test_chance_share_and_coincidence_of_branchings_with_jumps():
    from pipeline.studies.learning_graphs import claims

    epochs = np.arange(11.0)  # recorded at epochs 0..10
    accuracy = np.array([0.1, 0.1, 0.1, 0.4, 0.4, 0.42, 0.42, 0.5, 0.5, 0.5, 0.5])
    np.testing.assert_array_equal(claims.jump_epochs(epochs, accuracy), [3, 7])  # +0.02 is no jump
    # windows [2, 4] and [6, 8] on [0, 10]; overlapping windows and the span's ends are not counted twice
    assert claims.window_share([3, 7], 0, 10, 1) == pytest.approx(0.4)
    assert claims.window_share([3, 4], 0, 10, 1) == pytest.approx(0.3)
    assert claims.window_share([0], 0, 10, 2) == pytest.approx(0.2)
    assert claims.window_share([], 0, 10, 2) == 0
    found = claims.network_coincidence([2.5, 5.0, 7.0], epochs, accuracy, window=1.0)
    assert (found.branchings, found.coinciding) == (3, 2) and found.chance == pytest.approx(0.4)
    never = claims.network_coincidence([4.0], epochs, np.full(11, 0.1), window=1.0)  # at chance throughout
    assert (never.coinciding, never.chance) == (0, 0)
    assert claims.excess_coincidence([found, never]) == pytest.approx((2 - 3 * 0.4) / 4)
    assert np.isnan(claims.excess_coincidence([]))


def test_every_verdict_of_the_claims_is_reachable_from_hand_made_statistics():
    from pipeline.claims import NOT_REPRODUCED, NOT_TESTABLE, PARTLY, REPRODUCED
    from pipeline.studies.learning_graphs import claims

    grid = np.array([[10, 0.4], [10, 0.5], [15, 0.5]])

    def count(lasting, on_grid):
        item = claims.CountItem(lasting, lasting, 2, 1, lasting + 2, np.array(on_grid), grid)
        return claims.count_claim("tiny-output-branches", "c", "p", item, missing="", scale="")

    assert count(10, [9, 10, 11]).verdict == REPRODUCED  # within one branch of 10 on every setting
    assert count(10, [7, 10, 11]).verdict == PARTLY  # ours 10, but a setting gives 7
    assert count(7, [6, 7, 8]).verdict == PARTLY  # more than half of 10 on every setting
    assert count(3, [3, 4, 9]).verdict == NOT_REPRODUCED
    assert count(12, [12, 13]).verdict == PARTLY  # a distance: too many is as far as too few
    shown = count(6, [5, 6, 8])
    assert (shown.value, shown.low, shown.high) == (4, 2, 5) and "2 pieces" in shown.scale_note
    assert claims.count_claim("zero-hidden-branches", "c", "p", None, missing="no run", scale="").verdict == NOT_TESTABLE

    def at_jumps(*networks):
        return claims.coincidence_claim([claims.NetworkCoincidence(*n) for n in networks], seed=0, scale="")

    assert at_jumps((3, 3, 0.1), (2, 2, 0.2), (4, 4, 0.1)).verdict == REPRODUCED
    assert at_jumps((3, 0, 0.3), (2, 0, 0.2), (4, 0, 0.1)).verdict == NOT_REPRODUCED
    assert at_jumps((3, 3, 0.1), (1, 0, 0.2), (2, 0, 0.1), (3, 0, 0.1), (2, 1, 0.1)).verdict == PARTLY
    assert at_jumps((3, 3, 0.1), (0, 0, 0.0)).verdict == NOT_TESTABLE  # one network branches: nothing to resample


def test_the_claims_step_reads_the_runs_it_is_told(tmp_path):
    epochs = np.arange(0, 31, 1.0)
    accuracy = np.full(31, 0.1)
    accuracy[10:] = 0.5  # one jump, at epoch 10
    grid = np.array([[c, o] for c in (10, 15) for o in (0.4, 0.5)])

    def layer(lasting, splits, significant, grid_counts):
        return {
            "splits": np.array(splits, dtype=float).reshape(-1, 2), "significant": np.array(significant, bool),
            "connected_branches": lasting, "lasting_branches": lasting, "detached_splits": 0, "pieces_plus_splits": lasting + 1,
            "pieces": 2, "main_piece": 0, "start_piece": 0, "stability_counts": np.array(grid_counts), "stability_grid": grid,
        }

    runs = {
        "z": {"hidden1": layer(12, [], [], [11, 12, 12, 13]), "output": layer(9, [[9, 20], [25, 30]], [True, True], [9, 10, 10, 10])},
        "t": {"output": layer(4, [[10, 30]], [True], [3, 4, 4, 5])},
    }
    trajectories, graphs = [], []
    for name, layers in runs.items():
        networks = 2
        arrays = {f"{n}/{lay}/{k}": np.asarray(v) for n in range(networks) for lay, items in layers.items() for k, v in items.items()}
        graphs.append(str(store.write_array_store(tmp_path / f"{name}_graphs.zarr", arrays, {
            "run": name, "layers": list(layers), "networks": [f"s/{n}" for n in range(networks)], "epoch_spacing": 1.0})))
        trajectories.append(str(store.write_array_store(tmp_path / f"{name}_traj.zarr", {
            "epoch": epochs, "test_accuracy": np.stack([accuracy] * networks)}, {"input_shape": [1, 8, 8], "n_train": 100})))
    out = tmp_path / "tables/claims.html"
    frame = steps.tabulate_learning_graphs_claims(
        trajectories, graphs, str(out), claims_runs={"zero_init": "z", "tiny_init": "t"}, seed=0
    ).set_index("id")
    assert out.with_suffix(".csv").exists() and out.with_suffix(".md").exists()
    assert (frame.loc["zero-output-branches", ["ours", "interval_low", "interval_high"]] == [1, 0, 1]).all()
    assert frame.loc["zero-output-branches", "verdict"] == "reproduced"
    assert (frame.loc["zero-hidden-branches", ["ours", "interval_low", "interval_high"]] == [0, 0, 1]).all()
    assert frame.loc["tiny-output-branches", "verdict"] == "not reproduced"  # 4 of 10 at best 5
    # 6 branchings (2 per network of z, 1 per network of t), 4 within 3 epochs of the jump at epoch 10
    # (9 and 10; not 25); chance: the window [7, 13] is 6/30 of the span
    jumps = frame.loc["branchings-at-jumps"]
    assert jumps["ours"] == pytest.approx((4 - 6 * 6 / 30) / 6)
    assert "bootstrap over 4 networks" in jumps["interval_method"]
    missing = steps.tabulate_learning_graphs_claims(
        trajectories, graphs, str(out), claims_runs={"zero_init": None, "tiny_init": "t"}, seed=0
    ).set_index("id")
    assert missing.loc["zero-hidden-branches", "verdict"] == "not testable at this scale"
    assert "No run zero_init here" in missing.loc["zero-hidden-branches", "scale_note"]


# ------------------------------------------------------------------ each step on hand-made stores
# min_support 1: a branching counts only when every resample finds it (support exactly 1 is
# enough); min_branch_snapshots 8: at the hand-made run's 0.25 epochs per snapshot, 2 epochs
SETTINGS = dict(
    surface_steps=3, norm_lens=NORM_LENS, pca_lens=PCA_LENS, bootstrap=4, min_support=1.0,
    stability={"cubes": [10, 15], "overlap": [0.4, 0.5]}, min_branch_snapshots=8, seed=0,
)


def _hand_made_layer(snapshots, neurons, splits_at=None, children=2, dim=6, seed=0):
    """Weights ``[snapshot, neuron, dim]`` of neurons that move together one unit per snapshot
    along the first axis; from snapshot ``splits_at`` on, neuron i also moves two units per
    snapshot along axis 1 + (i mod ``children``): a trunk that splits into ``children`` branches
    (a Y for 2). Without ``splits_at``, one straight trajectory. Noise 0.05."""
    s = np.arange(snapshots, dtype=float)[:, None, None]
    weights = np.zeros((snapshots, neurons, dim))
    weights[..., 0] = s[..., 0]
    if splits_at is not None:
        side = 2.0 * np.maximum(s[..., 0] - splits_at, 0)  # [snapshot, 1]
        for i in range(neurons):
            weights[:, i, 1 + i % children] = side[:, 0]
    return weights + np.random.default_rng(seed).normal(scale=0.05, size=weights.shape)


@pytest.fixture(scope="module")
def hand_made_run(tmp_path_factory):
    """One network's trajectories, recorded every 0.25 epochs over 30 snapshots: layer hidden1 a Y
    of 12 neurons splitting at snapshot 12 (epoch 3), layer output 8 neurons on one straight
    trajectory; and the learning graphs the step builds of them. Returns (trajectories, graphs,
    pages folder, epochs)."""
    tmp_path = tmp_path_factory.mktemp("learning_graphs")
    snapshots, spacing = 30, 0.25
    hidden, output = _hand_made_layer(snapshots, 12, 12)[None], _hand_made_layer(snapshots, 8, seed=2)[None]
    epochs = np.arange(snapshots) * spacing
    accuracy = np.clip(0.1 + 0.02 * np.arange(snapshots), 0, 1)[None]
    arrays = {
        "epoch": epochs, "examples": np.arange(snapshots) * 100, "step": np.arange(snapshots)[None] * 10,
        "steps_per_epoch": np.array([40]), "test_accuracy": accuracy, "train_accuracy": accuracy,
        "digit_predictions": np.tile(np.eye(10, dtype=np.int64)[9] * 5, (1, snapshots, 1)),
        "weights/hidden1": hidden.astype(np.float32), "weights/output": output.astype(np.float32),
        "norms/hidden1": np.linalg.norm(hidden, axis=-1), "norms/output": np.linalg.norm(output, axis=-1),
    }
    attrs = {"layers": ["hidden1", "output"], "networks": ["s/0"], "n_train": 100, "input_shape": [1, 2, 3],
             "digit": 9, "digit_images": 5, "sweeps": ["s"]}
    trajectories = str(store.write_array_store(tmp_path / "trajectories.zarr", arrays, attrs))
    graphs = steps.build_learning_graphs(
        trajectories, str(tmp_path / "graphs.zarr"), str(tmp_path / "pages"), run="r", threads=1, **SETTINGS
    )
    return trajectories, str(graphs), tmp_path / "pages", epochs


def test_learning_graphs_of_hand_made_trajectories_find_their_branches(hand_made_run):
    trajectories, graphs, pages_dir, epochs = hand_made_run

    def read(key):
        return store.read_array(graphs, key)

    # hidden1, a Y: one significant branching at the split (epoch 3), found at most two
    # snapshots late (the branches must first move apart by more than the clustering radius),
    # two branches at the end, one piece, and the same two at every cover setting of the grid
    splits = read("0/hidden1/splits")[read("0/hidden1/significant")]
    assert len(splits) == 1 and 3.0 <= splits[0, 0] <= 3.0 + 2 * 0.25
    # found in every resample: support exactly min_support (1), which is significant
    assert read("0/hidden1/support")[read("0/hidden1/significant")].tolist() == [SETTINGS["min_support"]] == [1.0]
    # the branch lasts from its split to the last snapshot (7.25), between the 2 epochs of
    # min_branch_snapshots 8 at 0.25 epochs each and 8 (the snapshots read as epochs): it lasts
    assert 2.0 < splits[0, 1] - splits[0, 0] < 8.0
    assert int(read("0/hidden1/lasting_branches")) == 2
    assert int(read("0/hidden1/connected_branches")) == 2 and int(read("0/hidden1/pieces")) == 1
    np.testing.assert_array_equal(read("0/hidden1/stability_counts"), 2)
    # output, straight: no branching, one branch
    assert len(read("0/output/splits")) == 0 and int(read("0/output/connected_branches")) == 1
    # each node's epoch is the mean epoch of its points (snapshot-major: point p at epochs[p // 12])
    offsets, members = read("0/hidden1/norm/node_offsets"), read("0/hidden1/norm/node_points")
    direct = [epochs[members[a:b] // 12].mean() for a, b in zip(offsets[:-1], offsets[1:])]
    np.testing.assert_allclose(read("0/hidden1/norm/node_epoch"), direct)
    # a page per (layer, lens), self-contained
    html = sorted(pages_dir.glob("*.html"))
    assert [p.name for p in html] == sorted(f"network0_{layer}_{lens}.html" for layer in ("hidden1", "output") for lens in ("norm", "pca"))
    assert all(pages.remote_references(p.read_text()) == [] for p in html)
    assert store.open_array_store(graphs).attrs["epoch_spacing"] == 0.25


def _hand_made_graphs(tmp_path):
    """A run 'r' of one network, layer hidden1: two branchings (epoch 2.5 to 6, significant, in
    the main piece 0; 7.5 to 10, not, in piece 1, which holds the start: the main piece is not the
    start's), stability counts 2, 2, 3, 2 over four settings; accuracy recorded at epochs 0-10
    jumps at 3 (+0.3) and at 7 (+0.08)."""
    epochs = np.arange(11.0)
    accuracy = np.array([0.1, 0.1, 0.1, 0.4, 0.4, 0.42, 0.42, 0.5, 0.5, 0.5, 0.5])
    trajectories = store.write_array_store(tmp_path / "t.zarr", {
        "epoch": epochs, "steps_per_epoch": np.array([100]), "test_accuracy": accuracy[None]}, {"input_shape": [1, 8, 8]})
    key = "0/hidden1"
    arrays = {
        f"{key}/splits": np.array([[2.5, 6.0], [7.5, 10.0]]), f"{key}/significant": np.array([True, False]),
        f"{key}/support": np.array([0.9, 0.3]), f"{key}/split_spread": np.array([0.2, 1.0]),
        f"{key}/split_piece": np.array([0, 1]), f"{key}/main_piece": np.int64(0), f"{key}/start_piece": np.int64(1),
        f"{key}/pieces": np.int64(2), f"{key}/connected_branches": np.int64(2), f"{key}/lasting_branches": np.int64(2),
        f"{key}/detached_splits": np.int64(0), f"{key}/pieces_plus_splits": np.int64(3),
        f"{key}/stability_counts": np.array([2, 2, 3, 2]), f"{key}/stability_pieces": np.array([1, 2, 1, 1]),
        f"{key}/stability_grid": np.array([[10, 0.4], [10, 0.5], [15, 0.4], [15, 0.5]]),
    }
    graphs = store.write_array_store(tmp_path / "g.zarr", arrays, {"run": "r", "layers": ["hidden1"], "networks": ["s/0"]})
    return str(trajectories), str(graphs)


def test_tables_of_hand_made_graphs(tmp_path):
    trajectories, graphs = _hand_made_graphs(tmp_path)
    tables = steps.tabulate_learning_graphs(
        [trajectories], [graphs], str(tmp_path / "tables/branchings.html"), str(tmp_path / "tables/branch_counts.html"),
        accuracy_jumps=2,
    )
    counts = tables["branch_counts"].iloc[0]
    assert (counts["connected_branches"], counts["lasting_branches"], counts["pieces"]) == (2, 2, 2)
    assert (counts["significant_splits"], counts["splits"], counts["main_holds_start"]) == (1, 2, False)
    # the grid's mode and its share by hand: 2 at three of four settings; its range 2-3, pieces 1-2
    assert (counts["modal_count"], counts["modal_fraction"], counts["grid_min"], counts["grid_max"]) == (2, 0.75, 2, 3)
    assert (counts["grid_pieces_min"], counts["grid_pieces_max"]) == (1, 2)
    assert counts["final_test_accuracy"] == 0.5 and counts["accuracy_jumps"] == "epoch 3 (+0.30); epoch 7 (+0.08)"
    rows = tables["branchings"]
    # each branching beside its nearest jump (3 for 2.5, 7 for 7.5), the lag, the step at 100 per epoch
    assert rows["nearest_jump_epoch"].tolist() == [3.0, 7.0] and rows["lag_epochs"].tolist() == [-0.5, 0.5]
    # in the main piece (0), not in the start's (1)
    assert rows["split_step"].tolist() == [250.0, 750.0] and rows["in_main_piece"].tolist() == [True, False]
    assert rows["significant"].tolist() == [True, False] and rows["support"].tolist() == [0.9, 0.3]
    for name in ("branchings", "branch_counts"):
        assert all((tmp_path / f"tables/{name}.{ext}").exists() for ext in ("csv", "md", "html"))


def test_figures_draw_the_trajectories_and_graphs_they_are_given(hand_made_run, tmp_path, monkeypatch):
    from pipeline.figures import FigureFiles
    from pipeline.studies.learning_graphs import FIGURES
    from pipeline.studies.learning_graphs.figures import plot_learning_graphs

    trajectories, graphs, _, epochs = hand_made_run
    drawn, titles, save = {}, {}, FigureFiles.save

    def keep(self, fig, name):
        drawn[name] = [[np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()] for ax in fig.axes]
        titles[name] = [ax.get_title() for ax in fig.axes]
        return save(self, fig, name)

    monkeypatch.setattr(FigureFiles, "save", keep)
    paths = {name: str(tmp_path / f"figures/{name}.png") for name in FIGURES}
    written = plot_learning_graphs(trajectories, graphs, run="r", seed=0, dpi=50, formats=["png"], **paths)
    assert sorted(p.name for p in written) == sorted(f"{name}.png" for name in FIGURES)
    # Fig. 8: the norm of every neuron of each layer, then the accuracy
    np.testing.assert_allclose(np.stack(drawn["norms_and_accuracy"][0], axis=1), store.read_array(trajectories, "norms/hidden1")[0],
                               rtol=1e-6)
    np.testing.assert_allclose(np.stack(drawn["norms_and_accuracy"][1], axis=1), store.read_array(trajectories, "norms/output")[0],
                               rtol=1e-6)
    np.testing.assert_allclose(drawn["norms_and_accuracy"][2][0], store.read_array(trajectories, "test_accuracy")[0])
    # Fig. 4: the counts of the one class the five images of 9 all go to
    np.testing.assert_array_equal(drawn["digit_over_training"][0], [np.full(len(epochs), 5.0)])
    # Figs. 3/5: each layer's graph titled with its counts: the Y's 2 branches, the line's 1
    assert titles["layers"][2:4] == ["L2 lens: 2 branches, 1 piece", "L2 lens: 1 branches, 1 piece"]
