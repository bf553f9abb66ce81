"""Diffusion geometry of point clouds and of sets of networks.

Pure functions on numpy arrays (and, for :func:`gram_frobenius_distances`, dask
arrays) implementing the quantities of "Exploring the Manifold of Neural Networks
Using Diffusion Geometry":

- the Gaussian diffusion operator ``P = Q^-1 W`` and the kNN adjacency of a
  representation (section 4.1, appendix B);
- the Diffusion Spectral Entropy (DSE, section 4.2) and the Diffusion Spectral
  Mutual Information (DSMI, appendix D);
- pairwise Frobenius distances between the per-network matrices (the network
  distance fed to PHATE), in a blockwise Gram form and a plain reference form;
- graph-signal smoothness on an adaptive Gaussian affinity between networks;
- the Table 1 metric: normalized average pairwise distance of the top-N networks.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist, squareform

# Eigenvalue magnitudes below this count as exactly zero in the DSE (numerical noise
# of the eigensolver sits around 1e-15 .. 1e-13 for matrices of a few hundred rows).
EIGENVALUE_FLOOR = 1e-12


def _points(x, name: str = "x") -> np.ndarray:
    """Validate a finite 2-D point cloud ``[n, d]`` and return it as float64."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array [n, d], got shape {x.shape}")
    if x.shape[0] < 1:
        raise ValueError(f"{name} must contain at least one point")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite")
    return x


