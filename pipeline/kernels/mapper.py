"""Mapper graphs of point clouds and the branches of a function on them (Gabella's learning
graphs, and their measured branching).

Mapper itself is KeplerMapper's (``kmapper``): a lens, a cover of the lens's range by
overlapping hypercubes, DBSCAN within each preimage, one node per cluster, an edge between
clusters that share a point. What is here: the lenses, a call of KeplerMapper with settings it
supports (clustering in a reduced space, precomputed once), the graph as plain arrays, and the
branches of a function on the graph (the training step) read off the extended persistence of
that function (gudhi), in the spirit of Carriere, Michel and Oudot's statmapper.

Branches. Give each node the mean training step of its points, and each edge the later of its
two nodes' values. In the extended persistence of this function on the graph (Cohen-Steiner,
Edelsbrunner and Harer), a branch that splits off a trunk as the step grows is a point of the
relative H1 diagram: a local maximum (the branch's tip, its last step) paired with the node where
it splits off (the saddle, the split step). Two trunks that merge are ordinary H0 points, a
connected component an extended H0 point (its first and last step), a cycle an extended H1
point.

Branches are counted in one piece. A Mapper graph can fall into several connected pieces (a
group of neurons that moves farther than DBSCAN's radius between two recorded steps leaves the
piece it was in), and a piece is not a branch: it may be a stretch of a trajectory whose other
stretch is already counted, or a stub of the early trunk. So the branches at the end are the tips
of the MAIN piece, the piece that spans the longest stretch of training (the earliest-starting
among equals): one plus the branches that split off within it (in a tree, one local maximum per
relative H1 point, plus the global maximum). The pieces are counted apart, and so are the
branchings inside the other pieces. The main piece is usually the one holding the start; where
the start's piece stops early (its neurons continue in another piece) it is not. (Until issue 19
every piece counted as a branch: pieces plus all branchings.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _checks


def norm_lens(points: np.ndarray) -> np.ndarray:
    """``[n, 1]``: each point's Euclidean norm, measured from the ORIGIN (a weight vector's
    distance from zero; Gabella's public notebook measured it after centring the cloud, which
    moves the origin to the cloud's mean and changes the lens)."""
    return np.linalg.norm(_checks.points(points, "points"), axis=1, keepdims=True)


def pca_lens(points: np.ndarray, components: int = 3, seed: int = 0) -> np.ndarray:
    """``[n, components]``: the cloud projected on its first principal directions."""
    from sklearn.decomposition import PCA

    points = _checks.points(points, "points")
    components = min(_checks.integer_in(components, 1, 10_000, "components"), *points.shape)
    return PCA(n_components=components, random_state=seed).fit_transform(points)


def reduced_space(points: np.ndarray, components: int | None, seed: int = 0) -> np.ndarray:
    """The space DBSCAN clusters in: the first ``components`` principal coordinates (all of the
    cloud when ``None`` or when the cloud has no more dimensions). Computed once for every cube of
    the cover; Gabella's notebook did the same on the first layer (PCA-20)."""
    points = _checks.points(points, "points")
    if components is None or components >= min(points.shape):
        return points
    return pca_lens(points, components, seed)


@dataclass(frozen=True)
class MapperGraph:
    """A Mapper graph as arrays: ``members[i]`` the point indices of node ``i`` (sorted),
    ``edges`` ``[m, 2]`` node pairs ``i < j`` sharing a point, ``names`` KeplerMapper's node ids."""

    members: list[np.ndarray]
    edges: np.ndarray
    names: list[str]

    @property
    def n_nodes(self) -> int:
        return len(self.members)


