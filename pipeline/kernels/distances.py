"""Distances: within one point cloud, between many flattened matrices, and the Table-1 metric.

- :func:`pairwise_distances`: the Euclidean distance matrix of a point cloud;
- :func:`gram_frobenius_distances`: pairwise Frobenius distances between ``m`` flattened
  matrices in a blockwise Gram form, on NumPy or Dask arrays (bounded memory);
- :func:`direct_frobenius_distances`: the same, one difference per pair (the reference);
- :func:`gram_matrix` and :func:`cosine_distances_from_gram`: inner products of many long
  vectors streamed slab by slab, and the cosine distances they give;
- :func:`normalized_top_distance`: Abel et al.'s Table 1, the mean pairwise distance of the
  best items divided by that of all items.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist, squareform

from . import _checks


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
    x = _checks.points(x)
    if x.shape[0] == 1:
        return np.zeros((1, 1))
    # squareform of the condensed form gives exact symmetry and a zero diagonal.
    return squareform(pdist(x, metric="euclidean"))


def feature_chunk(m: int, f: int, target_bytes: int = 2**26) -> int:
    """Features per chunk so that one chunk of all ``m`` items in float64 holds about ``target_bytes``.

    The Gram form reads the data one feature slab of every item at a time, so this bounds the
    memory of :func:`gram_frobenius_distances` (and sets how distance inputs are chunked on disk).
    """
    return int(np.clip(target_bytes // (8 * max(int(m), 1)), 1, max(int(f), 1)))


_GRAM_PIECE = 8192  # features centred at a time: a few MB per piece, so the copy stays in cache


def _slab_gram(slab: np.ndarray, centre: bool) -> np.ndarray:
    # Centring each feature on its mean over the items leaves distances unchanged and makes the
    # Gram form subtract numbers of the size of the differences, not of the matrices. Piece by
    # piece: a centred copy of a whole slab cost 3x the matmul itself (measured, 1.6 GB).
    slab = np.asarray(slab)
    gram = np.zeros((slab.shape[0], slab.shape[0]))
    for start in range(0, slab.shape[1], _GRAM_PIECE):
        piece = np.asarray(slab[:, start : start + _GRAM_PIECE], dtype=np.float64)
        if centre:
            piece = piece - piece.mean(axis=0)
        gram += piece @ piece.T
    return gram


def _streamed_gram(vectors, centre: bool) -> np.ndarray:
    """``X X^T`` (of the feature-centred X when ``centre``) of ``[m, f]`` rows, slab by slab."""
    import dask
    import dask.array as da

    if isinstance(vectors, da.Array):
        x = vectors
        if x.ndim < 2 or x.shape[0] < 1:
            raise ValueError(f"vectors must have shape [m, f] with m >= 1, got {x.shape}")
        if x.ndim > 2:
            x = x.reshape((x.shape[0], -1))
        m = x.shape[0]
        # all items in one chunk along axis 0; the feature chunks stay as stored
        x = x.rechunk({0: -1})
        parts = [
            da.from_delayed(dask.delayed(_slab_gram)(block, centre), shape=(m, m), dtype=np.float64)
            for block in x.to_delayed().ravel()
        ]
        gram = np.asarray(da.stack(parts).sum(axis=0).compute(), dtype=np.float64)
    else:
        x = np.asarray(vectors, dtype=np.float64)
        if x.ndim < 2 or x.shape[0] < 1:
            raise ValueError(f"vectors must have shape [m, f] with m >= 1, got {x.shape}")
        gram = _slab_gram(x.reshape(x.shape[0], -1), centre)
    # a non-finite input makes the Gram matrix non-finite
    if not np.all(np.isfinite(gram)):
        raise ValueError("vectors must be finite")
    return gram


def _gram_to_distances(gram: np.ndarray) -> np.ndarray:
    """Distances from a centred Gram matrix: ``|a|^2 + |b|^2 - 2<a, b>``, clamped at 0."""
    sq = np.diag(gram)
    d2 = sq[:, None] + sq[None, :] - 2.0 * gram
    # Rounding can leave tiny negatives; a squared distance is never below 0.
    d = np.sqrt(np.maximum(d2, 0.0))
    d = 0.5 * (d + d.T)
    np.fill_diagonal(d, 0.0)
    return d


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
    return _gram_to_distances(_streamed_gram(vectors, centre=True))


def gram_matrix(vectors) -> np.ndarray:
    """Inner products ``G = X X^T`` of ``m`` long vectors, streamed one feature slab at a time.

    Parameters
    ----------
    vectors : np.ndarray or dask.array.Array
        ``[m, f]``. A Dask array is read one chunk along ``f`` at a time (all ``m`` rows of it),
        so memory is about one slab in float64 per worker thread plus ``[m, m]`` partial sums,
        whatever ``f``: a jump-and-retrain store of 657 WResNet28-2 samples (3.8 GB in float32)
        is read in slabs of tens of MB.

    Returns
    -------
    np.ndarray
        ``[m, m]`` float64, symmetric (up to rounding in the order of summation).
    """
    return _streamed_gram(vectors, centre=False)


def cosine_distances_from_gram(gram: np.ndarray) -> np.ndarray:
    """Cosine distances ``1 - <a, b> / (|a| |b|)`` from a Gram matrix.

    Parameters
    ----------
    gram : np.ndarray
        ``[m, m]`` symmetric Gram matrix with a positive diagonal (no zero vector).

    Returns
    -------
    np.ndarray
        ``[m, m]`` float64 in ``[0, 2]``, symmetric, exact zero diagonal.
    """
    g = _checks.square(gram, "gram", symmetric=False)
    diagonal = np.diag(g)
    if np.any(diagonal <= 0):
        raise ValueError("gram must have a positive diagonal (a zero vector has no cosine distance)")
    norms = np.sqrt(diagonal)
    d = 1.0 - g / np.outer(norms, norms)
    d = np.clip(0.5 * (d + d.T), 0.0, 2.0)
    np.fill_diagonal(d, 0.0)
    return d


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
    e = _checks.points(embedding, "embedding")
    m = e.shape[0]
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (m,):
        raise ValueError(f"scores must have shape ({m},), got {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite")
    if m < 2:
        raise ValueError("top must be an integer in [2, m]: embedding has fewer than 2 items")
    top = _checks.integer_in(top, 2, m, "top")
    overall = pdist(e).mean()
    if overall == 0:
        raise ValueError("embedding has all points identical; the normalization is undefined")
    # Stable sort of the negated scores: descending, ties by lower index.
    best = np.argsort(-scores, kind="stable")[:top]
    return float(pdist(e[best]).mean() / overall)