def _square(a, name: str, symmetric: bool = True) -> np.ndarray:
    """Validate a finite square (optionally symmetric) matrix and return it as float64."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{name} must be a square 2-D array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    if symmetric and not np.allclose(a, a.T, rtol=1e-10, atol=1e-12):
        raise ValueError(f"{name} must be symmetric")
    return a


def pairwise_distances(x: np.ndarray) -> np.ndarray:
    """Euclidean distance matrix of a point cloud.

    Parameters
    ----------
    x : np.ndarray
        Points, shape ``[n, d]``.

    Returns
    -------
    np.ndarray
        ``[n, n]`` float64 distances, symmetric with an exact zero diagonal.
    """
    x = _points(x)
    if x.shape[0] == 1:
        return np.zeros((1, 1))
    # squareform of the condensed form gives exact symmetry and a zero diagonal.
    return squareform(pdist(x, metric="euclidean"))


BANDWIDTHS = ("absolute", "median")


def kernel_bandwidth(x: np.ndarray, sigma: float = 0.5, scale: str = "absolute") -> float:
    """The Gaussian kernel's bandwidth for the points ``x``.

    ``absolute`` returns ``sigma`` (Abel et al.: sigma = 0.5 whatever the activations' scale).
    ``median`` returns ``sigma`` times the median distance between distinct points of ``x``, so
    that the operator does not depend on the representation's scale: with an absolute sigma,
    points more than a few sigma apart give ``P`` close to the identity, whatever their geometry.
    Collapsed points (all distances zero) keep ``sigma``; every bandwidth then gives the same
    uniform ``P``.

    Parameters
    ----------
    x : np.ndarray
        Points, shape ``[n, d]``.
    sigma : float
        Bandwidth (absolute) or its multiple of the median distance (median), > 0.
    scale : {"absolute", "median"}
    """
    if scale not in BANDWIDTHS:
        raise ValueError(f"bandwidth scale must be one of {BANDWIDTHS}, got {scale!r}")
    sigma = float(sigma)
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"sigma must be a positive finite number, got {sigma}")
    if scale == "absolute":
        return sigma
    distances = pdist(_points(x))
    distances = distances[distances > 0]
    return sigma * float(np.median(distances)) if distances.size else sigma


def diffusion_operator(x: np.ndarray, sigma: float = 0.5) -> np.ndarray:
    """Row-stochastic diffusion operator ``P = Q^-1 W`` of a Gaussian kernel.

    ``W_ij = exp(-d_ij^2 / (2 sigma^2))`` on Euclidean distances and ``Q`` is the
    diagonal of the row sums of ``W``.

    Parameters
    ----------
    x : np.ndarray
        Points, shape ``[n, d]``.
    sigma : float
        Kernel bandwidth, > 0.

    Returns
    -------
    np.ndarray
        ``[n, n]`` float64, nonnegative, rows summing to one.

    Notes
    -----
    No shifting of the exponent is needed (or allowed, it would change ``W``):
    the diagonal is ``exp(0) = 1``, so every row sum is at least 1 and the
    normalization never divides by zero, even when off-diagonal entries underflow.
    """
    sigma = float(sigma)
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"sigma must be a positive finite number, got {sigma}")
    d = pairwise_distances(x)
    w = np.exp(-(d**2) / (2.0 * sigma**2))
    return w / w.sum(axis=1, keepdims=True)


def knn_adjacency(x: np.ndarray, k: int = 5) -> np.ndarray:
    """Symmetric 0/1 k-nearest-neighbour adjacency.

    ``A_ij = 1`` when ``j`` is among the ``k`` nearest other points of ``i`` or
    vice versa. A point is never its own neighbour; distance ties are broken by
    the lower index.

    Parameters
    ----------
    x : np.ndarray
        Points, shape ``[n, d]``.
    k : int
        Neighbours per point, ``1 <= k <= n - 1``.

    Returns
    -------
    np.ndarray
        ``[n, n]`` float64 with entries in {0, 1}, symmetric, zero diagonal.
    """
    x = _points(x)
    n = x.shape[0]
    if int(k) != k or not 1 <= k <= n - 1:
        raise ValueError(f"k must be an integer in [1, {n - 1}], got {k}")
    k = int(k)
    d = pairwise_distances(x)
    # Exclude self-matches so that duplicates of a point still count as neighbours.
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1, kind="stable")[:, :k]
    a = np.zeros((n, n))
    a[np.repeat(np.arange(n), k), nearest.ravel()] = 1.0
    return np.maximum(a, a.T)


def diffusion_spectral_entropy(p: np.ndarray, t: float = 1.0) -> float:
    """Diffusion Spectral Entropy ``S_D(P, t)`` (section 4.2).

    ``S_D(P, t) = -sum_i a_i log a_i`` with ``a_i = |lambda_i|^t / sum_j |lambda_j|^t``
    and ``lambda`` the eigenvalues of ``P``.

    Parameters
    ----------
    p : np.ndarray
        Square diffusion operator ``[n, n]`` (e.g. from :func:`diffusion_operator`).
    t : float
        Diffusion time, >= 0.

    Returns
    -------
    float
        Entropy in nats, in ``[0, log n]``.

    Notes
    -----
    Magnitudes below ``EIGENVALUE_FLOOR`` are treated as exactly 0, with
    ``0^0 := 0``. Hence at ``t = 0`` every nonzero eigenvalue gets the same weight
    and the DSE is ``log(rank)``, i.e. ``log(n)`` for a full-rank operator: it only
    counts nonzero eigenvalues and says nothing about their spread, which is why
    the paper's ``t = 0`` setting is essentially uninformative. As ``t`` grows only
    eigenvalues of magnitude ~1 survive, so for ``k`` well-separated clusters the
    DSE tends to ``log k``.

    Eigenvalues come from a general (non-symmetric) solver; ``P = Q^-1 W`` of a
    symmetric kernel is similar to a symmetric matrix, so they are real up to
    rounding, and only their magnitudes are used.
    """
    p = _square(p, "p", symmetric=False)
    t = float(t)
    if not np.isfinite(t) or t < 0:
        raise ValueError(f"t must be a finite number >= 0, got {t}")
    mags = np.abs(np.linalg.eigvals(p))
    mags = mags[mags >= EIGENVALUE_FLOOR]
    if mags.size == 0:
        raise ValueError("p has no eigenvalue of magnitude >= EIGENVALUE_FLOOR")
    # Work in log space so that large t cannot underflow every weight to zero.
    logw = t * np.log(mags)
    logw -= logw.max()
    w = np.exp(logw)
    a = w / w.sum()
    a = a[a > 0]
    return float(max(0.0, -np.sum(a * np.log(a))))


def diffusion_spectral_mutual_information(
    x: np.ndarray, labels: np.ndarray, sigma: float = 0.5, t: float = 1.0
) -> float:
    """Diffusion Spectral Mutual Information ``I_D(X; Y)`` (appendix D).

    ``I_D = S_D(P_X, t) - sum_c p(c) S_D(P_{X|c}, t)`` with ``P_{X|c}`` the
    diffusion operator of the points of class ``c`` and ``p(c)`` its frequency.

    Parameters
    ----------
    x : np.ndarray
        Points, shape ``[n, d]``.
    labels : np.ndarray
        Class label of each point, shape ``[n]``.
    sigma : float
        Kernel bandwidth of every diffusion operator, > 0.
    t : float
        Diffusion time, >= 0.

    Returns
    -------
    float
        DSMI in nats (can be slightly negative: it is a difference of spectral
        entropies, not a Shannon mutual information).
    """
    x = _points(x)
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != x.shape[0]:
        raise ValueError(f"labels must have shape ({x.shape[0]},), got {labels.shape}")
    total = diffusion_spectral_entropy(diffusion_operator(x, sigma), t)
    classes, counts = np.unique(labels, return_counts=True)
    conditional = 0.0
    for c, count in zip(classes, counts):
        subset = x[labels == c]
        conditional += count / x.shape[0] * diffusion_spectral_entropy(diffusion_operator(subset, sigma), t)
    return float(total - conditional)


def _gram_to_distances(gram: np.ndarray) -> np.ndarray:
    """Distances from a centred Gram matrix: ``|a|^2 + |b|^2 - 2<a, b>``, clamped at 0."""
    sq = np.diag(gram)
    d2 = sq[:, None] + sq[None, :] - 2.0 * gram
    # Rounding can leave tiny negatives; a squared distance is never below 0.
    d = np.sqrt(np.maximum(d2, 0.0))
    d = 0.5 * (d + d.T)
    np.fill_diagonal(d, 0.0)
    return d


def feature_chunk(m: int, f: int, target_bytes: int = 2**26) -> int:
    """Features per chunk so that one chunk of all ``m`` items in float64 holds about ``target_bytes``.

    The Gram form reads the data one feature slab of every item at a time, so this bounds the
    memory of :func:`gram_frobenius_distances` (and sets how distance inputs are chunked on disk).
    """
    return int(np.clip(target_bytes // (8 * max(int(m), 1)), 1, max(int(f), 1)))


_GRAM_PIECE = 8192  # features centred at a time: a few MB per piece, so the copy stays in cache


def _centred_gram(slab: np.ndarray) -> np.ndarray:
    # Centring each feature on its mean over the items leaves distances unchanged and makes the
    # Gram form subtract numbers of the size of the differences, not of the matrices. Piece by
    # piece: a centred copy of a whole slab cost 3x the matmul itself (measured, 1.6 GB).
    slab = np.asarray(slab)
    gram = np.zeros((slab.shape[0], slab.shape[0]))
    for start in range(0, slab.shape[1], _GRAM_PIECE):
        piece = np.asarray(slab[:, start : start + _GRAM_PIECE], dtype=np.float64)
        piece = piece - piece.mean(axis=0)
        gram += piece @ piece.T
    return gram


def gram_frobenius_distances(vectors) -> np.ndarray:
    """Pairwise Frobenius distances between ``m`` flattened matrices via a Gram matrix.

    Parameters
    ----------
    vectors : np.ndarray or dask.array.Array
        Shape ``[m, f]``: one flattened matrix per row (more trailing axes are
        flattened). A dask array is read one feature slab at a time, as it is chunked
        along ``f`` (see :func:`feature_chunk`).

    Returns
    -------
    np.ndarray
        ``[m, m]`` float64 distances, symmetric, exact zero diagonal.

    Notes
    -----
    ``|a - b|^2 = |a|^2 + |b|^2 - 2<a, b>`` with ``G = X X^T`` summed over feature slabs:
    ``G = sum_s X_s X_s^T``. Each slab holds every item, so it is centred exactly on its own
    per-feature mean, in one pass over the data: memory is about two float64 slabs of all items
    (the slab and its centred copy; the input's chunk along ``f`` times ``m``) per worker thread,
    plus ``[m, m]`` partial sums, whatever ``f``.
    """
    try:
        import dask.array as da
    except ImportError:  # pragma: no cover - dask is a dependency of the pipeline
        da = None
    if da is not None and isinstance(vectors, da.Array):
        x = vectors
        if x.ndim < 2 or x.shape[0] < 1:
            raise ValueError(f"vectors must have shape [m, f] with m >= 1, got {x.shape}")
        if x.ndim > 2:
            x = x.reshape((x.shape[0], -1))
        m = x.shape[0]
        # all items in one chunk along axis 0; the feature chunks stay as stored
        x = x.rechunk({0: -1})
        import dask

        parts = [
            da.from_delayed(dask.delayed(_centred_gram)(block), shape=(m, m), dtype=np.float64)
            for block in x.to_delayed().ravel()
        ]
        gram = np.asarray(da.stack(parts).sum(axis=0).compute(), dtype=np.float64)
    else:
        x = np.asarray(vectors, dtype=np.float64)
        if x.ndim < 2 or x.shape[0] < 1:
            raise ValueError(f"vectors must have shape [m, f] with m >= 1, got {x.shape}")
        gram = _centred_gram(x.reshape(x.shape[0], -1))
    # a non-finite input makes its feature's mean, hence the Gram matrix, non-finite
    if not np.all(np.isfinite(gram)):
        raise ValueError("vectors must be finite")
    return _gram_to_distances(gram)


def direct_frobenius_distances(matrices: np.ndarray) -> np.ndarray:
    """Reference pairwise Frobenius distances, one difference per pair.

    Parameters
    ----------
    matrices : np.ndarray
        Shape ``[m, ...]``: one matrix (or flattened matrix) per item.

    Returns
    -------
    np.ndarray
        ``[m, m]`` float64 distances ``||M_i - M_j||_F``, symmetric, zero diagonal.
    """
    matrices = np.asarray(matrices, dtype=np.float64)
    if matrices.ndim < 2 or matrices.shape[0] < 1:
        raise ValueError(f"matrices must have shape [m, ...] with m >= 1, got {matrices.shape}")
    m = matrices.shape[0]
    d = np.zeros((m, m))
    for i in range(m):
        for j in range(i + 1, m):
            d[i, j] = d[j, i] = np.linalg.norm(matrices[i] - matrices[j])
    return d


def laplacian_smoothness(affinity: np.ndarray, signal: np.ndarray, normalize: bool = True) -> float:
    """Graph Fourier smoothness ``s^T L s`` of a signal, with ``L = D - W``.

    Parameters
    ----------
    affinity : np.ndarray
        Symmetric nonnegative affinity ``W``, shape ``[n, n]``; self-loops cancel in ``L``.
    signal : np.ndarray
        One value per node, shape ``[n]``.
    normalize : bool
        Z-score the signal first (mean 0, standard deviation 1), so that signals in
        different units (accuracy, loss, entropy) can be compared on the same graph.
        A constant signal stays 0 (and is perfectly smooth).

    Returns
    -------
    float
        ``sum_{i<j} W_ij (s_i - s_j)^2 >= 0``; small means smooth (low graph frequency).
    """
    w = _square(affinity, "affinity")
    if np.any(w < 0):
        raise ValueError("affinity must be nonnegative")
    s = np.asarray(signal, dtype=np.float64)
    if s.shape != (w.shape[0],):
        raise ValueError(f"signal must have shape ({w.shape[0]},), got {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("signal must be finite")
    if normalize:
        s = s - s.mean()
        std = s.std()
        if std > 0:
            s = s / std
    # The pairwise form equals s^T (D - W) s but is a sum of nonnegative terms.
    diff = s[:, None] - s[None, :]
    return float(0.5 * np.sum(w * diff**2))


def affinity_from_distances(distances: np.ndarray, k: int = 5) -> np.ndarray:
    """Symmetric Gaussian affinity with an adaptive (k-th neighbour) bandwidth.

    ``sigma_i`` is the distance from ``i`` to its ``k``-th nearest other point and
    ``W_ij = exp(-d_ij^2 / (sigma_i sigma_j))``, with a zero diagonal.

    Parameters
    ----------
    distances : np.ndarray
        Symmetric nonnegative distance matrix ``[n, n]``.
    k : int
        Neighbour rank of the bandwidth, ``1 <= k <= n - 1``.

    Returns
    -------
    np.ndarray
        ``[n, n]`` float64 affinity in ``[0, 1]``, symmetric, zero diagonal.
    """
    d = _square(distances, "distances")
    if np.any(d < 0):
        raise ValueError("distances must be nonnegative")
    n = d.shape[0]
    if int(k) != k or not 1 <= k <= n - 1:
        raise ValueError(f"k must be an integer in [1, {n - 1}], got {k}")
    off = d.copy()
    np.fill_diagonal(off, np.inf)
    sigma = np.sort(off, axis=1)[:, int(k) - 1]
    # Duplicated points give sigma = 0; use the smallest positive distance instead
    # so the kernel stays defined (and duplicates get affinity 1).
    positive = d[d > 0]
    sigma = np.where(sigma > 0, sigma, positive.min() if positive.size else 1.0)
    with np.errstate(over="ignore", under="ignore"):
        w = np.exp(-(d**2) / np.outer(sigma, sigma))
    np.fill_diagonal(w, 0.0)
    return 0.5 * (w + w.T)


def normalized_top_distance(embedding: np.ndarray, scores: np.ndarray, top: int) -> float:
    """Normalized average pairwise distance of the ``top`` highest-scoring items (Table 1).

    Parameters
    ----------
    embedding : np.ndarray
        Embedding coordinates, shape ``[m, 2]`` (any ``[m, d]`` works).
    scores : np.ndarray
        One score per item (e.g. test accuracy), shape ``[m]``; ties are broken by
        the lower index.
    top : int
        Number of best items, ``2 <= top <= m``.

    Returns
    -------
    float
        Mean pairwise Euclidean distance among the top items divided by the mean
        among all items (pairs ``i < j`` in both). 1 is what a random subset gives
        in expectation; smaller means the best items lie closer together.
    """
    e = _points(embedding, "embedding")
    m = e.shape[0]
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (m,):
        raise ValueError(f"scores must have shape ({m},), got {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite")
    if int(top) != top or not 2 <= top <= m:
        raise ValueError(f"top must be an integer in [2, {m}], got {top}")
    overall = pdist(e).mean()
    if overall == 0:
        raise ValueError("embedding has all points identical; the normalization is undefined")
    # Stable sort of the negated scores: descending, ties by lower index.
    best = np.argsort(-scores, kind="stable")[: int(top)]
    return float(pdist(e[best]).mean() / overall)