def mapper_graph(
    lens: np.ndarray,
    space: np.ndarray,
    *,
    cubes: int,
    overlap: float,
    eps: float,
    min_samples: int = 1,
) -> tuple[MapperGraph, dict]:
    """KeplerMapper's graph of ``space`` over ``lens``.

    Parameters
    ----------
    lens : np.ndarray
        ``[n, k]`` lens values (:func:`norm_lens`, :func:`pca_lens`).
    space : np.ndarray
        ``[n, d]`` the points DBSCAN clusters (the cloud, or :func:`reduced_space` of it).
    cubes : int
        Hypercubes per lens dimension.
    overlap : float
        Fraction of a hypercube's width shared with its neighbour, in (0, 1).
    eps, min_samples
        DBSCAN's neighbourhood radius (in ``space``) and core-point count.

    Returns
    -------
    (MapperGraph, dict)
        The graph as arrays, and KeplerMapper's own graph (for its HTML page).
    """
    import kmapper
    from sklearn.cluster import DBSCAN

    lens = np.asarray(lens, dtype=np.float64)
    if lens.ndim == 1:
        lens = lens[:, None]
    space = _checks.points(space, "space")
    if len(lens) != len(space):
        raise ValueError(f"lens has {len(lens)} rows but space has {len(space)} points")
    cubes = _checks.integer_in(cubes, 1, 100_000, "cubes")
    if not 0 < float(overlap) < 1:
        raise ValueError(f"overlap must be in (0, 1), got {overlap}")
    min_samples = _checks.integer_in(min_samples, 1, 100_000, "min_samples")
    clusterer = DBSCAN(eps=_checks.positive(eps, "eps"), min_samples=min_samples)
    # Repeated points (neurons that move together, as from an all-zero start) fall in the same
    # cubes and, with min_samples 1, the same clusters: cluster each distinct point once, then
    # give every node all the copies of its points (the same graph, far less DBSCAN work).
    copies = None
    if min_samples == 1:
        _, first, copies = np.unique(np.hstack([lens, space]), axis=0, return_index=True, return_inverse=True)
        lens, space = lens[first], space[first]
    graph = kmapper.KeplerMapper(verbose=0).map(
        lens, X=space, cover=kmapper.Cover(n_cubes=cubes, perc_overlap=float(overlap)), clusterer=clusterer
    )
    names = sorted(graph["nodes"])
    index = {name: i for i, name in enumerate(names)}
    if copies is not None:
        by_distinct = np.argsort(copies.ravel(), kind="stable")
        bounds = np.searchsorted(copies.ravel()[by_distinct], np.arange(len(first) + 1))
        graph["nodes"] = {
            name: np.concatenate([by_distinct[bounds[d] : bounds[d + 1]] for d in graph["nodes"][name]]).tolist() for name in names
        }
    members = [np.unique(np.asarray(graph["nodes"][name], dtype=np.int64)) for name in names]
    edges = sorted({tuple(sorted((index[a], index[b]))) for a, linked in graph["links"].items() for b in linked})
    return MapperGraph(members, np.asarray(edges, dtype=np.int64).reshape(-1, 2), names), graph


def node_values(graph: MapperGraph, values: np.ndarray) -> np.ndarray:
    """``[nodes]``: the mean of ``values`` (one per point) over each node's points."""
    values = np.asarray(values, dtype=np.float64)
    return np.array([values[m].mean() for m in graph.members])


@dataclass(frozen=True)
class Branching:
    """The extended persistence of a function on a graph, read as branches.

    ``splits`` ``[k, 2]``: (split value, tip value) of each branch that splits off as the value
    grows, latest tip first; ``merges`` ``[k, 2]``: (start value, merge value) of each trunk that
    merges into another; ``components`` ``[c, 2]``: (first, last) value of each connected
    component (piece), longest first; ``loops`` ``[l, 2]``. ``split_piece`` ``[k]``: the piece
    (index into ``components``) each split lies in; ``root``: the main piece, the longest-lived
    (row 0 of ``components``; -1 for an empty graph); ``start``: the piece holding the earliest
    node."""

    splits: np.ndarray
    merges: np.ndarray
    components: np.ndarray
    loops: np.ndarray
    split_piece: np.ndarray
    root: int
    start: int

    @property
    def pieces(self) -> int:
        """The graph's connected pieces (components), however short."""
        return len(self.components)

    def _kept(self, min_length: float, significant: np.ndarray | None) -> np.ndarray:
        keep = self.splits[:, 1] - self.splits[:, 0] > min_length
        if significant is not None:
            significant = np.asarray(significant, dtype=bool)
            if significant.shape != keep.shape:
                raise ValueError(f"significant marks {significant.shape} splits, the branching has {keep.shape}")
            keep &= significant
        return keep

    def connected_branches(self, min_length: float = 0.0, significant: np.ndarray | None = None) -> int:
        """The branches at the end of the main piece (``root``): its trunk and the branches that
        split off within it, each counted when it lasts longer than ``min_length`` (and when
        ``significant`` marks it so). 0 for an empty graph."""
        if self.root < 0:
            return 0
        return 1 + int(np.sum(self._kept(min_length, significant) & (self.split_piece == self.root)))

    def detached_splits(self, min_length: float = 0.0, significant: np.ndarray | None = None) -> int:
        """The branchings (counted as :meth:`connected_branches` counts them) inside the pieces
        other than the main one: not branches of its tree."""
        return int(np.sum(self._kept(min_length, significant) & (self.split_piece != self.root)))

    def pieces_plus_splits(self, min_length: float = 0.0, significant: np.ndarray | None = None) -> int:
        """The count used until issue 19 (every piece lasting longer than ``min_length`` counted
        as a branch, plus every kept branching): kept to compare, not a branch count."""
        lasting = np.sum(self.components[:, 1] - self.components[:, 0] > min_length)
        return int(lasting + np.sum(self._kept(min_length, significant)))


