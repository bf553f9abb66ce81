"""The exact polyhedral decomposition of a box of R^2 by a ReLU MLP ("Topological Signatures of
ReLU Neural Network Activation Patterns", paper 001).

On each activation region (a fixed on/off pattern of every hidden neuron) the network is affine,
so the next neuron's pre-activation is an affine function of the input there, and its zero set a
line. The decomposition is built layer by layer: every region of the current layer is split by
each of the layer's neuron lines in turn. Regions are convex polygons, held as one padded array
``[regions, vertices, 2]`` (counter-clockwise, ``counts`` valid vertices each), so each split is a
handful of NumPy operations over all regions at once.

Why by hand: no maintained Python library computes it. relucent needs Gurobi, canonicalpoly
Sage, SplineCam an old graph-tool and torch <= 1.12; the paper's own tool samples a grid, and on a
random 2-32-32 network its default 70 x 70 grid finds a third of the regions.

Tolerance: a vertex whose signed value ``a . v + c`` is within ``tol * (|a| * diameter + |c|)`` of
0 lies on the line; it goes to both sides and creates no crossing. A line that only touches a
region (through a vertex or along an edge) does not split it; the region goes to the side its
other vertices are on. A dead neuron (``a = 0`` on a region) splits nothing; its bit is the sign of
its constant value (on if positive). Coincident lines: the second one runs along an edge of the
first's regions and splits none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .series import loss_spikes  # noqa: F401  (moved to kernels/series.py; the old name still works)

# Relative tolerance of "a vertex lies on a line" (module docstring). The cell complex merges
# vertices closer than TOLERANCE x the box's extent, which is below the distance the decomposition
# resolves (TOLERANCE x its diameter): a merge distance above it fused distinct vertices of real
# tiny regions (near-concurrent lines of N(0, 3^2)-initialized nets) and broke the tiling.
TOLERANCE = 1e-11
# Fiedler partitions of larger graphs use a sparse shift-invert solver (same result, tested). At
# 400 nodes the dense generalized solve took ~0.17 s, the sparse one ~0.01 s (issue 19: four
# readings of "weighted" per item made the dense path the analysis' largest cost); 500 until then.
DENSE_FIEDLER_NODES = 100


@dataclass(frozen=True)
class Regions:
    """The activation regions of a box: ``polygons`` ``[R, V, 2]`` with ``counts`` ``[R]`` valid
    vertices (counter-clockwise), ``patterns`` ``[R, neurons]`` (True = on; hidden neurons of every
    layer in order), and each region's affine map from input to output logits, ``A`` ``[R, out,
    2]`` and ``c`` ``[R, out]``."""

    polygons: np.ndarray
    counts: np.ndarray
    patterns: np.ndarray
    A: np.ndarray
    c: np.ndarray

    def __len__(self) -> int:
        return len(self.counts)

    def vertices(self, r: int) -> np.ndarray:
        """Region ``r``'s vertices ``[k, 2]``, counter-clockwise."""
        return self.polygons[r, : self.counts[r]]

    def valid(self) -> np.ndarray:
        """``[R, V]`` which slots of ``polygons`` are a region's own vertices. The slots past a
        region's count are padding and hold leftovers of the splits: never read them."""
        return np.arange(self.polygons.shape[1])[None, :] < self.counts[:, None]

    def representatives(self) -> np.ndarray:
        """``[R, 2]`` a point inside each region: the mean of its own vertices (strictly inside a
        convex polygon of positive area)."""
        own = np.where(self.valid()[..., None], self.polygons, 0.0)
        return own.sum(axis=1) / np.maximum(self.counts, 1)[:, None]

    def areas(self) -> np.ndarray:
        """``[R]`` areas (shoelace)."""
        x, y = self.polygons[..., 0], self.polygons[..., 1]
        valid = self.valid()
        following = (np.arange(self.polygons.shape[1])[None, :] + 1) % np.maximum(self.counts[:, None], 1)
        xn = np.take_along_axis(x, following, axis=1)
        yn = np.take_along_axis(y, following, axis=1)
        return 0.5 * np.sum(np.where(valid, x * yn - xn * y, 0.0), axis=1)


def box_polygon(box: Sequence[float]) -> np.ndarray:
    """``(xmin, xmax, ymin, ymax)`` as a counter-clockwise square ``[4, 2]``."""
    xmin, xmax, ymin, ymax = map(float, box)
    if not (xmin < xmax and ymin < ymax):
        raise ValueError(f"box must be (xmin, xmax, ymin, ymax) with xmin < xmax and ymin < ymax, got {box}")
    return np.array([[xmin, ymin], [xmax, ymin], [xmax, ymax], [xmin, ymax]])


