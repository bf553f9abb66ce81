"""Loss-landscape study: its kernels by hand and against libraries (scikit-learn's kNN graph and
PCA, a union-find, a direct computation of basins and their saddles), every step in-process on
tiny hand-made stores against a direct computation (jump-and-retrain as a population against each
retraining alone, the probes against the network alone, the embedding against PHATE of the vectors,
Table 1 on features that separate perfectly or not at all), and the study through Snakemake."""

import dask.array as da
import numpy as np
import pandas as pd
import pytest
from conftest import TEST_RESULTS

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


def _union_find_h0(values, edges):
    """The reference: H0 of a graph's sublevel filtration by union-find with the elder rule (the
    kernel's former implementation), ``[(birth, death)]`` with zero-length pairs left out."""
    parent = list(range(len(values)))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    pairs = []
    edge_values = [max(values[i], values[j]) for i, j in edges]
    for e in sorted(range(len(edges)), key=lambda e: (edge_values[e], e)):
        u, v = find(edges[e][0]), find(edges[e][1])
        if u != v:
            old, young = (u, v) if (values[u], u) <= (values[v], v) else (v, u)
            pairs.append((values[young], edge_values[e]))
            parent[young] = old
    pairs += [(values[r], np.inf) for r in {find(i) for i in range(len(values))}]
    return sorted(p for p in pairs if p[1] > p[0])


def test_graph_persistence_agrees_with_a_union_find_on_random_graphs():
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(3)
    for trial in range(8):
        n = int(rng.integers(5, 60))
        points = rng.normal(size=(n, 3))
        # integer values half the time: ties between vertices, and edges entering together
        values = rng.integers(0, 6, n).astype(float) if trial % 2 else rng.normal(size=n)
        edges = graphs.knn_edges(points, int(rng.integers(1, 4)))
        edges = edges[rng.random(len(edges)) < 0.8]  # some graphs fall apart into components
        h0, h1 = persistence.graph_persistence(values, edges, "graph")
        assert sorted(map(tuple, h0)) == _union_find_h0(values, edges.tolist())
        # a graph's cycles never die: one essential H1 class per independent cycle, E - V + C
        components = connected_components(coo_matrix((np.ones(len(edges)), edges.T), shape=(n, n)), directed=False)[0]
        assert np.isinf(h1[:, 1]).all()
        assert len(h1) == len(edges) - n + components


def test_knn_edges_equal_scikit_learns_kneighbors_graph():
    from sklearn.neighbors import kneighbors_graph

    rng = np.random.default_rng(4)
    for n, k in ((10, 1), (40, 3), (81, 20)):
        points = rng.normal(size=(n, 4))
        directed = kneighbors_graph(points, k, mode="connectivity", include_self=False).toarray()
        expected = graphs.edges_of(np.maximum(directed, directed.T))
        np.testing.assert_array_equal(graphs.knn_edges(points, k), expected)
    with pytest.raises(ValueError, match="k must be an integer"):
        graphs.knn_edges(points, n)