def trajectory_eps(space: np.ndarray, n_snapshots: int, quantile: float, factor: float) -> float:
    """DBSCAN radius for a cloud of trajectories: ``factor`` times the ``quantile`` of the
    distances each neuron moves between two consecutive recorded steps. ``space`` is
    ``[n_snapshots * neurons, d]``, snapshot-major. Clusters then chain a neuron's consecutive
    positions (most of them), while groups that move apart by more than that per step separate.
    1.0 when nothing moves."""
    space = _checks.points(space, "space")
    if len(space) % n_snapshots:
        raise ValueError(f"{len(space)} points are not {n_snapshots} snapshots of equal size")
    if not 0 < float(quantile) <= 1:
        raise ValueError(f"eps quantile must be in (0, 1], got {quantile}")
    paths = space.reshape(n_snapshots, -1, space.shape[1])
    moves = np.linalg.norm(np.diff(paths, axis=0), axis=2).ravel()
    eps = float(np.quantile(moves, quantile)) * _checks.positive(factor, "factor") if len(moves) else 0.0
    return eps if eps > 0 else 1.0


def bootstrap_support(reference: np.ndarray, resampled: list[np.ndarray], tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """How often each branching of ``reference`` (``[k, 2]`` (split, tip) rows) reappears in the
    branchings of bootstrap resamples, and how far its split step moves.

    In each resample the reference's splits are matched one to one, in order of persistence, to
    the nearest unmatched split within ``tolerance`` (a three-way split is two branchings at one
    step, and needs two). Returns ``support`` ``[k]`` (the fraction of resamples that matched the
    branching) and ``spread`` ``[k]`` (the standard deviation of the matched split steps; NaN
    when fewer than two matched). Without resamples the support is 1.
    """
    reference = np.asarray(reference, dtype=np.float64).reshape(-1, 2)
    if not resampled:
        return np.ones(len(reference)), np.full(len(reference), np.nan)
    matched = [[] for _ in range(len(reference))]
    order = np.argsort(-(reference[:, 1] - reference[:, 0]), kind="stable")
    for splits in resampled:
        free = list(np.asarray(splits, dtype=np.float64).reshape(-1, 2)[:, 0])
        for i in order:
            if not free:
                break
            j = int(np.argmin(np.abs(np.asarray(free) - reference[i, 0])))
            if abs(free[j] - reference[i, 0]) <= tolerance:
                matched[i].append(free.pop(j))
    support = np.array([len(m) / len(resampled) for m in matched])
    spread = np.array([np.std(m, ddof=1) if len(m) > 1 else np.nan for m in matched])
    return support, spread


def pieces(n_nodes: int, edges: np.ndarray) -> np.ndarray:
    """``[n_nodes]``: the connected piece (component) of each node, numbered from 0 in order of
    each piece's lowest node."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    adjacency = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n_nodes, n_nodes))
    _, labels = connected_components(adjacency, directed=False)
    # renumber by first appearance, so that the numbering does not depend on scipy's
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(first, kind="stable")
    renumber = np.empty_like(order)
    renumber[order] = np.arange(len(order))
    return renumber[labels]


def _extended(values: np.ndarray, edges: np.ndarray):
    """gudhi's extended persistence of the lower-star filtration of ``values`` on one graph."""
    import gudhi

    tree = gudhi.SimplexTree()
    for v, value in enumerate(values):
        tree.insert([v], float(value))
    for a, b in edges:
        if a != b:
            tree.insert([int(a), int(b)], float(max(values[a], values[b])))
    tree.extend_filtration()
    return tree.extended_persistence()


def _pairs(diagram, dimension) -> np.ndarray:
    """(lower, upper) of each point of that dimension."""
    return np.sort(np.array([p for d, p in diagram if d == dimension], dtype=np.float64).reshape(-1, 2), axis=1)


def _longest_first(found: np.ndarray, *also: np.ndarray):
    order = np.lexsort((found[:, 0], -(found[:, 1] - found[:, 0])))
    return (found[order], *(a[order] for a in also)) if also else found[order]


def branching(values: np.ndarray, edges: np.ndarray) -> Branching:
    """The branches of a function on a graph (see the module's docstring), through gudhi's
    extended persistence of the lower-star filtration of ``values``, piece by piece (the
    persistence of a graph is the union of its pieces', so nothing changes but that each
    branching knows its piece).

    Parameters
    ----------
    values : np.ndarray
        ``[n]`` finite value of each node (the mean training step of its points).
    edges : np.ndarray
        ``[m, 2]`` node pairs.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or not np.all(np.isfinite(values)):
        raise ValueError("values must be a finite 1-D array, one per node")
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if len(edges) and (edges.min() < 0 or edges.max() >= len(values)):
        raise ValueError(f"edges must join nodes 0..{len(values) - 1}")
    if len(values) == 0:
        empty = np.zeros((0, 2))
        return Branching(empty, empty, empty, empty, np.zeros(0, np.int64), -1, -1)
    piece = pieces(len(values), edges)
    # the start: the piece of the earliest node; among pieces that share the earliest value, the
    # one with the most nodes, then the lowest number
    earliest = np.flatnonzero(values == values.min())
    sizes = np.bincount(piece)
    candidates = np.unique(piece[earliest])
    root_label = int(candidates[np.lexsort((candidates, -sizes[candidates]))][0])
    found = {"splits": [], "merges": [], "components": [], "loops": []}
    labels = {"splits": [], "components": []}
    for p in range(len(sizes)):
        nodes = np.flatnonzero(piece == p)
        local = np.full(len(values), -1, dtype=np.int64)
        local[nodes] = np.arange(len(nodes))
        inside = edges[piece[edges[:, 0]] == p] if len(edges) else edges
        if np.ptp(values[nodes]) == 0:
            # gudhi's extended persistence is empty where the function is constant (a lone node,
            # say): a piece all the same, (v, v), with nothing in it
            ordinary, relative, extended = [], [], [(0, (values[nodes[0]], values[nodes[0]]))]
        else:
            ordinary, relative, extended_plus, extended_minus = _extended(values[nodes], local[inside])
            extended = extended_plus + extended_minus
        # relative H1 comes as (tip, split): stored as (split, tip), like every other pair
        for name, diagram, dimension in (
            ("splits", relative, 1), ("merges", ordinary, 0), ("components", extended, 0), ("loops", extended, 1)
        ):
            pairs = _pairs(diagram, dimension)
            found[name].append(pairs)
            if name in labels:
                labels[name].append(np.full(len(pairs), p, dtype=np.int64))
    stacked = {name: np.concatenate(parts).reshape(-1, 2) for name, parts in found.items()}
    splits, split_label = _longest_first(stacked["splits"], np.concatenate(labels["splits"]))
    components, component_label = _longest_first(stacked["components"], np.concatenate(labels["components"]))
    # pieces are numbered as their rows of components (longest first)
    row_of = np.empty(len(sizes), dtype=np.int64)
    row_of[component_label] = np.arange(len(component_label))
    # the main piece: the longest-lived, row 0 of components (longest first, then earliest)
    return Branching(
        splits, _longest_first(stacked["merges"]), components, _longest_first(stacked["loops"]),
        row_of[split_label], 0, int(row_of[root_label]),
    )