def _split(polygons, counts, a, c, tol, diameter, decide_only=False):
    """Split every region by its line ``a . x + c = 0``. Returns (positive part, negative part,
    which regions were split, the side of each unsplit region)."""
    n_regions, n_vertices, _ = polygons.shape
    index = np.arange(n_vertices)[None, :]
    valid = index < counts[:, None]
    s = polygons[..., 0] * a[:, 0, None] + polygons[..., 1] * a[:, 1, None] + c[:, None]
    scale = tol * (np.linalg.norm(a, axis=1) * diameter + np.abs(c))[:, None]
    positive = valid & (s > scale)
    negative = valid & (s < -scale)
    split = positive.any(axis=1) & negative.any(axis=1)
    side = positive.any(axis=1) | (~negative.any(axis=1) & (c > 0))
    if decide_only or not split.any():
        return None, None, split, side
    p, k, s = polygons[split], counts[split], s[split]
    pos, neg, val = positive[split], negative[split], valid[split]
    following = (index + 1) % k[:, None]
    s_next = np.take_along_axis(s, following, axis=1)
    p_next = np.take_along_axis(p, following[..., None], axis=1)
    pos_next = np.take_along_axis(pos, following, axis=1)
    neg_next = np.take_along_axis(neg, following, axis=1)
    crossing = val & ((pos & neg_next) | (neg & pos_next))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(crossing, s / (s - s_next), 0.0)
    cut = p + t[..., None] * (p_next - p)
    # slots: vertex 0, crossing on edge 0, vertex 1, crossing on edge 1, ... (cyclic order kept)
    slots = np.stack([p, cut], axis=2).reshape(len(p), 2 * n_vertices, 2)
    on_line = val & ~pos & ~neg

    def part(keep_vertex):
        keep = np.stack([keep_vertex, crossing], axis=2).reshape(len(p), 2 * n_vertices)
        order = np.argsort(~keep, axis=1, kind="stable")
        return np.take_along_axis(slots, order[..., None], axis=1), keep.sum(axis=1)

    return part(pos | on_line), part(neg | on_line), split, side


def _crossings(polygons, counts, A, c, tol, diameter):
    """``[R, n]`` whether each of the ``n`` lines of a region's own map splits it, and otherwise
    the side the region is on."""
    crosses = np.zeros(A.shape[:2], dtype=bool)
    sides = np.zeros(A.shape[:2], dtype=bool)
    for j in range(A.shape[1]):
        _, _, crosses[:, j], sides[:, j] = _split(polygons, counts, A[:, j], c[:, j], tol, diameter, decide_only=True)
    return crosses, sides


def decompose(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], box: Sequence[float], tol: float = TOLERANCE) -> Regions:
    """Every activation region of a ReLU MLP ``2 -> h1 -> ... -> out`` inside ``box``.

    One function on purpose: each layer's loop over its lines splits the regions in five growable
    buffers that it writes in place and regrows together (the kernel's speed), so a helper would
    only hand all five in and out.

    Parameters
    ----------
    weights, biases : sequences of arrays
        ``weights[l]`` ``[n_out, n_in]``, ``biases[l]`` ``[n_out]``, the hidden layers then the
        output layer (which only gives each region its affine map; it splits nothing).
    box : (xmin, xmax, ymin, ymax)
    tol : float
        Relative tolerance of "on the line" (module docstring).
    """
    weights = [np.asarray(w, dtype=np.float64) for w in weights]
    biases = [np.asarray(b, dtype=np.float64) for b in biases]
    if len(weights) != len(biases) or len(weights) < 1:
        raise ValueError("give one bias vector per weight matrix, at least the output layer")
    if weights[0].shape[1] != 2:
        raise ValueError(f"the input must be 2-D, got {weights[0].shape[1]} inputs")
    for w, b in zip(weights, biases):
        if b.shape != (w.shape[0],):
            raise ValueError(f"bias of shape {b.shape} for a weight matrix of shape {w.shape}")
    polygons = box_polygon(box)[None]
    diameter = float(np.linalg.norm(polygons[0, 2] - polygons[0, 0]))
    counts = np.array([4])
    # the current layer's pre-activations on each region: A [R, n, 2], c [R, n]
    A, c = weights[0][None], biases[0][None]
    patterns = np.zeros((1, 0), dtype=bool)
    for layer in range(len(weights) - 1):
        # Within a layer every region keeps the affine map of the region it came from at the
        # layer's start (the layer's pre-activations depend only on the earlier layers' bits):
        # a split copies an index, not the [n, 2] map.
        width = A.shape[1]
        parent = np.arange(len(counts))
        patterns = np.concatenate([patterns, np.zeros((len(counts), width), dtype=bool)], axis=1)
        offset = patterns.shape[1] - width
        # A line that misses a layer-start region misses all its pieces: which lines cross which
        # starting regions is decided once, and each line is tested on the pieces of those only.
        crosses, sides = _crossings(polygons, counts, A, c, tol, diameter)
        # Growable buffers: a split writes its positive piece over the region and appends the
        # negative one, so a line costs what it splits, not a copy of every region.
        size = len(counts)
        capacity = 2 * size + 16
        poly_buf = np.zeros((capacity, polygons.shape[1], 2))
        poly_buf[:size] = polygons
        count_buf = np.zeros(capacity, dtype=np.int64)
        count_buf[:size] = counts
        bit_buf = np.zeros((capacity, patterns.shape[1]), dtype=bool)
        bit_buf[:size] = patterns
        # every line's bit starts as the side of the layer-start region; pieces inherit their
        # parent's row, and only the lines that cross the layer-start region are decided per piece
        bit_buf[:size, offset:] = sides
        crossing = np.ascontiguousarray(crosses.T)  # [line, layer-start region]
        parent_buf = np.zeros(capacity, dtype=np.int64)
        parent_buf[:size] = parent
        for j in range(width):
            candidates = np.flatnonzero(crossing[j][parent_buf[:size]])
            if not len(candidates):
                continue
            plus, minus, split_c, side_c = _split(
                poly_buf[candidates, : count_buf[candidates].max()], count_buf[candidates],
                A[parent_buf[candidates], j], c[parent_buf[candidates], j], tol, diameter,
            )
            bit_buf[candidates[~split_c], offset + j] = side_c[~split_c]
            if plus is None:
                continue
            rows = candidates[split_c]
            new = len(rows)
            plus_p, minus_p = plus[0][:, : plus[1].max()], minus[0][:, : minus[1].max()]
            if size + new > capacity or max(plus_p.shape[1], minus_p.shape[1]) > poly_buf.shape[1]:
                capacity = max(capacity, 2 * (size + new))
                vertices = max(poly_buf.shape[1], plus_p.shape[1], minus_p.shape[1])
                poly_buf = np.pad(poly_buf, ((0, capacity - len(poly_buf)), (0, vertices - poly_buf.shape[1]), (0, 0)))
                count_buf = np.pad(count_buf, (0, capacity - len(count_buf)))
                bit_buf = np.pad(bit_buf, ((0, capacity - len(bit_buf)), (0, 0)))
                parent_buf = np.pad(parent_buf, (0, capacity - len(parent_buf)))
            appended = slice(size, size + new)
            bit_buf[appended] = bit_buf[rows]
            parent_buf[appended] = parent_buf[rows]
            bit_buf[rows, offset + j], bit_buf[appended, offset + j] = True, False
            poly_buf[rows] = 0.0
            poly_buf[rows, : plus_p.shape[1]] = plus_p
            poly_buf[appended] = 0.0
            poly_buf[appended, : minus_p.shape[1]] = minus_p
            count_buf[rows], count_buf[appended] = plus[1], minus[1]
            size += new
        counts = count_buf[:size].copy()
        polygons = poly_buf[:size, : counts.max()].copy()
        patterns = bit_buf[:size].copy()
        parent = parent_buf[:size].copy()
        A, c = A[parent], c[parent]
        bits = patterns[:, offset:].astype(np.float64)
        # the next layer's pre-activations: W (on * (A x + c)) + b, one GEMM [R, n] @ [n, m] per
        # input coordinate (a batch of R small products was memory-bound: 3x slower at 2-384-384)
        A = np.stack([(bits * A[..., k]) @ weights[layer + 1].T for k in range(2)], axis=-1)
        c = (bits * c) @ weights[layer + 1].T + biases[layer + 1]
    return Regions(polygons, counts, patterns, A, c)


