"""Kernels of diffusion geometry, distances and graphs: operators, DSE/DSMI, Frobenius
distances, the Table-1 metric, kNN graphs, affinities and graph smoothness."""

import dask.array as da
import numpy as np
import pytest

from pipeline.kernels.diffusion import (
    diffusion_operator,
    diffusion_spectral_entropy,
    diffusion_spectral_mutual_information,
    gaussian_kernel,
    kernel_bandwidth,
    kernel_of_operator,
)
from pipeline.kernels.distances import (
    direct_frobenius_distances,
    feature_chunk,
    gram_frobenius_distances,
    normalized_top_distance,
    pairwise_distances,
    rank_descending,
)
from pipeline.kernels.graphs import (
    affinity_from_distances,
    knn_adjacency,
    knn_adjacency_of_distances,
    laplacian_smoothness,
    log_signal,
)


def blobs(k, per=100, spread=0.05, gap=100.0, seed=0):
    """``k`` tight Gaussian blobs in 2-D, centres ``gap`` apart along a line, with labels."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0, spread, (per, 2)) + [gap * c, 0.0] for c in range(k)])
    return x, np.repeat(np.arange(k), per)


def test_pairwise_distances_exact():
    x = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    d = pairwise_distances(x)
    np.testing.assert_allclose(d, [[0, 5, 10], [5, 0, 5], [10, 5, 0]])
    assert np.all(np.diag(d) == 0) and np.array_equal(d, d.T)


def test_diffusion_operator_hand_computed():
    x = np.array([[0.0], [1.0], [3.0]])
    s = 0.7
    p = diffusion_operator(x, sigma=s)
    w = np.exp(-np.array([[0, 1, 9], [1, 0, 4], [9, 4, 0]]) / (2 * s**2))
    np.testing.assert_allclose(p, w / w.sum(axis=1, keepdims=True), rtol=1e-12)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    # P_01 at distance 1 = exp(-1 / (2 s^2)) / rowsum_0
    assert p[0, 1] == pytest.approx(np.exp(-1 / (2 * s**2)) / (1 + np.exp(-1 / (2 * s**2)) + np.exp(-9 / (2 * s**2))))


def test_diffusion_operator_far_points_stay_stochastic():
    # Off-diagonal entries underflow to 0; the diagonal keeps every row sum at 1.
    p = diffusion_operator(np.array([[0.0], [1e3], [2e3]]), sigma=0.5)
    np.testing.assert_array_equal(p, np.eye(3))


@pytest.mark.parametrize("sigma", [0.0, -1.0, np.nan])
def test_diffusion_operator_rejects_bad_sigma(sigma):
    with pytest.raises(ValueError, match="sigma"):
        diffusion_operator(np.zeros((3, 2)), sigma=sigma)


def test_knn_adjacency_line_is_path_graph():
    x = np.arange(10.0)[:, None]
    a = knn_adjacency(x, k=1)
    path = np.zeros((10, 10))
    i = np.arange(9)
    path[i, i + 1] = path[i + 1, i] = 1.0
    np.testing.assert_array_equal(a, path)
    assert np.all(np.diag(a) == 0) and np.array_equal(a, a.T)


def test_knn_adjacency_k2_and_validation():
    a = knn_adjacency(np.arange(10.0)[:, None], k=2)
    assert np.array_equal(a, a.T) and np.all(np.diag(a) == 0)
    assert np.all(a.sum(axis=1) >= 2)
    with pytest.raises(ValueError, match="k"):
        knn_adjacency(np.zeros((3, 1)), k=3)


def _entropy_of_operator(p, t):
    """The DSE straight from the definition: the eigenvalues of the (non-symmetric) P itself."""
    mags = np.abs(np.linalg.eigvals(p))
    mags = mags[mags >= 1e-12]
    a = mags**t / np.sum(mags**t)
    a = a[a > 0]
    return float(-np.sum(a * np.log(a)))


@pytest.mark.parametrize("t", [0.0, 1.0, 3.0])
def test_dse_from_the_symmetric_conjugate_equals_the_spectrum_of_p(t):
    x, _ = blobs(3, per=40, spread=0.6)
    w = gaussian_kernel(x, 0.5)
    p = diffusion_operator(x, 0.5)
    assert diffusion_spectral_entropy(w, t) == pytest.approx(_entropy_of_operator(p, t), rel=1e-9)


def test_kernel_of_a_stored_operator_is_the_kernel():
    x = np.random.default_rng(2).normal(size=(30, 4))
    np.testing.assert_allclose(kernel_of_operator(diffusion_operator(x, 0.8)), gaussian_kernel(x, 0.8), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="positive diagonal"):
        kernel_of_operator(np.array([[0.0, 1.0], [1.0, 0.0]]))


def test_dse_clusters_tend_to_log_k():
    # Blob spread comparable to sigma, so within-cluster eigenvalues decay gradually with t.
    x, _ = blobs(4, spread=0.5)
    p = gaussian_kernel(x, sigma=0.5)
    s = [diffusion_spectral_entropy(p, t) for t in (1, 10, 100)]
    assert s[0] > s[1] > s[2] >= np.log(4) - 0.05
    assert abs(s[2] - np.log(4)) < 0.05


def test_dse_single_cluster_tends_to_zero():
    x, _ = blobs(1, spread=0.5)
    p = gaussian_kernel(x, sigma=0.5)
    assert diffusion_spectral_entropy(p, 100) < 0.05
    assert diffusion_spectral_entropy(p, 1) > diffusion_spectral_entropy(p, 100)


def test_dse_t0_is_log_n():
    # Spread-out points: P is near the identity, full rank, so t = 0 counts all n eigenvalues.
    x = np.random.default_rng(1).uniform(0, 50, (30, 2))
    p = gaussian_kernel(x, sigma=0.5)
    assert diffusion_spectral_entropy(p, 0) == pytest.approx(np.log(30))
    assert diffusion_spectral_entropy(np.eye(5), 3.0) == pytest.approx(np.log(5))


def test_dse_validation():
    with pytest.raises(ValueError, match="t"):
        diffusion_spectral_entropy(np.eye(3), -1)
    with pytest.raises(ValueError, match="kernel"):
        diffusion_spectral_entropy(np.ones((2, 3)), 1.0)


def test_dsmi_aligned_labels_beat_shuffled():
    x, labels = blobs(4, per=50)
    shuffled = np.random.default_rng(2).permutation(labels)
    w = gaussian_kernel(x, 0.5)
    aligned = diffusion_spectral_mutual_information(w, labels, t=100)
    independent = diffusion_spectral_mutual_information(w, shuffled, t=100)
    assert aligned == pytest.approx(np.log(4), abs=0.05)
    assert abs(independent) < 0.05
    assert diffusion_spectral_mutual_information(w, labels, t=1) > diffusion_spectral_mutual_information(w, shuffled, t=1)
    with pytest.raises(ValueError, match="labels"):
        diffusion_spectral_mutual_information(w, labels[:-1], t=1)
    # the class operators are the class blocks of the kernel: the same as each class's own kernel
    first = labels == 0
    np.testing.assert_allclose(gaussian_kernel(x[first], 0.5), w[np.ix_(first, first)])


def test_gram_matches_direct_numpy_and_dask():
    rng = np.random.default_rng(3)
    mats = rng.normal(size=(13, 20, 20))
    ref = direct_frobenius_distances(mats)
    got = gram_frobenius_distances(mats.reshape(13, -1))
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-12)
    assert np.all(np.diag(got) == 0) and np.array_equal(got, got.T)
    lazy = da.from_array(mats.reshape(13, -1), chunks=(4, 64))
    assert lazy.numblocks[0] > 1 and lazy.numblocks[1] > 1
    np.testing.assert_allclose(gram_frobenius_distances(lazy), ref, rtol=1e-6, atol=1e-12)
    # stored as the pipeline stores matrices: a slab of rows of one network per chunk
    slabs = da.from_array(mats, chunks=(1, 3, 20))
    np.testing.assert_allclose(gram_frobenius_distances(slabs), ref, rtol=1e-6, atol=1e-12)


def test_gram_nearly_identical_matrices_no_cancellation():
    rng = np.random.default_rng(4)
    base = rng.uniform(500, 1500, size=(30, 30))
    mats = base + 1e-6 * rng.normal(size=(8, 30, 30))
    ref = direct_frobenius_distances(mats)
    off = ~np.eye(8, dtype=bool)
    np.testing.assert_allclose(gram_frobenius_distances(mats.reshape(8, -1))[off], ref[off], rtol=1e-6)
    lazy = da.from_array(mats.reshape(8, -1), chunks=(3, 200))
    np.testing.assert_allclose(gram_frobenius_distances(lazy)[off], ref[off], rtol=1e-6)


def _identity_like_operators():
    """Diffusion operators of 100 points far apart (sigma = 0.5): the identity to rounding, off-
    diagonal entries of 1e-14 and below that differ between networks, beside ordinary operators."""
    rng = np.random.default_rng(11)
    far = [diffusion_operator(rng.normal(0, 2, (100, 12)), 0.5) for _ in range(3)]
    near = [diffusion_operator(rng.normal(0, 0.3, (100, 12)), 0.5) for _ in range(3)]
    return np.stack([far[0], near[0], far[0], far[1], near[1], far[2], near[0], near[2]])


def test_identical_operators_are_at_distance_exactly_zero():
    ops = _identity_like_operators()
    ref = direct_frobenius_distances(ops)
    for vectors in (ops.reshape(8, -1), da.from_array(ops, chunks=(1, 7, 100)), da.from_array(ops.reshape(8, -1), chunks=(3, 999))):
        d = gram_frobenius_distances(vectors)
        # identical items (0 and 2, 1 and 6) at exactly 0, whatever the BLAS kernel's rounding
        assert d[0, 2] == d[2, 0] == 0.0 and d[1, 6] == d[6, 1] == 0.0
        # identity-like operators that differ only in entries of 1e-14 and below: their true distance, not
        # the Gram form's noise of ~1e-8 (or 0 on another CPU)
        for i, j in ((0, 3), (0, 5), (3, 5)):
            assert 0 < d[i, j] < 1e-6
            np.testing.assert_allclose(d[i, j], ref[i, j], rtol=1e-9)
        np.testing.assert_allclose(d, ref, rtol=1e-6, atol=1e-12)
        assert np.array_equal(d, d.T) and np.all(np.diag(d) == 0)


def test_rankings_break_ties_by_the_lower_index():
    scores = np.array([0.5, 0.9, 0.5, 0.9, 0.1, 0.5])
    assert rank_descending(scores).tolist() == [1, 3, 0, 2, 5, 4]
    # the same whatever the order the items are presented in: ties follow the index, not the position
    perm = np.array([5, 2, 0, 4, 3, 1])
    assert perm[rank_descending(scores[perm])].tolist() == [3, 1, 5, 2, 0, 4]
    with pytest.raises(ValueError, match="NaN"):
        rank_descending(np.array([0.1, np.nan]))
    # nearest networks: 0 is equally near 1, 2 and 3; its 2 nearest are the lower indices 1 and 2
    d = np.array([[0, 1, 1, 1], [1, 0, 2, 2], [1, 2, 0, 3], [1, 2, 3, 0]], dtype=float)
    a = knn_adjacency_of_distances(d, 2)
    assert a[0].tolist() == [0, 1, 1, 1]  # 3 joins 0 only because 3 names 0 among its nearest
    assert a[1].tolist() == [1, 0, 1, 1] and a[2, 3] == 0
    # duplicated networks (distance 0, as identical operators now always are) tie the same way
    d0 = np.array([[0, 0, 0, 5], [0, 0, 0, 5], [0, 0, 0, 5], [5, 5, 5, 0]], dtype=float)
    assert knn_adjacency_of_distances(d0, 1).tolist() == [[0, 1, 1, 1], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]]


def test_feature_chunk_bounds_one_slab_of_all_items():
    assert feature_chunk(200, 10**6, target_bytes=2**26) == 2**26 // 1600
    assert feature_chunk(10**7, 50, target_bytes=2**20) == 1  # at least one feature
    assert feature_chunk(2, 50, target_bytes=2**26) == 50  # never more than there are


def test_gram_validation():
    with pytest.raises(ValueError, match="vectors"):
        gram_frobenius_distances(np.zeros(4))


def test_normalized_top_distance_random_expectation_is_one():
    rng = np.random.default_rng(5)
    emb = rng.normal(size=(200, 2))
    values = [normalized_top_distance(emb, rng.random(200), top=20) for _ in range(200)]
    assert abs(np.mean(values) - 1.0) < 0.03


def test_normalized_top_distance_clustered_top_and_ties():
    rng = np.random.default_rng(6)
    emb = rng.uniform(-10, 10, size=(100, 2))
    emb[:10] = rng.normal(0, 0.1, (10, 2))
    scores = np.zeros(100)
    scores[:10] = 1.0
    assert normalized_top_distance(emb, scores, top=10) < 0.1
    # All-equal scores: ties go to the lowest indices, i.e. the same clustered rows.
    assert normalized_top_distance(emb, np.zeros(100), top=10) == normalized_top_distance(emb, scores, top=10)
    with pytest.raises(ValueError, match="top"):
        normalized_top_distance(emb, scores, top=1)


def test_laplacian_smoothness_components_and_path():
    w = np.zeros((6, 6))
    w[:3, :3] = 1.0
    w[3:, 3:] = 1.0
    np.fill_diagonal(w, 0.0)
    assert laplacian_smoothness(w, np.array([1.0, 1, 1, 5, 5, 5])) == pytest.approx(0.0, abs=1e-12)
    n = 50
    path = np.zeros((n, n))
    i = np.arange(n - 1)
    path[i, i + 1] = path[i + 1, i] = 1.0
    smooth = laplacian_smoothness(path, np.arange(n) * 1e3)
    rough = laplacian_smoothness(path, np.random.default_rng(7).normal(size=n))
    assert rough > 10 * smooth
    # Unnormalized: the quadratic form itself, s^T (D - W) s.
    s = np.random.default_rng(8).normal(size=n)
    lap = np.diag(path.sum(axis=1)) - path
    assert laplacian_smoothness(path, s, normalize=False) == pytest.approx(s @ lap @ s)
    with pytest.raises(ValueError, match="signal"):
        laplacian_smoothness(path, s[:-1])


def test_affinity_from_distances():
    x = np.random.default_rng(9).normal(size=(20, 3))
    d = pairwise_distances(x)
    w = affinity_from_distances(d, k=3)
    assert np.array_equal(w, w.T) and np.all(np.diag(w) == 0)
    assert np.all((w >= 0) & (w <= 1))
    off = d + np.diag(np.full(20, np.inf))
    sig = np.sort(off, axis=1)[:, 2]
    assert w[0, 1] == pytest.approx(np.exp(-d[0, 1] ** 2 / (sig[0] * sig[1])))
    with pytest.raises(ValueError, match="k"):
        affinity_from_distances(d, k=20)
    with pytest.raises(ValueError, match="distances"):
        affinity_from_distances(np.ones((2, 3)), k=1)


def test_median_bandwidth_makes_the_operator_scale_free():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 5))

    def operator(points, scale):
        return diffusion_operator(points, kernel_bandwidth(points, 0.5, scale))

    np.testing.assert_allclose(operator(x, "median"), operator(100.0 * x, "median"), atol=1e-12)
    # an absolute bandwidth far below the distances gives (nearly) the identity
    assert np.diagonal(operator(100.0 * x, "absolute")).min() > 1 - 1e-12
    assert kernel_bandwidth(x, 0.5, "median") == pytest.approx(0.5 * np.median(pairwise_distances(x)[np.triu_indices(40, 1)]))


def test_log_signal_of_a_grid_holding_zero():
    np.testing.assert_allclose(log_signal(np.array([1e-4, 1e-2])), [-4.0, -2.0])  # no 0: plain log10
    # with 0: shifted by the smallest positive value, so 0 sits one step below it, all finite
    np.testing.assert_allclose(log_signal(np.array([0.0, 1e-4, 1e-3])), np.log10([1e-4, 2e-4, 1.1e-3]))
    np.testing.assert_array_equal(log_signal(np.zeros(3)), np.zeros(3))
    with pytest.raises(ValueError, match="nonnegative"):
        log_signal(np.array([-1.0, 1.0]))


def test_bandwidth_of_collapsed_points_and_bad_scale():
    assert kernel_bandwidth(np.zeros((5, 3)), 0.5, "median") == 0.5
    with pytest.raises(ValueError, match="bandwidth scale must be one of"):
        kernel_bandwidth(np.zeros((5, 3)), 0.5, "mean")
