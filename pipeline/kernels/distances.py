"""Distances: within one point cloud, between many flattened matrices, and the Table-1 metric.

- :func:`pairwise_distances`: the Euclidean distance matrix of a point cloud;
- :func:`gram_frobenius_distances`: pairwise Frobenius distances between ``m`` flattened
  matrices in a blockwise Gram form, on NumPy or Dask arrays (bounded memory);
- :func:`direct_frobenius_distances`: the same, one difference per pair (the reference);
- :func:`gram_matrix` and :func:`cosine_distances_from_gram`: inner products of many long
  vectors streamed slab by slab, and the cosine distances they give;
- :func:`rank_descending`: a ranking whose ties go to the lower index, on every machine;
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


# A pair whose Gram-form squared distance is below this fraction of its two (centred) squared
# norms is recomputed from direct differences: there the Gram form's rounding (about eps times
# the norms, and different on every BLAS kernel) is as large as the distance itself.
REFINE_RELATIVE = 1e-8
_REFINE_PAIRS = 4096  # pairs whose differences are formed at a time (memory: pairs x feature piece)


def _near_pairs(gram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``i < j`` (row-major order) that the Gram form cannot resolve: squared distance at or
    below ``REFINE_RELATIVE`` times ``|a|^2 + |b|^2`` (identical items among them)."""
    sq = np.diag(gram)
    d2 = sq[:, None] + sq[None, :] - 2.0 * gram
    near = np.triu(d2 <= REFINE_RELATIVE * (sq[:, None] + sq[None, :]), k=1)
    return np.nonzero(near)


def _slab_pair_sums(slab: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Sum over a slab's features of ``(a - b)^2`` for each pair: identical rows give exactly 0."""
    slab = np.asarray(slab)
    out = np.zeros(len(first))
    for start in range(0, len(first), _REFINE_PAIRS):
        i, j = first[start : start + _REFINE_PAIRS], second[start : start + _REFINE_PAIRS]
        for piece in range(0, slab.shape[1], _GRAM_PIECE):
            a = np.asarray(slab[i, piece : piece + _GRAM_PIECE], dtype=np.float64)
            b = np.asarray(slab[j, piece : piece + _GRAM_PIECE], dtype=np.float64)
            diff = a - b
            out[start : start + len(i)] += np.sum(diff * diff, axis=1)
    return out


def _direct_pair_distances(vectors, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``|a - b|`` of the given pairs from direct differences, slab by slab as the Gram form reads."""
    import dask
    import dask.array as da

    # only the items of the pairs are read (a store chunked by item reads only their chunks)
    items = np.unique(np.concatenate([first, second]))
    first, second = np.searchsorted(items, first), np.searchsorted(items, second)
    if isinstance(vectors, da.Array):
        x = vectors[items]
        x = x if x.ndim == 2 else x.reshape((x.shape[0], -1))
        x = x.rechunk({0: -1})
        parts = [dask.delayed(_slab_pair_sums)(block, first, second) for block in x.to_delayed().ravel()]
        # summed in slab order, the same order on every machine
        sums = np.sum(np.stack(dask.compute(*parts)), axis=0)
    else:
        x = np.asarray(vectors)[items]
        sums = _slab_pair_sums(x.reshape(x.shape[0], -1), first, second)
    return np.sqrt(sums)


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

    Pairs the Gram form cannot resolve (squared distance within ``REFINE_RELATIVE`` of the
    squared norms: identical or nearly identical items, such as diffusion operators that are the
    identity to rounding) are recomputed from direct differences in a second pass over the
    data: identical items are then at distance exactly 0, and nearly identical ones at their
    true distance, whatever the BLAS kernel (its Gram form leaves noise of about
    ``sqrt(eps) |a|``: 6e-8 for two identity operators of 100 points on one CPU, 0 on another).
    """
    gram = _streamed_gram(vectors, centre=True)
    d = _gram_to_distances(gram)
    first, second = _near_pairs(gram)
    if len(first):
        direct = _direct_pair_distances(vectors, first, second)
        d[first, second] = d[second, first] = direct
    return d


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


def rank_descending(scores: np.ndarray) -> np.ndarray:
    """Indices of ``scores`` from the highest to the lowest, ties by the lower index.

    The tie-break is explicit (a lexicographic sort on (-score, index)), so the ranking is the
    same on every machine whatever the sort's implementation.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be one-dimensional, got shape {scores.shape}")
    if np.any(np.isnan(scores)):
        raise ValueError("scores must not be NaN")
    return np.lexsort((np.arange(len(scores)), -scores))


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
    best = rank_descending(scores)[:top]
    return float(pdist(e[best]).mean() / overall)