def activation_patterns(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], points: np.ndarray) -> np.ndarray:
    """``[n, neurons]`` on/off pattern of every hidden neuron at each point (a forward pass)."""
    h = np.asarray(points, dtype=np.float64)
    bits = []
    for w, b in zip(weights[:-1], biases[:-1]):
        z = h @ np.asarray(w, dtype=np.float64).T + np.asarray(b, dtype=np.float64)
        bits.append(z > 0)
        h = np.maximum(z, 0.0)
    return np.concatenate(bits, axis=1) if bits else np.zeros((len(h), 0), dtype=bool)


def locate(regions: Regions, points: np.ndarray) -> np.ndarray:
    """``[n]`` index of the region containing each point (-1 if none), by the half-planes of each
    region's edges (points on a shared edge go to one of the regions)."""
    points = np.asarray(points, dtype=np.float64)
    found = np.full(len(points), -1)
    p, k = regions.polygons, regions.counts
    index = np.arange(p.shape[1])[None, :]
    following = (index + 1) % k[:, None]
    start, end = p, np.take_along_axis(p, following[..., None], axis=1)
    valid = index < k[:, None]
    edge = end - start  # [R, V, 2]
    step = max(1, 2**21 // max(1, p.shape[0] * p.shape[1]))  # points per chunk: temporaries of ~2M entries
    for chunk in range(0, len(points), step):
        x = points[chunk : chunk + step]
        rel = x[:, None, None, :] - start[None]  # [n, R, V, 2]
        cross = edge[None, ..., 0] * rel[..., 1] - edge[None, ..., 1] * rel[..., 0]
        inside = np.all(np.where(valid[None], cross >= -1e-12, True), axis=2)  # [n, R]
        hit = inside.any(axis=1)
        found[chunk : chunk + step][hit] = inside[hit].argmax(axis=1)
    return found


@dataclass(frozen=True)
class CellComplex:
    """The decomposition as a 2-D cell complex: ``vertices`` ``[V, 2]``; ``edges`` ``[E, 2]``
    vertex pairs (each edge of a region split at every vertex of a neighbour lying on it, so that
    regions meet edge to edge); ``faces`` = regions, with ``face_edges[f]`` the edges around face
    ``f``; ``edge_faces`` ``[E, 2]`` the one or two faces of each edge (-1: the box's boundary);
    ``face_region`` ``[F]`` the region of each face. A region thinner than the merge distance of
    :func:`cell_complex` (its vertices merge into fewer than three) is no face: it has collapsed
    onto an edge of its neighbours. ``face_rings[f]`` the vertices around face ``f`` in order."""

    vertices: np.ndarray
    edges: np.ndarray
    face_edges: list[np.ndarray]
    edge_faces: np.ndarray
    face_region: np.ndarray
    face_rings: list[np.ndarray]

    def fan_triangles(self) -> tuple[np.ndarray, np.ndarray]:
        """Every face fanned from its first vertex: triangles ``[T, 3]`` (vertex ids) and the
        face of each ``[T]``. A convex face's fan adds only diagonals inside it."""
        triangles, owner = [], []
        for f, ring in enumerate(self.face_rings):
            k = len(ring)
            triangles.append(np.stack([np.full(k - 2, ring[0]), ring[1:-1], ring[2:]], axis=1))
            owner.append(np.full(k - 2, f))
        if not triangles:
            return np.zeros((0, 3), dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(triangles), np.concatenate(owner)

    def euler_characteristic(self) -> int:
        return len(self.vertices) - len(self.edges) + len(self.face_edges)

    def dual_graph(self) -> np.ndarray:
        """``[m, 2]`` pairs of faces that share an edge (of positive length), each pair once (face
        indices; ``face_region`` maps them to regions)."""
        inner = self.edge_faces[(self.edge_faces >= 0).all(axis=1)]
        return np.unique(np.sort(inner, axis=1), axis=0)


def _merged_vertices(points: np.ndarray, valid: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """The vertices left when the connected groups of ``points`` within ``eps`` of each other are
    merged, and the vertex of every polygon corner (``valid`` ``[regions, slots]``; -1 past a
    polygon's count)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    pairs = cKDTree(points).query_pairs(eps, output_type="ndarray").reshape(-1, 2)
    n = len(points)
    _, label = connected_components(coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)), directed=False)
    vertices = np.zeros((label.max() + 1, 2))
    vertices[label] = points
    ids = np.full(valid.shape, -1)
    ids[valid] = label
    return vertices, ids


def _segment_chain(vertices: np.ndarray, vtree, a: int, b: int, eps: float, on_edge: float) -> list[int]:
    """The segment a-b as the vertices on it in order (a neighbour's vertices split it)."""
    pa, pb = vertices[a], vertices[b]
    length = np.linalg.norm(pb - pa)
    inner = []
    for v in vtree.query_ball_point((pa + pb) / 2, length / 2 + eps):
        if v == a or v == b:
            continue
        t = np.dot(vertices[v] - pa, pb - pa) / length**2
        if 0 < t < 1 and np.linalg.norm(pa + t * (pb - pa) - vertices[v]) <= on_edge:
            inner.append((t, v))
    return [a] + [v for _, v in sorted(inner)] + [b]


def _faces_and_edges(counts: np.ndarray, ids: np.ndarray, chain) -> tuple[dict, list, list, list, list]:
    """Walk every region's ring of vertices, each side split by ``chain`` (a, b) into edges:
    the edges' index by their ends, each edge's faces, and per face its edges, its ring of
    vertices and its region (a sliver that collapsed onto an edge is no face)."""
    edge_index: dict[tuple[int, int], int] = {}
    edge_faces: list[list[int]] = []
    face_edges, face_rings = [], []
    face_region = []
    for f in range(len(counts)):
        ring = ids[f, : counts[f]].tolist()
        if len(set(ring)) < 3:
            # a sliver thinner than the merge distance collapses onto an edge of its neighbours
            continue
        face = len(face_edges)
        face_region.append(f)
        around, corners = [], []
        for a, b in zip(ring, ring[1:] + ring[:1]):
            if a == b:
                continue
            path = chain(a, b)
            corners += path[:-1]
            for u, w in zip(path[:-1], path[1:]):
                key = (min(u, w), max(u, w))
                if key not in edge_index:
                    edge_index[key] = len(edge_faces)
                    edge_faces.append([])
                edge_faces[edge_index[key]].append(face)
                around.append(edge_index[key])
        face_edges.append(np.asarray(around, dtype=np.int64))
        face_rings.append(np.asarray(corners, dtype=np.int64))
    return edge_index, edge_faces, face_edges, face_rings, face_region


def _check_tiling(edges: np.ndarray, faces_of_edges: np.ndarray, vertices: np.ndarray, points: np.ndarray, eps: float) -> None:
    """Raise unless every edge with one face lies on the box's boundary (the bounding box of
    ``points``, to ``eps``)."""
    outer = edges[faces_of_edges[:, 1] < 0]
    if len(outer):
        low, high = points.min(axis=0), points.max(axis=0)
        ends = vertices[outer]  # [k, 2 ends, 2]
        on_side = [(np.abs(ends[..., d] - bound) <= eps).all(axis=1) for d in (0, 1) for bound in (low[d], high[d])]
        if not np.any(on_side, axis=0).all():
            raise ValueError("an edge inside the box has one region: a neighbour's vertex on it was missed (tolerance?)")


def cell_complex(regions: Regions, tol: float = TOLERANCE) -> CellComplex:
    """The cell complex of a decomposition (see :class:`CellComplex`).

    Points closer than ``tol`` times the extent of the box are one vertex: below the distance
    :func:`decompose` with the same ``tol`` resolves (``tol`` times the diameter), so distinct
    corners of real tiny regions stay distinct. A vertex lies on
    an edge (a neighbour split there) when its distance to the segment is below a thousandth of
    that: such a vertex was interpolated along the same edge, so it is off by rounding only, and a
    looser test would put the vertices of a sliver thinner than the merge distance on its own
    long edges. Every edge with one face must lie on the box's boundary; one inside it means a
    neighbour's vertex was missed, and is an error rather than a wrong complex.
    """
    from scipy.spatial import cKDTree

    counts, polygons = regions.counts, regions.polygons
    valid = np.arange(polygons.shape[1])[None, :] < counts[:, None]
    points = polygons[valid]
    extent = np.ptp(points, axis=0).max() or 1.0
    eps = tol * extent
    on_edge = eps / 1000
    vertices, ids = _merged_vertices(points, valid, eps)
    vtree = cKDTree(vertices)
    edge_index, edge_faces, face_edges, face_rings, face_region = _faces_and_edges(
        counts, ids, lambda a, b: _segment_chain(vertices, vtree, a, b, eps, on_edge)
    )
    edges = np.array(list(edge_index), dtype=np.int64).reshape(-1, 2)
    if any(len(fs) > 2 for fs in edge_faces):
        raise ValueError("an edge is shared by more than two regions: the decomposition is not a tiling (tolerance?)")
    faces_of_edges = np.array([fs + [-1] * (2 - len(fs)) for fs in edge_faces], dtype=np.int64).reshape(-1, 2)
    _check_tiling(edges, faces_of_edges, vertices, points, eps)
    return CellComplex(vertices, edges, face_edges, faces_of_edges, np.asarray(face_region, dtype=np.int64), face_rings)


def tiled_complex(
    weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], box: Sequence[float], tol: float = TOLERANCE, retries: int = 2
) -> tuple[Regions, CellComplex, float]:
    """:func:`decompose` then :func:`cell_complex`, re-checked with a tighter tolerance when the
    complex is not a tiling.

    The decomposition decides "on the line" region by region, and the same vertex can fall inside
    one region's tolerance band and outside its neighbour's (a bent line has another slope and
    offset there), which leaves a neighbour's vertex unmatched. Only features at the scale of the
    band do this; a tenth of it resolves them. Each retry divides ``tol`` by 10.

    Returns ``(regions, complex, tol used)``; raises ``ValueError`` (naming each tolerance's
    reason) when no tolerance gives a complex with ``V - E + F = 1``.
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    reasons = []
    for _ in range(retries + 1):
        regions = decompose(weights, biases, box, tol)
        try:
            complex_ = cell_complex(regions, tol)
            if complex_.euler_characteristic() != 1:
                raise ValueError(f"V - E + F = {complex_.euler_characteristic()}, not 1: the decomposition is not a tiling")
            return regions, complex_, tol
        except ValueError as error:
            reasons.append(f"tol {tol:g}: {error}")
        tol /= 10
    raise ValueError("no tolerance gives a tiling (" + "; ".join(reasons) + ")")


def fiedler_vector(
    n_nodes: int, edges: np.ndarray, node_weights: np.ndarray | None = None, edge_weights: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """The Fiedler vector of a graph, optionally with node and edge weights.

    Solves the generalized symmetric problem ``L v = lambda W v`` (``L = B^T W_E B`` the graph
    Laplacian with edge weights ``W_E = diag(edge_weights)``, the identity when none are given;
    ``W = diag(node_weights)``, the identity when none are given), i.e. the eigenvectors of
    ``W^-1 L``, and returns the eigenvector of the second-smallest eigenvalue with that eigenvalue.
    Its sign is arbitrary; :func:`fiedler_partition` splits by it.

    Returns ``(vector [n], lambda_2)``.
    """
    from scipy.linalg import eigh
    from scipy.sparse import coo_matrix, diags
    from scipy.sparse.linalg import eigsh

    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if n_nodes < 2:
        raise ValueError("a Fiedler partition needs at least two nodes")
    weights = np.ones(n_nodes) if node_weights is None else np.asarray(node_weights, dtype=np.float64)
    if weights.shape != (n_nodes,) or not (weights > 0).all():
        raise ValueError("node_weights must be positive, one per node")
    strength = np.ones(len(edges)) if edge_weights is None else np.asarray(edge_weights, dtype=np.float64)
    if strength.shape != (len(edges),) or not (strength > 0).all():
        raise ValueError("edge_weights must be positive, one per edge")
    # an edge listed twice (either way round) is one edge, with its first weight
    _, first = np.unique(np.sort(edges, axis=1), axis=0, return_index=True)
    edges, strength = edges[first], strength[first]
    rows, columns = np.concatenate([edges[:, 0], edges[:, 1]]), np.concatenate([edges[:, 1], edges[:, 0]])
    adjacency = coo_matrix((np.tile(strength, 2), (rows, columns)), shape=(n_nodes, n_nodes)).tocsr()
    laplacian = diags(np.asarray(adjacency.sum(axis=1)).ravel()) - adjacency
    if n_nodes <= DENSE_FIEDLER_NODES:
        values, vectors = eigh(laplacian.toarray(), np.diag(weights), subset_by_index=[0, 1])
    else:
        # Shift-invert just below 0: the two eigenvalues nearest the shift are the smallest, 0
        # and lambda_2, and L - shift W is sparse, positive definite and factorizes fast for a
        # planar graph (a dense solve is O(n^3): ~1 s per partition at 2,000 regions)
        shift = -1e-6 * laplacian.diagonal().mean() / weights.mean()
        start = np.linspace(1.0, 2.0, n_nodes)  # a fixed start vector: the same partition every run
        values, vectors = eigsh(laplacian.tocsc(), k=2, M=diags(weights).tocsc(), sigma=shift, which="LM", v0=start)
        order = np.argsort(values)
        values, vectors = values[order], vectors[:, order]
    return vectors[:, 1], float(values[1])


def fiedler_partition(
    n_nodes: int, edges: np.ndarray, node_weights: np.ndarray | None = None, edge_weights: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """The Fiedler partition of a graph, optionally with node and edge weights: the nodes split
    by the sign of :func:`fiedler_vector`. For a dual graph of activation regions with ``W =
    diag(1 + training points in the region)`` this is the weighted partition of the paper as a
    secondary review states it (:data:`WEIGHTINGS` lists the readings the study compares).

    Returns ``(side [n] bool, lambda_2)``. The sign of an eigenvector is arbitrary: compare a
    partition with another taking the better of the two flips (:func:`partition_agreement`).
    """
    vector, value = fiedler_vector(n_nodes, edges, node_weights, edge_weights)
    return vector > 0, value


# The readings of "weighted" (the paper's summary gives no formula), as (node weights, edge
# weights) of the dual graph from the training points each region holds (``points`` [F]) and the
# dual graph's edges ``[m, 2]``:
# - unweighted: W_V = W_E = I;
# - one_plus_points: W_V = diag(1 + points), W_E = I (a secondary review's statement);
# - points_epsilon: W_V = diag(points + epsilon), W_E = I: the normalized cut of the occupied
#   regions (an empty region has almost no mass: its value is the harmonic interpolation of its
#   neighbours');
# - edge_points: W_V = I, W_E = diag(1 + points of both regions the edge joins): cutting between
#   occupied regions costs more.
WEIGHTINGS = ("unweighted", "one_plus_points", "points_epsilon", "edge_points")


def weighting(name: str, points: np.ndarray, edges: np.ndarray, epsilon: float) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(node_weights, edge_weights)`` of the reading ``name`` of :data:`WEIGHTINGS` (None: the
    identity)."""
    points = np.asarray(points, dtype=np.float64)
    if name == "unweighted":
        return None, None
    if name == "one_plus_points":
        return 1.0 + points, None
    if name == "points_epsilon":
        if not epsilon > 0:
            raise ValueError(f"points_epsilon needs epsilon > 0, got {epsilon}")
        return points + epsilon, None
    if name == "edge_points":
        edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        return None, 1.0 + points[edges[:, 0]] + points[edges[:, 1]]
    raise ValueError(f"unknown weighting {name!r}; one of {WEIGHTINGS}")


def partition_agreement(side: np.ndarray, reference: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The (weighted) fraction of nodes on which two 2-way partitions agree, taking the better of
    the two labellings of ``side``."""
    side, reference = np.asarray(side, dtype=bool), np.asarray(reference, dtype=bool)
    weights = np.ones(len(side)) if weights is None else np.asarray(weights, dtype=np.float64)
    agree = float(np.sum(weights * (side == reference)) / np.sum(weights))
    return max(agree, 1.0 - agree)


def balanced_agreement(side: np.ndarray, reference: np.ndarray) -> float:
    """The mean over the two classes of ``reference`` of the fraction of its nodes on the side
    matched to it, taking the better of the two labellings of ``side``: 0.5 for a partition that
    ignores ``reference`` however unequal its classes (NaN when one class is empty)."""
    side, reference = np.asarray(side, dtype=bool), np.asarray(reference, dtype=bool)
    if reference.all() or not reference.any():
        return float("nan")
    value = 0.5 * (np.mean(side[reference]) + np.mean(~side[~reference]))
    return float(max(value, 1.0 - value))


def best_threshold_agreement(values: np.ndarray, reference: np.ndarray, balanced: bool = False) -> float:
    """The ceiling of any split of ``values`` by a threshold: the largest agreement (plain, or
    :func:`balanced_agreement`) with ``reference`` of ``values > t`` over every threshold ``t``
    and both labellings. Nodes of equal value stay on one side."""
    values, reference = np.asarray(values, dtype=np.float64), np.asarray(reference, dtype=bool)
    n = len(values)
    if n == 0 or (balanced and (reference.all() or not reference.any())):
        return float("nan")
    order = np.argsort(values, kind="stable")
    v, r = values[order], reference[order]
    below_pos = np.concatenate([[0], np.cumsum(r)])  # reference-True nodes among the first k
    below_neg = np.arange(n + 1) - below_pos
    total_pos, total_neg = below_pos[-1], n - below_pos[-1]
    cut = np.concatenate([[True], v[1:] > v[:-1], [True]])  # a threshold between two distinct values
    if balanced:
        score = 0.5 * ((total_pos - below_pos) / total_pos + below_neg / total_neg)
    else:
        score = ((total_pos - below_pos) + below_neg) / n
    score = score[cut]
    return float(np.max(np.maximum(score, 1.0 - score)))


def random_filtration_betti(complex_: CellComplex, seed: int, fan: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Betti numbers ``[cells, 2]`` (beta0, beta1) after each cell of a random filtration: the
    vertices in a random order, then the edges, then the faces (a cell enters at its position in
    that order, which is its filtration value 1..cells). Faces are fanned into triangles that
    enter together (``fan``: :meth:`CellComplex.fan_triangles`, computed here when not given),
    which leaves the homology of each stage unchanged; gudhi computes it."""
    import gudhi

    rng = np.random.default_rng(seed)
    n_v, n_e, n_f = len(complex_.vertices), len(complex_.edges), len(complex_.face_edges)
    triangles, owner = complex_.fan_triangles() if fan is None else fan
    value_v = 1.0 + rng.permutation(n_v)
    value_e = 1.0 + n_v + rng.permutation(n_e)
    value_f = 1.0 + n_v + n_e + rng.permutation(n_f)
    tree = gudhi.SimplexTree()
    tree.insert_batch(np.arange(n_v)[None, :], value_v)
    tree.insert_batch(complex_.edges.T, value_e)
    tree.insert_batch(triangles.T, value_f[owner])  # a fan's diagonals enter with their face
    tree.make_filtration_non_decreasing()
    tree.persistence(homology_coeff_field=2, persistence_dim_max=True)
    total = n_v + n_e + n_f
    change = np.zeros((total + 1, 2), dtype=np.int64)
    for dim in (0, 1):
        intervals = tree.persistence_intervals_in_dimension(dim).reshape(-1, 2)
        start = np.round(intervals[:, 0]).astype(np.int64) - 1
        death = np.where(np.isinf(intervals[:, 1]), total + 1, intervals[:, 1])  # never: past the end
        stop = np.round(death).astype(np.int64) - 1
        np.add.at(change[:, dim], start, 1)
        np.add.at(change[:, dim], stop, -1)
    return np.cumsum(change, axis=0)[:total]


def region_decisions(regions: Regions) -> np.ndarray:
    """``[R]`` the class each region's affine map gives its representative point (the mean of
    its own vertices, :meth:`Regions.representatives`): the argmax of the logits, or ``logit > 0``
    with one output. A decision boundary can cross a region; that point stands for it."""
    centroid = regions.representatives()
    logits = np.einsum("rok,rk->ro", regions.A, centroid) + regions.c
    return (logits[:, 0] > 0).astype(np.int64) if logits.shape[1] == 1 else logits.argmax(axis=1)


def decision_boundary(regions: Regions) -> np.ndarray:
    """``[k, 2, 2]`` the network's decision boundary as exact segments, one per region it crosses:
    where the region's logit margin (``logit`` with one output, ``logit1 - logit0`` with two) is
    0. The margin is affine on a region, so its zero set there is the chord of the convex polygon
    between the two edges whose ends have opposite signs."""
    if regions.A.shape[1] not in (1, 2):
        raise ValueError(f"a decision boundary needs one or two outputs, got {regions.A.shape[1]}")
    a = regions.A[:, 0] if regions.A.shape[1] == 1 else regions.A[:, 1] - regions.A[:, 0]
    c = regions.c[:, 0] if regions.c.shape[1] == 1 else regions.c[:, 1] - regions.c[:, 0]
    V = regions.polygons.shape[1]
    index = np.arange(V)[None, :]
    valid = index < regions.counts[:, None]
    following = (index + 1) % np.maximum(regions.counts[:, None], 1)
    start = regions.polygons
    end = np.take_along_axis(start, following[..., None], axis=1)
    value = np.einsum("rk,rvk->rv", a, start) + c[:, None]
    next_value = np.take_along_axis(value, following, axis=1)
    # an edge is crossed where its start is strictly on one side and its end on the other or on
    # the line: each crossing point is counted once, also when the line passes through a vertex
    crossed = valid & (((value < 0) & (next_value >= 0)) | ((value > 0) & (next_value <= 0)))
    hits = crossed.sum(axis=1)
    rows = np.flatnonzero(hits == 2)
    if len(rows) == 0:
        return np.zeros((0, 2, 2))
    t = value / np.where(crossed, value - next_value, 1.0)
    points = start + t[..., None] * (end - start)
    first = np.argmax(crossed[rows], axis=1)
    second = V - 1 - np.argmax(crossed[rows][:, ::-1], axis=1)
    return np.stack([points[rows, first], points[rows, second]], axis=1)


def region_points(regions: Regions, points: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[R]`` how many of ``points`` each region holds, and the majority label of those (-1 for
    an empty region; ties go to the smaller label)."""
    where = locate(regions, points)
    labels = np.asarray(labels, dtype=np.int64)
    inside = where >= 0
    classes = int(labels.max()) + 1 if len(labels) else 1
    table = np.zeros((len(regions), classes), dtype=np.int64)
    np.add.at(table, (where[inside], labels[inside]), 1)
    counts = table.sum(axis=1)
    return counts, np.where(counts > 0, table.argmax(axis=1), -1)


def betti_summary(complex_: CellComplex, orders: int, seed: int) -> dict:
    """Betti curves averaged over ``orders`` random filtrations (:func:`random_filtration_betti`),
    with the filtration value at which each of beta0 and beta1 is largest, as a fraction of the
    cells, and the cell counts."""
    fan = complex_.fan_triangles()
    curves = np.mean([random_filtration_betti(complex_, seed + k, fan) for k in range(orders)], axis=0)
    cells = len(curves)
    return {
        "betti": curves,
        "peak_beta0": float(curves[:, 0].max()), "peak_beta1": float(curves[:, 1].max()),
        "peak_at_beta0": float((curves[:, 0].argmax() + 1) / cells), "peak_at_beta1": float((curves[:, 1].argmax() + 1) / cells),
        "vertices": len(complex_.vertices), "edges": len(complex_.edges), "faces": len(complex_.face_edges), "cells": cells,
    }


# ------------------------------------------------------------------ one network, measured
def oriented(side: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``side`` or its complement, whichever agrees with ``reference`` on more nodes (an
    eigenvector's sign is arbitrary; this fixes the colours of a drawing)."""
    return side if np.mean(side == reference) >= 0.5 else ~side


def check_measure_settings(
    points: np.ndarray | None, labels: np.ndarray | None, betti_orders: int, filtration: np.ndarray, weighting_epsilon: float
) -> None:
    """Raise ``ValueError`` naming the first setting of :func:`network_measures` that it cannot
    use. A caller that maps it over many networks calls this once before the work, so that a bad
    setting is not mistaken for a network without a decomposition."""
    if isinstance(betti_orders, bool) or not isinstance(betti_orders, (int, np.integer)) or betti_orders < 1:
        raise ValueError(f"betti_orders must be an integer >= 1, got {betti_orders!r}")
    filtration = np.asarray(filtration)
    if filtration.ndim != 1 or not len(filtration) or not np.all((filtration >= 0) & (filtration <= 1)):
        raise ValueError("filtration must be a non-empty 1-D array of fractions in [0, 1]")
    if (points is None) != (labels is None):
        raise ValueError("give points and labels together (classification) or neither")
    if points is not None:
        if np.ndim(points) != 2 or np.shape(points)[1] != 2:
            raise ValueError(f"points must be [n, 2], got shape {np.shape(points)}")
        if np.shape(labels) != (len(points),):
            raise ValueError(f"one label per point: labels of shape {np.shape(labels)} for {len(points)} points")
    if not (np.isfinite(weighting_epsilon) and weighting_epsilon > 0):
        raise ValueError(f"weighting_epsilon must be a finite number > 0, got {weighting_epsilon!r}")


def _complex_measures(
    regions: Regions, complex_: CellComplex, dual: np.ndarray, betti_orders: int, filtration: np.ndarray, seed: int
) -> dict:
    """The counts, the dual graph's mean degree and the Betti curves and peaks of a decomposition."""
    faces = complex_.face_region
    summary = betti_summary(complex_, betti_orders, seed)
    curve = summary["betti"]
    cells = len(curve)
    position = np.clip(np.round(filtration * cells).astype(int) - 1, 0, cells - 1)
    value_beta0, value_beta1 = (int(v) + 1 for v in curve.argmax(axis=0))  # filtration values 1 .. cells
    return {
        "regions": len(regions), "vertices": summary["vertices"], "edges": summary["edges"], "faces": summary["faces"],
        "cells": cells, "mean_degree": 2 * len(dual) / len(faces),
        "peak_beta0": summary["peak_beta0"], "peak_beta1": summary["peak_beta1"],
        "peak_value_beta0": value_beta0, "peak_value_beta1": value_beta1,
        "peak_value": value_beta0 if summary["peak_beta0"] >= summary["peak_beta1"] else value_beta1,
        "betti_curve": curve[position],
    }


def _partition_measures(
    regions: Regions, complex_: CellComplex, dual: np.ndarray, points: np.ndarray, labels: np.ndarray, weighting_epsilon: float
) -> dict:
    """Every reading of "weighted"'s Fiedler partition of the dual graph against the decision and
    the labels, the decision's majority fraction, and the faces' drawing (:func:`network_measures`)."""
    faces = complex_.face_region
    where = locate(regions, points)
    counts = np.bincount(where[where >= 0], minlength=len(regions))
    face_of_region = np.full(len(regions), -1)
    face_of_region[faces] = np.arange(len(faces))
    point_face = face_of_region[where]
    held = point_face >= 0  # a point in a sliver region (no face) is left out
    decision = region_decisions(regions)[faces].astype(bool)
    node_points = counts[faces]
    point_faces, point_labels = point_face[held], labels[held].astype(bool)
    result = {"decision_majority": float(max(decision.mean(), 1.0 - decision.mean()))}
    for name in WEIGHTINGS:
        node_weights, edge_weights = weighting(name, node_points, dual, weighting_epsilon)
        vector, value = fiedler_vector(len(faces), dual, node_weights, edge_weights)
        side = oriented(vector > 0, decision)
        result[f"face_side_{name}"] = side
        result[f"lambda2_{name}"] = value
        result[f"agreement_decision_{name}"] = partition_agreement(side, decision)
        result[f"balanced_decision_{name}"] = balanced_agreement(side, decision)
        result[f"agreement_labels_{name}"] = partition_agreement(side[point_faces], point_labels)
        result[f"ceiling_decision_{name}"] = best_threshold_agreement(vector, decision, balanced=True)
        result[f"ceiling_labels_{name}"] = best_threshold_agreement(vector[point_faces], point_labels)
    valid = np.arange(regions.polygons.shape[1])[None, :] < regions.counts[faces, None]
    result.update({
        "face_counts": regions.counts[faces], "face_vertices": regions.polygons[faces][valid],
        "face_decision": decision, "face_points": node_points, "boundary": decision_boundary(regions),
    })
    return result


def network_measures(
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    box: Sequence[float],
    *,
    points: np.ndarray | None,
    labels: np.ndarray | None,
    betti_orders: int,
    filtration: np.ndarray,
    seed: int,
    weighting_epsilon: float,
) -> dict:
    """Everything measured on one network's decomposition over ``box``.

    Parameters
    ----------
    weights, biases : sequences of arrays
        The network, as :func:`decompose` takes it.
    box : (xmin, xmax, ymin, ymax)
    points, labels : arrays ``[n, 2]`` and ``[n]``, or None
        Classification: the training points and their (two) classes; None for regression.
    betti_orders : int
        Random filtrations whose Betti curves are averaged (:func:`betti_summary`, seeded from
        ``seed``).
    filtration : array
        The fractions of the cells, in [0, 1], at which the averaged Betti curve is sampled.
    seed : int
    weighting_epsilon : float
        The mass of an empty region in the ``points_epsilon`` reading (:func:`weighting`), > 0.

    Returns
    -------
    dict
        Always: region and cell counts, the dual graph's mean degree, the Betti curve at
        ``filtration``, the peak Betti numbers and the filtration values (1 .. cells) at which
        beta0, beta1 and the larger of the two peak. With ``labels``: for each reading of
        "weighted" (:data:`WEIGHTINGS`) the Fiedler vector of the dual graph (one
        eigen-decomposition) and of it: the sign split's agreement with the decision (fraction of
        faces; plain and balanced over the two decision classes) and with the labels (fraction of
        training points, each scored by its face's side), each taking the better sign; the
        ceilings, the best threshold's agreement on the same vector (balanced with the decision,
        plain with the labels); lambda_2. Also the decision's majority fraction of faces (the
        plain agreement's chance level), and per face the drawing: polygon, sides (oriented to
        the decision), decision, points held, and the decision boundary.

    Raises
    ------
    ValueError
        A setting it cannot use (:func:`check_measure_settings`), or a decomposition that is no
        tiling (:func:`tiled_complex`).
    """
    check_measure_settings(points, labels, betti_orders, filtration, weighting_epsilon)
    regions, complex_, _ = tiled_complex(weights, biases, box)
    dual = complex_.dual_graph()
    result = _complex_measures(regions, complex_, dual, betti_orders, filtration, seed)
    if labels is None:
        return result
    result.update(_partition_measures(regions, complex_, dual, points, labels, weighting_epsilon))
    return result
