"""Persistent homology of point clouds and the diagram statistics built on it.

Pure functions on NumPy arrays (no file I/O). A persistence diagram is a float64 array of
shape ``[k, 2]`` holding ``(birth, death)`` rows; an essential class has ``death = np.inf``.
All homology is computed with coefficients in Z/2 so that the numbers do not depend on a
backend's default field (gudhi uses 11, ripser 2).
"""

from __future__ import annotations

import itertools

import numpy as np

COEFFICIENT_FIELD = 2

# How many row tasks may be in flight at once in `wasserstein_distance_matrix`: enough to keep
# every worker thread busy, few enough that results do not pile up on the client.
_ROWS_IN_FLIGHT_PER_THREAD = 4


def _as_diagram(diagram, name: str) -> np.ndarray:
    """Return ``diagram`` as a float64 ``[k, 2]`` array, or raise ValueError naming ``name``."""
    array = np.asarray(diagram, dtype=np.float64)
    if array.size == 0:
        # Empty diagrams come in many shapes ([], (0,), (0, 2)); normalise them.
        return np.empty((0, 2), dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"{name} must be an array of shape [k, 2] (birth, death), got shape {array.shape}")
    if np.isnan(array).any():
        raise ValueError(f"{name} must not contain NaN")
    return array


def vietoris_rips_diagrams(
    points: np.ndarray,
    max_dim: int = 1,
    threshold: float = np.inf,
    metric: str = "euclidean",
) -> list[np.ndarray]:
    """Vietoris-Rips persistence diagrams in dimensions ``0..max_dim``.

    Computed with ``gudhi.sklearn.RipsPersistence`` (gudhi's fork of Ripser, over the
    coefficient field Z/2) on the full distance matrix. On the activations of the
    activation-landscapes study it was the fastest backend measured, 3-4x ripser and 1.5-4x
    giotto-ph, with the same diagrams (``benchmarks/activation_landscapes.py``). It releases the
    GIL, so Dask's threads run items in parallel.

    Parameters
    ----------
    points : np.ndarray
        Point cloud of shape ``[n, d]``, or, with ``metric="precomputed"``, a square symmetric
        distance matrix ``[n, n]`` with zero diagonal.
    max_dim : int, default 1
        Highest homology dimension computed.
    threshold : float, default np.inf
        Largest filtration value; classes still alive there get death ``np.inf``.
    metric : str, default "euclidean"
        Any metric accepted by ``scipy.spatial.distance.pdist``, or ``"precomputed"``.

    Returns
    -------
    list of np.ndarray
        ``max_dim + 1`` float64 arrays of shape ``[k, 2]`` with ``(birth, death)`` rows.
        Infinite deaths stay ``np.inf`` (with ``threshold=np.inf`` exactly one, in H0).

    Raises
    ------
    ValueError
        If a parameter is out of range or ``points`` has the wrong shape.
    """
    if isinstance(max_dim, bool) or not isinstance(max_dim, (int, np.integer)) or max_dim < 0:
        raise ValueError(f"max_dim must be a non-negative integer, got {max_dim!r}")
    if not (threshold > 0):  # also rejects NaN
        raise ValueError(f"threshold must be positive, got {threshold!r}")
    if not isinstance(metric, str) or not metric:
        raise ValueError(f"metric must be a non-empty string, got {metric!r}")
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] == 0:
        raise ValueError(f"points must be a non-empty 2-D array, got shape {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("points must be finite")
    if metric == "precomputed":
        if points.shape[0] != points.shape[1]:
            raise ValueError(f"points must be a square distance matrix with metric='precomputed', got shape {points.shape}")
        distances = points
    elif len(points) == 1:
        distances = np.zeros((1, 1))
    else:
        from scipy.spatial.distance import pdist, squareform

        distances = squareform(pdist(points, metric=metric))
    from gudhi.sklearn.rips_persistence import RipsPersistence

    rips = RipsPersistence(
        homology_dimensions=list(range(int(max_dim) + 1)), threshold=float(threshold), input_type="full distance matrix",
        homology_coeff_field=COEFFICIENT_FIELD,
    )
    return [_as_diagram(diagram, "diagram") for diagram in rips.fit_transform([distances])[0]]


def finite_part(diagram: np.ndarray) -> np.ndarray:
    """Rows of ``diagram`` whose death is finite.

    Parameters
    ----------
    diagram : np.ndarray
        Persistence diagram ``[k, 2]``.

    Returns
    -------
    np.ndarray
        float64 array ``[k', 2]`` without the essential (infinite-death) classes.
    """
    diagram = _as_diagram(diagram, "diagram")
    return diagram[np.isfinite(diagram[:, 1])]


def total_persistence(diagram: np.ndarray, p: float = 2.0) -> float:
    """Sum over finite points of ``(death - birth) ** p``.

    Parameters
    ----------
    diagram : np.ndarray
        Persistence diagram ``[k, 2]``; infinite bars are ignored (their persistence is not a number).
    p : float, default 2.0
        Exponent, positive.

    Returns
    -------
    float
    """
    if not (p > 0) or not np.isfinite(p):
        raise ValueError(f"p must be a positive finite number, got {p!r}")
    finite = finite_part(diagram)
    return float(np.sum((finite[:, 1] - finite[:, 0]) ** p))


def wasserstein_distance(a: np.ndarray, b: np.ndarray, order: float = 1.0, internal_p: float = np.inf) -> float:
    """p-Wasserstein distance between the finite parts of two diagrams.

    Uses ``gudhi.wasserstein.wasserstein_distance`` (optimal transport via POT). The essential
    classes are dropped first: every full-filtration H0 diagram has exactly one, born at 0, so
    they would only match each other at cost 0, while a differing count would make the
    distance infinite.

    Parameters
    ----------
    a, b : np.ndarray
        Persistence diagrams ``[k, 2]``.
    order : float, default 1.0
        Wasserstein exponent, at least 1.
    internal_p : float, default np.inf
        Ground metric on the plane (``np.inf``: the sup norm, so a point's distance to the
        diagonal is half its persistence).

    Returns
    -------
    float
    """
    if not (order >= 1) or not np.isfinite(order):
        raise ValueError(f"order must be a finite number >= 1, got {order!r}")
    if not (internal_p >= 1):
        raise ValueError(f"internal_p must be >= 1 (np.inf allowed), got {internal_p!r}")
    from gudhi.wasserstein import wasserstein_distance as gudhi_wasserstein

    a = finite_part(_as_diagram(a, "a"))
    b = finite_part(_as_diagram(b, "b"))
    if len(a) == 0 and len(b) == 0:
        return 0.0
    return float(gudhi_wasserstein(a, b, matching=False, order=float(order), internal_p=float(internal_p)))


def _upper_row(diagrams: list[np.ndarray], i: int, order: float) -> np.ndarray:
    """Distances from diagram ``i`` to diagrams ``i+1..m-1`` (one Dask task)."""
    return np.array([wasserstein_distance(diagrams[i], other, order=order) for other in diagrams[i + 1 :]], dtype=np.float64)


def wasserstein_distance_matrix(diagrams: list[np.ndarray], order: float = 1.0, client=None) -> np.ndarray:
    """Symmetric matrix of pairwise Wasserstein distances, zero on the diagonal.

    Parameters
    ----------
    diagrams : list of np.ndarray
        ``m`` persistence diagrams ``[k, 2]`` (finite parts are used, see `wasserstein_distance`).
    order : float, default 1.0
        Wasserstein exponent, at least 1.
    client : dask.distributed.Client, optional
        When given, the ``m(m-1)/2`` pairs are computed as Dask tasks, one task per row's upper
        part, with the diagrams scattered to the workers once and a bounded number of rows in
        flight at a time. Otherwise a plain loop.

    Returns
    -------
    np.ndarray
        float64 array ``[m, m]``.
    """
    if not (order >= 1) or not np.isfinite(order):
        raise ValueError(f"order must be a finite number >= 1, got {order!r}")
    diagrams = [finite_part(_as_diagram(d, f"diagrams[{i}]")) for i, d in enumerate(diagrams)]
    m = len(diagrams)
    matrix = np.zeros((m, m), dtype=np.float64)
    if m < 2:
        return matrix

    if client is None:
        for i in range(m - 1):
            matrix[i, i + 1 :] = _upper_row(diagrams, i, order)
    else:
        from dask.distributed import as_completed

        # Scatter the whole list as one object, once, rather than shipping it with every task.
        [scattered] = client.scatter([diagrams], broadcast=True, hash=False)
        threads = max(1, sum(client.nthreads().values()))
        window = threads * _ROWS_IN_FLIGHT_PER_THREAD
        # Rows in order: longest first, so the short tail rows fill in the gaps at the end.
        rows = iter(range(m - 1))
        futures = {}

        def submit(i):
            future = client.submit(_upper_row, scattered, i, float(order), pure=False)
            futures[future] = i
            return future

        # islice, not zip with a range: zip would pull (and lose) one extra row from `rows`.
        pending = as_completed([submit(i) for i in itertools.islice(rows, window)])
        for future in pending:
            i = futures.pop(future)
            matrix[i, i + 1 :] = future.result()
            next_row = next(rows, None)
            if next_row is not None:
                pending.add(submit(next_row))
        del scattered

    # Fill the lower triangle from the upper one: exact symmetry by construction.
    return matrix + matrix.T


def persistence_landscape(diagram: np.ndarray, k_max: int, grid: np.ndarray) -> np.ndarray:
    """Persistence landscape functions ``lambda_1..lambda_k_max`` sampled on ``grid``.

    ``lambda_k(t)`` is the k-th largest of ``max(0, min(t - b, d - t))`` over the finite
    points ``(b, d)`` of the diagram (zero when there are fewer than k points): Bubenik's tent
    convention. Computed by ``gudhi.representations.Landscape`` on this grid; gudhi scales its
    landscapes by sqrt(2) (tents of height ``(d - b) / sqrt(2)``), which is divided out here.

    Parameters
    ----------
    diagram : np.ndarray
        Persistence diagram ``[n, 2]``; infinite bars are ignored.
    k_max : int
        Number of landscape functions, positive.
    grid : np.ndarray
        1-D array of ``g`` sample positions.

    Returns
    -------
    np.ndarray
        float64 array ``[k_max, g]``.
    """
    if isinstance(k_max, bool) or not isinstance(k_max, (int, np.integer)) or k_max < 1:
        raise ValueError(f"k_max must be a positive integer, got {k_max!r}")
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1:
        raise ValueError(f"grid must be a 1-D array, got shape {grid.shape}")
    finite = finite_part(diagram)
    if grid.size == 0:
        return np.zeros((int(k_max), 0))
    from gudhi.representations import Landscape

    landscape = Landscape(num_landscapes=int(k_max), resolution=grid.size)
    landscape.grid_ = grid  # gudhi's documented attribute: the positions it samples
    values = landscape.transform([finite])[0].reshape(int(k_max), grid.size)
    return values / np.sqrt(2.0)


COMPLEXES = ("graph", "flag")


def graph_persistence(values: np.ndarray, edges: np.ndarray, complex: str) -> list[np.ndarray]:
    """H0 and H1 diagrams of the sublevel filtration of a vertex function on a graph.

    A vertex enters at its value, an edge at the larger of its endpoints' values (Horoi et al.,
    Sec. 2.2). Two complexes, both through gudhi's SimplexTree:

    - ``"graph"``: the graph itself (the loss-landscape paper's public code). A cycle of a graph
      never dies. (This used to be a union-find pass with the elder rule; gudhi gives the same
      diagrams, tested against that union-find on random graphs, and was measured no slower:
      docs/performance.md.)
    - ``"flag"``: the flag (clique) complex of the graph: a triangle enters with its last edge (the
      max of its vertices), so cycles can be filled and die.

    Essential classes (the components that never merge, the cycles never filled) keep an
    infinite death; :func:`close_essential` closes them at the largest filtration value, as the
    public code does. Zero-length pairs are left out (they add nothing to total persistence).

    Parameters
    ----------
    values : np.ndarray
        ``[n]`` finite vertex values (the loss of each sample), vertex ``i`` = ``values[i]``.
    edges : np.ndarray
        ``[E, 2]`` vertex indices.
    complex : {"graph", "flag"}

    Returns
    -------
    list of np.ndarray
        ``[H0, H1]``, each ``[k, 2]`` (birth, death); essential classes die at ``np.inf``.
    """
    import gudhi

    if complex not in COMPLEXES:
        raise ValueError(f"complex must be one of {COMPLEXES}, got {complex!r}")
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError("values must be a non-empty 1-D array of finite numbers")
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if edges.size and (edges.min() < 0 or edges.max() >= len(values) or np.any(edges[:, 0] == edges[:, 1])):
        raise ValueError(f"edges must join two different vertices among 0..{len(values) - 1}")
    tree = gudhi.SimplexTree()
    tree.insert_batch(np.arange(len(values))[None, :], values)
    if edges.size:
        tree.insert_batch(edges.T, np.maximum(values[edges[:, 0]], values[edges[:, 1]]))
    if complex == "flag":
        tree.expansion(2)  # triangles of the graph, each at the max of its edges
    # persistence_dim_max: the top dimension's classes too (a graph's cycles, H1, are its top)
    tree.compute_persistence(homology_coeff_field=COEFFICIENT_FIELD, min_persistence=0.0, persistence_dim_max=True)
    out = []
    for dimension in (0, 1):
        diagram = np.asarray(tree.persistence_intervals_in_dimension(dimension), dtype=np.float64).reshape(-1, 2)
        out.append(diagram[diagram[:, 1] > diagram[:, 0]])
    return out


def close_essential(diagram: np.ndarray, top: float) -> np.ndarray:
    """``diagram`` with every infinite death replaced by ``top`` (the largest filtration value):
    the loss-landscape public code's convention, which makes every class count in total
    persistence (an essential H0 class then adds ``(top - min)^2``, the loss range squared).
    Pairs that become zero-length are dropped."""
    diagram = _as_diagram(diagram, "diagram").copy()
    diagram[~np.isfinite(diagram[:, 1]), 1] = float(top)
    return diagram[diagram[:, 1] > diagram[:, 0]]


def landscape_topology(points: np.ndarray, values: np.ndarray, graph_knn: int) -> dict:
    """The loss-level topology of a sampled landscape: H0/H1 diagrams of the sublevel filtration
    of ``values`` on the kNN graph of ``points``, for both complexes, and their total persistence.

    The loss-landscape study's per-optimum analysis: ``points`` are the rows of PHATE's diffusion
    potential (their Euclidean distances are the paper's potential distances), ``values`` the
    samples' losses. ``graph`` follows the public code: the bare graph, every essential class
    (the surviving component, every cycle) closed at the largest loss, all counted. ``flag`` is
    the flag complex with its essential classes left infinite and out of total persistence (the
    finite pairs only), so that it measures the landscape's features rather than its loss range.

    Parameters
    ----------
    points : np.ndarray
        ``[n, d]`` finite, ``n >= 2``; sample ``i`` is vertex ``i``.
    values : np.ndarray
        ``[n]`` finite vertex values.
    graph_knn : int
        Neighbours per sample (:func:`pipeline.kernels.graphs.knn_edges`), at least 1; capped at
        ``n - 1`` (every other sample), so that one setting serves every sampling size.

    Returns
    -------
    dict
        ``diagrams``: complex -> ``[H0, H1]`` (:func:`graph_persistence`; ``graph``'s closed at
        ``max(values)``); ``total_persistence``: ``[complex, dimension]`` (complexes in
        :data:`COMPLEXES` order, sum of squared finite persistence); ``edges``: the graph's edge count.
    """
    from .graphs import knn_edges

    values = np.asarray(values, dtype=np.float64)
    if np.ndim(points) != 2 or len(points) != values.size or values.ndim != 1:
        raise ValueError(f"points [n, d] and values [n] must describe the same samples, got {np.shape(points)} and {values.shape}")
    if len(values) < 2:
        raise ValueError("a landscape needs at least two samples")
    if isinstance(graph_knn, bool) or int(graph_knn) != graph_knn or graph_knn < 1:
        raise ValueError(f"graph_knn must be a positive integer, got {graph_knn!r}")
    edges = knn_edges(points, min(int(graph_knn), len(values) - 1))
    top = float(values.max())
    diagrams = {
        "graph": [close_essential(d, top) for d in graph_persistence(values, edges, "graph")],
        "flag": graph_persistence(values, edges, "flag"),
    }
    total = np.array([[total_persistence(diagrams[c][d]) for d in (0, 1)] for c in COMPLEXES])
    return {"diagrams": diagrams, "total_persistence": total, "edges": len(edges)}