def _bottleneck_deaths(values, edges):
    """Direct H0 of a sublevel filtration: each local minimum is born at its value and dies at the
    lowest level at which its sublevel component reaches a lower vertex (ties to the lower
    index), found by testing every level with scipy's connected components."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n, edges = len(values), np.asarray(edges)
    neighbours = [set() for _ in range(n)]
    for i, j in edges:
        neighbours[i].add(j)
        neighbours[j].add(i)
    minima = [i for i in range(n) if all((values[i], i) < (values[j], j) for j in neighbours[i])]
    edge_values = np.maximum(values[edges[:, 0]], values[edges[:, 1]])
    pairs = []
    for m in minima:
        death = np.inf
        older = (values < values[m]) | ((values == values[m]) & (np.arange(n) < m))
        for level in np.unique(edge_values[edge_values >= values[m]]):
            keep = edges[edge_values <= level]
            labels = connected_components(coo_matrix((np.ones(len(keep)), keep.T), shape=(n, n)), directed=False)[1]
            if np.any(older & (labels == labels[m])):
                death = level
                break
        pairs.append((values[m], death))
    return minima, sorted(p for p in pairs if p[1] > p[0])


def test_landscape_topology_of_a_loss_grid_with_three_basins():
    # a loss on a 25 x 25 grid: three Gaussian wells of depths 1, 0.8, 0.6 and nothing else
    axis = np.linspace(-2.5, 2.5, 25)
    x, y = (a.ravel() for a in np.meshgrid(axis, axis))
    wells = [((-1.0, -1.0), 1.0), ((1.2, -0.8), 0.8), ((0.0, 1.3), 0.6)]
    loss = -sum(depth * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 0.6**2)) for (cx, cy), depth in wells)
    # the samples' positions, jittered so that no two distances tie; 8 neighbours: the grid's own
    points = np.column_stack([x, y]) + 1e-6 * np.random.default_rng(5).normal(size=(len(x), 2))
    topology = persistence.landscape_topology(points, loss, 8)
    edges = graphs.knn_edges(points, 8)
    minima, expected = _bottleneck_deaths(loss, edges)
    assert len(minima) == 3  # the three wells, each a basin
    flag_h0 = topology["diagrams"]["flag"][0]
    assert sorted(map(tuple, flag_h0)) == expected  # born at each well's bottom, dead at its saddle
    finite = np.array([p for p in expected if np.isfinite(p[1])])
    np.testing.assert_allclose(sorted(finite[:, 0]), sorted(loss[minima])[1:])  # the deepest never dies
    assert topology["total_persistence"][1, 0] == pytest.approx(np.sum((finite[:, 1] - finite[:, 0]) ** 2), rel=1e-12)
    # the public code's graph complex also counts the surviving basin, closed at the largest loss
    graph_total = np.sum((finite[:, 1] - finite[:, 0]) ** 2) + (loss.max() - loss.min()) ** 2
    assert topology["total_persistence"][0, 0] == pytest.approx(graph_total, rel=1e-12)
    assert topology["edges"] == len(edges)
    # the bare graph's cycles never die (E - V + 1 of them, one component); the flag complex fills
    # its triangles, and every cycle of this near-grid with its diagonals is filled
    graph_h1 = persistence.graph_persistence(loss, edges, "graph")[1]
    assert np.isinf(graph_h1[:, 1]).sum() == len(edges) - len(loss) + 1
    assert not np.isinf(topology["diagrams"]["flag"][1][:, 1]).any()
    with pytest.raises(ValueError, match="same samples"):
        persistence.landscape_topology(points[:-1], loss, 8)
    with pytest.raises(ValueError, match="graph_knn"):
        persistence.landscape_topology(points, loss, 0)


def test_pca_of_gram_is_pca_of_the_vectors_behind_it():
    from sklearn.decomposition import PCA

    from pipeline.kernels.embedding import pca_of_gram

    rng = np.random.default_rng(6)
    for n, d in ((12, 40), (300, 30)):  # 300 > 200: where scikit-learn's "auto" solver would go randomized
        vectors = rng.normal(size=(n, d)) * np.linspace(3, 0.1, d) + 5.0  # far from the origin: centring matters
        ours = pca_of_gram(vectors @ vectors.T, 3)
        direct = PCA(n_components=3).fit_transform(vectors)
        signs = np.sign(np.sum(ours * direct, axis=0))  # each component's sign is arbitrary
        np.testing.assert_allclose(ours * signs, direct, atol=1e-8 * np.abs(direct).max())
        np.testing.assert_array_equal(ours, pca_of_gram(vectors @ vectors.T, 3))  # the same on every call
    with pytest.raises(ValueError, match="symmetric"):
        pca_of_gram(np.triu(np.ones((4, 4))))
    with pytest.raises(ValueError, match="n_components"):
        pca_of_gram(np.eye(3), 4)


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


# ---------------------------------------------------------- steps in-process, hand-made stores


def _population_store(path, spec, final, snapshots=None, metrics=None):
    """A finished population store written by hand: final parameters ``{name: [member, ...]}``,
    optionally snapshots ``{name: [member, snapshot, ...]}`` and their metrics ``{name: [member, snapshot]}``."""
    n_snapshots = next(iter(snapshots.values())).shape[1] if snapshots else 1
    partial = store.partial_path(path)
    root = store.create_population_store(
        partial, spec, {k: v.shape[1:] for k, v in final.items()}, {}, n_snapshots, 1, snapshot_metrics=metrics is not None
    )
    for index in range(n_snapshots if snapshots else 0):
        store.write_snapshot(root, index, index, {k: v[:, index] for k, v in snapshots.items()}, {})
        if metrics is not None:
            store.write_snapshot_metrics(root, index, {k: v[:, index] for k, v in metrics.items()})
    store.finalize_store(root, path, final, {})
    return str(path)


def _metrics(rng, shape):
    return {name: rng.uniform(0.1, 2.0, shape).astype(np.float32) for name in store.METRIC_NAMES}


@pytest.fixture
def landscape_inputs(tmp_path):
    """Two optima of one parameter ``w`` [3, 6]; around each, 2 retrainings x 3 snapshots, 8 grid
    points and 2 naive directions x 2 step sizes, with a known basis of vectors behind its Grams."""
    rng = np.random.default_rng(7)
    spec = {"sweep": "s", "population": 0, "members": [{"network": "a"}, {"network": "b"}]}
    final = {"w": rng.normal(size=(2, 3, 6)).astype(np.float32)}
    optima = _population_store(tmp_path / "optima.zarr", spec, final)
    members = [{"member": 2 * o + i, "optimum": o, "seed": i, "step_size": 1.0} for o in range(2) for i in range(2)]
    snapshots = {"w": rng.normal(size=(4, 3, 3, 6)).astype(np.float32)}
    jr_metrics = _metrics(rng, (4, 3))
    jr = _population_store(
        tmp_path / "jr.zarr", {"optima_spec_hash": store.spec_hash(spec), "members": members}, {"w": snapshots["w"][:, -1]},
        snapshots, jr_metrics,
    )
    grid, naive = steps.probe_coordinates(2, 1.0, 2, [0.5, 1.0])
    bases = {"grid": rng.normal(size=(2, 4, 18)), "naive": rng.normal(size=(2, 3, 18))}  # [optimum, optimum + directions, features]
    arrays = {f"optimum/{k}": v[:, 0] for k, v in _metrics(rng, (2, 1)).items()}
    for sampling, points in (("grid", len(grid)), ("naive", len(naive))):
        arrays.update({f"{sampling}/{k}": v for k, v in _metrics(rng, (2, points)).items()})
        arrays[f"{sampling}/basis_gram"] = np.einsum("oif,ojf->oij", bases[sampling], bases[sampling])
    arrays["grid/coordinates"], arrays["naive/coordinates"] = grid, naive
    probes = str(tmp_path / "probes.zarr")
    store.write_array_store(probes, arrays, {"optima": ["a", "b"]})
    vectors = [  # the optimum, then its retrainings' snapshots, member-major
        np.vstack([final["w"][o].ravel(), *[snapshots["w"][m, t].ravel() for m in (2 * o, 2 * o + 1) for t in range(3)]]).astype(np.float64)
        for o in range(2)
    ]
    return {"optima": optima, "jr": jr, "probes": probes, "jr_metrics": jr_metrics, "arrays": arrays, "bases": bases,
            "grid": grid, "naive": naive, "vectors": vectors}


def test_embed_landscape_is_phate_and_topology_of_the_samples_computed_directly(landscape_inputs, tmp_path):
    from pipeline.kernels.embedding import phate_embedding

    given = landscape_inputs
    out = str(tmp_path / "landscape.zarr")
    # graph_knn unlike phate_knn: the topology's graph is built with its own k
    steps.embed_landscape(given["optima"], given["jr"], given["probes"], out, phate_knn=3, phate_seed=1, graph_knn=5,
                          filtration_loss="train", threads=1)
    for o, x in enumerate(given["vectors"]):
        np.testing.assert_allclose(store.read_array(out, "jump_retrain/gram")[o], x @ x.T, rtol=1e-12)
        cosine = distances.cosine_distances_from_gram(x @ x.T)
        np.testing.assert_allclose(store.read_array(out, "jump_retrain/embedding")[o], phate_embedding(cosine, 3, 1, mds_dist="cosine"))
        # each sample's loss beside it: the optimum's (from the probes), then its retrainings' snapshots
        loss = np.concatenate([[given["arrays"]["optimum/train_loss"][o]], given["jr_metrics"]["train_loss"][[2 * o, 2 * o + 1]].ravel()])
        np.testing.assert_array_equal(store.read_array(out, "jump_retrain/train_loss")[o], loss)
        potential = store.read_array(out, "jump_retrain/potential")[o]
        topology = persistence.landscape_topology(potential, loss, 5)
        np.testing.assert_array_equal(store.read_array(out, "total_persistence")[o], topology["total_persistence"])
        rows = store.read_array(out, "diagrams")
        for c, complex_name in enumerate(persistence.COMPLEXES):
            for d in (0, 1):
                stored = rows[(rows[:, 0] == o) & (rows[:, 1] == c) & (rows[:, 2] == d)][:, 3:]
                np.testing.assert_array_equal(stored, topology["diagrams"][complex_name][d], err_msg=f"{complex_name} H{d}")
        # (the graph of phate_knn's 3 neighbours would be another: fewer edges, other diagrams)
        assert persistence.landscape_topology(potential, loss, 3)["edges"] < topology["edges"]
        # grid and naive samples: the points themselves, materialized from the basis, the optimum first
        for sampling, coefficients in (("grid", given["grid"]), ("naive", np.array([[0.5, 0], [1.0, 0], [0, 0.5], [0, 1.0]]))):
            basis = given["bases"][sampling][o]
            points = np.vstack([basis[0], basis[0] + coefficients @ basis[1:]])
            expected = phate_embedding(distances.cosine_distances_from_gram(points @ points.T), 3, 1, mds_dist="cosine")
            np.testing.assert_allclose(store.read_array(out, f"{sampling}/embedding")[o], expected, atol=1e-8)
            values = store.read_array(out, f"{sampling}/test_accuracy")[o]
            assert values[0] == given["arrays"]["optimum/test_accuracy"][o]
            np.testing.assert_array_equal(values[1:], given["arrays"][f"{sampling}/test_accuracy"][o])
    np.testing.assert_array_equal(store.read_array(out, "jump_retrain/seed"), [-1, 0, 0, 0, 1, 1, 1])


def test_compare_embeddings_is_pca_of_the_vectors_and_the_stored_phate(landscape_inputs, tmp_path, monkeypatch):
    import sys

    import phate
    from sklearn.decomposition import PCA

    monkeypatch.setitem(sys.modules, "umap", None)  # UMAP's first call compiles for ~13 s: PHATE, t-SNE, PCA here
    x = landscape_inputs["vectors"][1]
    embedded = np.random.default_rng(8).normal(size=(2, 7, 2))
    path = str(tmp_path / "landscape.zarr")
    store.write_array_store(path, {"jump_retrain/gram": np.stack([np.eye(7), x @ x.T]), "jump_retrain/embedding": embedded,
                                   "jump_retrain/seed": np.arange(7), "jump_retrain/epoch": np.arange(7)}, {"optima": ["a", "b"]})
    tree = {"n_dim": 5, "n_branch": 2, "branch_length": 10, "seed": 3}
    table = steps.compare_embeddings([path], str(tmp_path / "c.parquet"), example="b", tree=tree, phate_knn=4, phate_seed=0)
    assert set(table["method"]) == {"PHATE", "t-SNE", "PCA"}

    def rows(dataset, method):
        chosen = table[(table["dataset"] == dataset) & (table["method"] == method)]
        return chosen[["x", "y"]].to_numpy()

    def same_up_to_sign(ours, direct):
        np.testing.assert_allclose(ours * np.sign(np.sum(ours * direct, axis=0)), direct, atol=1e-8)

    np.testing.assert_array_equal(rows("jump_retrain (b)", "PHATE"), embedded[1])  # the example's, as stored
    same_up_to_sign(rows("jump_retrain (b)", "PCA"), PCA(2).fit_transform(x))
    points, _ = phate.tree.gen_dla(n_dim=5, n_branch=2, branch_length=10, seed=3)
    same_up_to_sign(rows("tree", "PCA"), PCA(2).fit_transform(points))
    assert len(rows("tree", "t-SNE")) == 20


def _tabulation_inputs(tmp_path):
    """Two sweeps (with and without augmentation) of 8 optima each: lr 0.1..0.4 x weight decay
    0, 1e-3. Their J&R losses and accuracies carry the weight decay (10 apart, noise 0.1) after the
    jump, and nothing at the jump itself (snapshot 0: noise of scale 1000, which Table 1's J&R features
    leave out), their total persistence the augmentation (5 apart), their grid and naive losses
    nothing (pure noise)."""
    rng = np.random.default_rng(9)
    sources, truth = [], []
    for sweep, augment in (("s_aug", True), ("s_plain", False)):
        members = [{"network": f"{sweep}_{lr}_{wd}", "lr": lr, "momentum": 0.9, "weight_decay": wd, "init_seed": 0, "label_noise": 0.0}
                   for lr in (0.1, 0.2, 0.3, 0.4) for wd in (0.0, 1e-3)]
        spec = {"sweep": sweep, "architecture": {"name": "mlp", "hidden": [8]}, "training": {"batch_size": 32, "augment": augment},
                "members": members}
        folder = tmp_path / sweep
        optima = _population_store(folder / "optima.zarr", spec, {"w": np.zeros((8, 2), np.float32)})
        wd_class = np.array([m["weight_decay"] > 0 for m in members], dtype=float)
        jr_members = [{"member": 2 * o + i, "optimum": o} for o in range(8) for i in range(2)]
        metrics = _metrics(rng, (16, 3))
        for name in ("train_loss", "train_accuracy"):  # the J&R features
            metrics[name] = (10 * np.repeat(wd_class, 2)[:, None] + rng.normal(0, 0.1, (16, 3))).astype(np.float32)
            metrics[name][:, 0] = rng.normal(0, 1000, 16)  # the jump: no signal, and it would drown the rest
        jr = _population_store(folder / "jr.zarr", {"members": jr_members}, {"w": np.zeros((16, 2), np.float32)},
                               {"w": np.zeros((16, 3, 2), np.float32)}, metrics)
        arrays = {f"optimum/{k}": v[:, 0] for k, v in _metrics(rng, (8, 1)).items()}
        for sampling in ("grid", "naive"):
            arrays.update({f"{sampling}/{k}": v for k, v in _metrics(rng, (8, 5)).items()})
        store.write_array_store(folder / "probes.zarr", arrays)
        total = rng.uniform(0, 1, (8, 2, 2)) + 5 * augment
        store.write_array_store(folder / "landscape.zarr", {"total_persistence": total})
        sources.append((optima, jr, str(folder / "probes.zarr"), str(folder / "landscape.zarr")))
        truth += [{"sweep": sweep, "lr": m["lr"], "weight_decay": m["weight_decay"], "augment": augment,
                   "test_loss": arrays["optimum/test_loss"][o], "tp_flag_h0": total[o, 1, 0], "tp_graph_h1": total[o, 0, 1]}
                  for o, m in enumerate(members)]
    return sources, pd.DataFrame(truth)


def test_the_eleven_classifiers_on_features_that_separate_perfectly_or_not_at_all():
    from pipeline.kernels.classification import accuracy_summary, classifier_set, cross_validated_accuracy

    rng = np.random.default_rng(10)
    labels = np.repeat([0, 1, 2], 8)
    separated = 10 * labels[:, None] + rng.normal(0, 0.1, (24, 4))  # three tight, far-apart clusters
    perfect = cross_validated_accuracy(separated, labels, folds=2, repeats=1, seed=0)
    assert set(perfect) <= set(classifier_set(0)) and len(perfect) >= 10  # QDA may fit no fold
    assert all(a == 1.0 for a in perfect.values())
    noise = cross_validated_accuracy(rng.normal(size=(24, 4)), labels, folds=2, repeats=2, seed=0)
    assert 100 / 3 - 20 <= accuracy_summary(noise)["mean"] <= 100 / 3 + 20  # about chance
    # the scrambled control: the perfect features, their rows permuted, lose their labels
    scrambled = cross_validated_accuracy(separated, labels, folds=2, repeats=2, seed=0, scramble=True)
    assert accuracy_summary(scrambled)["mean"] <= 100 / 3 + 20
    summary = accuracy_summary({"a": 0.5, "b": 1.0})
    assert summary == {"mean": 75.0, "se": pytest.approx(25.0), "classifiers": 2}  # std (ddof 1) 35.36 / sqrt 2
    with pytest.raises(ValueError, match="one label per row"):
        cross_validated_accuracy(separated, labels[:-1], folds=2, repeats=1, seed=0)
    with pytest.raises(ValueError, match="folds"):
        cross_validated_accuracy(separated, labels, folds=1, repeats=1, seed=0)


def test_tabulate_loss_landscape_on_features_that_separate_perfectly_or_not_at_all(tmp_path, monkeypatch):
    from pipeline.kernels import classification

    # three of the eleven classifiers (the eleven: the test above), so that the step's 27
    # cross-validations take a second
    chosen = ("nearest neighbors", "naive Bayes", "logistic regression")
    every = classification.classifier_set
    monkeypatch.setattr(classification, "classifier_set", lambda seed: {k: v for k, v in every(seed).items() if k in chosen})
    sources, truth = _tabulation_inputs(tmp_path)
    names = ("optima", "table1", "table1_grouped", "table1_by_classifier", "siblings", "persistence_by_weight_decay")
    out = {name: str(tmp_path / "tables" / f"{name}.csv") for name in names}
    classifiers = {"folds": 2, "repeats": 1, "seed": 0}
    tables = steps.tabulate_loss_landscape(*map(list, zip(*sources)), **out, memorization=None, complex="flag",
                                           generalization_classes=2, classifiers=classifiers)
    optima = tables["optima"]
    for column in ("weight_decay", "augment", "tp_flag_h0", "tp_graph_h1"):
        np.testing.assert_allclose(optima[column].astype(float), truth[column].astype(float))
    np.testing.assert_allclose(optima["optimum_test_loss"], truth["test_loss"].astype(np.float64))
    np.testing.assert_array_equal(optima["total_persistence_h0"], optima["tp_flag_h0"])  # the table's complex
    np.testing.assert_array_equal(optima["generalization_class"], truth["test_loss"].rank() > 8)  # the better half is class 0
    assert optima["sibling_group"].nunique() == 8 and (optima.groupby("sibling_group")["weight_decay"].nunique() == 2).all()
    for protocol in ("table1", "table1_grouped"):
        table = tables[protocol].set_index("features")
        assert (table.filter(like="mean").iloc[0] == 50.0).all()  # two classes in every task
        # weight decay from the J&R losses: every classifier right on every optimum, in either folds
        assert table.loc["J&R sampling, retrain loss and accuracy", "weight decay mean"] == 100.0
        assert table.loc["J&R sampling, retrain loss and accuracy", "weight decay se"] == 0.0
        # noise: far from perfect in every task, about chance on average (16 optima: each cell is coarse)
        noise = table.loc[["Grid sampling, train loss and accuracy", "Naive sampling, train loss and accuracy"]].filter(like="mean")
        assert noise.to_numpy().max() <= 75 and 35 <= noise.to_numpy().mean() <= 65
    table1 = tables["table1"].set_index("features")
    assert table1.loc["Total persistence of the J&R loss filtration (H0, H1)", "data augmentation mean"] == 100.0
    assert table1.loc["Scrambled J&R retrain loss and accuracy (control)", "weight decay mean"] <= 80
    # each cell of Table 1 is the mean over the classifiers of its long form
    long = tables["table1_by_classifier"]
    for (protocol, features, task), cell in long.groupby(["protocol", "features", "task"]):
        summary = tables["table1" if protocol == "stratified" else "table1_grouped"].set_index("features")
        assert summary.loc[features, f"{task} mean"] == pytest.approx(cell["accuracy"].mean())
        assert summary.loc[features, f"{task} classifiers"] == len(cell) == 3
    # nearest neighbours in the J&R features share the weight decay, never the sibling (which differs in it)
    near = tables["siblings"].set_index("features").loc["J&R sampling, retrain loss and accuracy"]
    assert near["nn_same_weight_decay"] == 1.0 and near["nn_is_sibling"] == 0.0 and near["random_is_sibling"] == pytest.approx(1 / 15)
    # the grouped protocol keeps each sibling group (one sweep and learning rate, both weight
    # decays) in one fold: its cells are the cross-validations with those groups, computed directly
    # from the probes' losses and accuracies
    from pipeline.kernels.classification import cross_validated_accuracy

    siblings = np.unique(truth[["sweep", "lr"]].to_records(index=False), return_inverse=True)[1]
    assert len(np.unique(siblings)) == 8
    labels = {"2-class generalization": (truth["test_loss"].rank() > 8).to_numpy(dtype=int),
              "weight decay": (truth["weight_decay"] > 0).to_numpy(dtype=int), "data augmentation": truth["augment"].to_numpy(dtype=int)}
    # (and the J&R features: each optimum's two retrainings after the jump, losses then accuracies)
    def retrained(jr):
        metrics = store.read_snapshot_metrics(jr)
        return np.vstack([np.concatenate([metrics[name][[2 * o, 2 * o + 1], 1:].ravel() for name in ("train_loss", "train_accuracy")])
                          for o in range(8)])

    def probed(probes, sampling):
        return np.hstack([store.read_array(probes, f"{sampling}/{name}") for name in ("train_loss", "train_accuracy")])

    for features, read in (("Grid sampling, train loss and accuracy", lambda source: probed(source[2], "grid")),
                           ("Naive sampling, train loss and accuracy", lambda source: probed(source[2], "naive")),
                           ("J&R sampling, retrain loss and accuracy", lambda source: retrained(source[1]))):
        x = np.vstack([read(source) for source in sources])
        for task, y in labels.items():
            direct = cross_validated_accuracy(x, y, groups=siblings, **classifiers)
            cell = long[(long["protocol"] == "grouped") & (long["features"] == features) & (long["task"] == task)]
            np.testing.assert_allclose(cell.set_index("classifier")["accuracy"].sort_index(),
                                       100 * pd.Series(direct).sort_index(), err_msg=f"{features}, {task}")
    by_wd = tables["persistence_by_weight_decay"].set_index("weight_decay")
    for wd, group in truth.groupby("weight_decay"):
        assert by_wd.loc[str(wd), "tp_h0_mean"] == pytest.approx(group["tp_flag_h0"].mean())
    assert (tmp_path / "tables" / "table1.md").exists()
    # the claims step reads these tables back: the same claims as from the frames directly
    from pipeline.claims import claims_frame
    from pipeline.studies.loss_landscape import claims as ll_claims

    frame = steps.tabulate_loss_landscape_claims(out["optima"], out["table1_by_classifier"], out["siblings"],
                                                 str(tmp_path / "tables" / "claims.csv"), complex="flag", classifiers=classifiers)
    read = {name: pd.read_csv(out[name]) for name in ("optima", "table1_by_classifier", "siblings")}
    direct = ll_claims.loss_landscape_claims(*read.values(), complex="flag", folds=2, repeats=1, seed=0)
    pd.testing.assert_frame_equal(frame, claims_frame(direct))
    assert frame.set_index("id").loc["T1-wd-jr", "ours"] == pytest.approx(100.0 - 50.0)  # J&R's 100 % over chance
    assert pd.read_csv(tmp_path / "tables" / "claims.csv")["id"].tolist() == list(frame["id"])


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


def test_sample_probes_evaluates_each_point_as_the_network_alone_would(tmp_path):
    import itertools

    import torch

    from pipeline.data import load_dataset
    from pipeline.models import build_model
    from pipeline.train import member_targets

    # a store of two untrained optima (random parameters written by hand), an MLP on 200 digits;
    # the second trained on half its labels replaced, so that each member has its own targets
    config = validate_config({"sweeps": {"s": {
        "dataset": "digits", "dataset_options": {"n_samples": 200}, "architecture": {"name": "mlp", "hidden": [8]},
        "grid": {"lr": [0.1], "weight_decay": [0.0], "label_noise": [0.0, 0.5]}, "epochs": 1, "batch_size": 50,
        "population_size": 2,
    }}})
    spec = zoo.population_spec(config, "s", 0)
    data = load_dataset("digits", n_samples=200)
    model = build_model(spec["architecture"], data.input_shape, data.num_outputs)
    rng = np.random.default_rng(11)
    final = {k: rng.normal(0, 0.3, (2, *v.shape)).astype(np.float32) for k, v in model.state_dict().items()}
    optima = _population_store(tmp_path / "optima.zarr", spec, final)
    out = str(tmp_path / "probes.zarr")
    steps.sample_probes(optima, out, grid_points_per_axis=2, grid_extent=0.5, naive_directions=2, step_sizes=[0.5, 1.0],
                        probe_seed=4, probe_batch=3, device="cpu")

    # each member's training targets: the clean labels, then with half of them redrawn
    targets = member_targets(data, zoo.members_of(spec), spec["training"]["seed"])
    assert (targets[0] == data.y_train).all() and (targets[1] != data.y_train).float().mean() > 0.3

    def direct(weights, own_targets):  # the network alone, in torch, on the whole sets
        model.load_state_dict({k: torch.as_tensor(v) for k, v in weights.items()})
        model.eval()
        with torch.no_grad():
            found = {}
            for split, x, y in (("train", data.x_train, own_targets), ("test", data.x_test, data.y_test)):
                logits = model(x)
                found[f"{split}_loss"] = torch.nn.functional.cross_entropy(logits, y).item()
                found[f"{split}_accuracy"] = (logits.argmax(1) == y).double().mean().item()
        return found

    shapes = {k: v.shape[1:] for k, v in final.items()}
    # 2 points per axis over [-0.5, 0.5]^3: the cube's 8 corners, in C order; every naive direction at each step size
    corners = np.array(list(itertools.product([-0.5, 0.5], repeat=3)))
    np.testing.assert_array_equal(store.read_array(out, "grid/coordinates"), corners)
    np.testing.assert_array_equal(store.read_array(out, "naive/coordinates"), [[0, 0.5], [0, 1.0], [1, 0.5], [1, 1.0]])
    for o in range(2):
        weights = {k: v[o] for k, v in final.items()}

        def along(seed):
            return landscape.filter_normalize(landscape.random_direction(shapes, seed), weights)

        grid_directions, naive_directions = [along(4 + i) for i in range(3)], [along(7), along(8)]
        expected = {"optimum": [direct(weights, targets[o])], "grid": [], "naive": []}
        for c in corners:
            shifted = {k: w + sum(ci * d[k] for ci, d in zip(c, grid_directions)) for k, w in weights.items()}
            expected["grid"].append(direct(shifted, targets[o]))
        for j, step in itertools.product(range(2), [0.5, 1.0]):
            expected["naive"].append(direct({k: w + step * naive_directions[j][k] for k, w in weights.items()}, targets[o]))
        for sampling, rows in expected.items():
            for name in store.METRIC_NAMES:
                stored = np.atleast_1d(store.read_array(out, f"{sampling}/{name}")[o])
                np.testing.assert_allclose(stored, [r[name] for r in rows], rtol=1e-5, err_msg=f"{sampling}/{name}")
        np.testing.assert_allclose(store.read_array(out, "grid/basis_gram")[o], landscape.basis_gram(weights, [4, 5, 6]))


@pytest.mark.slow
def test_every_sample_carries_its_own_loss(finished_test_run):
    base = finished_test_run / TEST_RESULTS / "loss_landscape/mlp_landscape__augmentTrue/population_000"
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
    base = finished_test_run / TEST_RESULTS / "loss_landscape"
    table1 = pd.read_csv(base / "tables/table1.csv")
    assert len(table1) == 7 and table1.iloc[0]["features"].startswith("Theoretical random")
    optima = pd.read_csv(base / "tables/optima.csv")
    assert len(optima) == 8 + 1 and optima["memorization"].sum() == 1
    # chance is 1 / the classes of each task among the classified optima of the optima table
    classified = optima[~optima["memorization"]]
    tasks = {"weight decay": "weight_decay", "data augmentation": "augment", "2-class generalization": "generalization_class"}
    for task, column in tasks.items():
        assert table1[f"{task} mean"][0] == pytest.approx(100 / classified[column].nunique(), abs=1e-4)
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
