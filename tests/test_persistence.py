import numpy as np
import pytest

from pipeline.kernels.persistence import (
    finite_part,
    persistence_landscape,
    total_persistence,
    vietoris_rips_diagrams,
    wasserstein_distance,
    wasserstein_distance_matrix,
)


def test_circle_has_one_long_h1_bar():
    rng = np.random.default_rng(0)
    angles = np.linspace(0, 2 * np.pi, 100, endpoint=False)
    points = np.column_stack([np.cos(angles), np.sin(angles)]) + rng.normal(scale=0.01, size=(100, 2))
    h0, h1 = vietoris_rips_diagrams(points, max_dim=1)
    assert h0.dtype == np.float64 and h1.shape[1] == 2
    long_bars = h1[h1[:, 1] - h1[:, 0] > 0.5]
    assert len(long_bars) == 1
    birth, death = long_bars[0]
    assert birth < 0.2
    # The hole fills when the inscribed equilateral triangle's side sqrt(3) is reached.
    assert 1.5 < death < 1.8


def test_h0_of_three_points_on_a_line():
    points = np.array([[0.0], [1.0], [3.0]])
    (h0,) = vietoris_rips_diagrams(points, max_dim=0)
    assert np.isinf(h0[:, 1]).sum() == 1
    np.testing.assert_allclose(np.sort(finite_part(h0)[:, 1]), [1.0, 2.0])
    np.testing.assert_allclose(h0[:, 0], 0.0)


def test_precomputed_matches_euclidean():
    points = np.array([[0.0], [1.0], [3.0]])
    distances = np.abs(points - points.T)
    (h0,) = vietoris_rips_diagrams(distances, max_dim=0, metric="precomputed")
    np.testing.assert_allclose(np.sort(finite_part(h0)[:, 1]), [1.0, 2.0])


def _rows(diagram):
    """The diagram's (birth, death) pairs in lexicographic order (a multiset, comparable)."""
    return diagram[np.lexsort((diagram[:, 1], diagram[:, 0]))]


@pytest.mark.parametrize("threshold", [np.inf, 0.8])
def test_diagrams_equal_ripsers(threshold):
    # an independent implementation (ripser.py; float32 distances, so equal to 1e-5)
    import ripser

    points = np.random.default_rng(3).normal(size=(120, 4))
    ours = vietoris_rips_diagrams(points, max_dim=2, threshold=threshold)
    theirs = ripser.ripser(points, maxdim=2, thresh=threshold, coeff=2)["dgms"]
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape and np.isinf(a[:, 1]).sum() == np.isinf(b[:, 1]).sum()
        np.testing.assert_allclose(_rows(a), _rows(b), atol=1e-5)
    distances = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))
    for a, b in zip(vietoris_rips_diagrams(distances, max_dim=2, threshold=threshold, metric="precomputed"), ours):
        np.testing.assert_allclose(_rows(a), _rows(b), atol=1e-12)


def test_wasserstein_hand_computed():
    rng = np.random.default_rng(1)
    diagrams = vietoris_rips_diagrams(rng.normal(size=(30, 2)), max_dim=1)
    for diagram in diagrams:
        assert wasserstein_distance(diagram, diagram) == 0.0
    one = np.array([[0.0, 2.0]])
    # Sup-norm distance of (0, 2) to the diagonal is half its persistence.
    assert wasserstein_distance(one, np.empty((0, 2)), order=1.0, internal_p=np.inf) == pytest.approx(1.0)
    assert wasserstein_distance(one, np.array([[0.0, 3.0]])) == pytest.approx(1.0)
    # The essential class is dropped.
    assert wasserstein_distance(np.array([[0.0, np.inf], [0.0, 2.0]]), one) == pytest.approx(0.0)


def _diagrams(m=6):
    rng = np.random.default_rng(2)
    return [vietoris_rips_diagrams(rng.normal(size=(25, 2)), max_dim=1)[1] for _ in range(m)]


def test_wasserstein_matrix_with_dask_equals_loop():
    from dask.distributed import Client

    # More rows (11) than the rows kept in flight (2 threads x 4), so the refill path runs too.
    diagrams = _diagrams(12)
    loop = wasserstein_distance_matrix(diagrams)
    assert loop.shape == (12, 12)
    np.testing.assert_array_equal(loop, loop.T)
    np.testing.assert_array_equal(np.diag(loop), 0.0)
    assert (loop[~np.eye(12, dtype=bool)] > 0).all()
    assert loop[0, 3] == pytest.approx(wasserstein_distance(diagrams[0], diagrams[3]))
    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        distributed = wasserstein_distance_matrix(diagrams, client=client)
    np.testing.assert_allclose(distributed, loop)
    np.testing.assert_array_equal(distributed, distributed.T)
    np.testing.assert_array_equal(np.diag(distributed), 0.0)


def test_total_persistence():
    diagram = np.array([[0.0, 1.0], [0.0, 3.0], [0.0, np.inf]])
    assert total_persistence(diagram, p=2) == pytest.approx(10.0)
    assert total_persistence(diagram, p=1) == pytest.approx(4.0)


def test_landscape_of_one_point():
    grid = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    landscape = persistence_landscape(np.array([[0.0, 2.0], [0.0, np.inf]]), k_max=2, grid=grid)
    assert landscape.shape == (2, 5)
    np.testing.assert_allclose(landscape[0], [0.0, 0.5, 1.0, 0.5, 0.0])
    np.testing.assert_allclose(landscape[1], 0.0)


def test_landscape_orders_overlapping_tents():
    grid = np.array([1.0])
    landscape = persistence_landscape(np.array([[0.0, 2.0], [0.5, 1.5], [0.0, 4.0]]), k_max=3, grid=grid)
    np.testing.assert_allclose(landscape[:, 0], [1.0, 1.0, 0.5])


@pytest.mark.parametrize(
    "kwargs, name",
    [({"max_dim": -1}, "max_dim"), ({"metric": ""}, "metric"), ({"threshold": 0.0}, "threshold")],
)
def test_validation(kwargs, name):
    with pytest.raises(ValueError, match=name):
        vietoris_rips_diagrams(np.zeros((3, 2)), **kwargs)


def test_validation_of_other_functions():
    with pytest.raises(ValueError, match="k_max"):
        persistence_landscape(np.array([[0.0, 1.0]]), k_max=0, grid=np.zeros(3))
    with pytest.raises(ValueError, match="order"):
        wasserstein_distance(np.empty((0, 2)), np.empty((0, 2)), order=0.5)
    with pytest.raises(ValueError, match="diagram"):
        finite_part(np.zeros((3, 3)))


_CONCURRENT_FIRST_CALLS = """
import threading
import numpy as np
from pipeline.kernels import persistence as topology
points = np.random.default_rng(0).normal(size=(30, 3))
barrier = threading.Barrier(4)
def first_call():
    barrier.wait()
    topology.vietoris_rips_diagrams(points, 1)
threads = [threading.Thread(target=first_call) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
"""


def test_first_calls_from_several_threads_do_not_deadlock():
    # giotto-ph's first call in a process deadlocked about one time in three when made from
    # several threads at once (a Dask step hung forever); each try needs a fresh process.
    import subprocess
    import sys

    for _ in range(8):
        subprocess.run([sys.executable, "-c", _CONCURRENT_FIRST_CALLS], check=True, timeout=60)
