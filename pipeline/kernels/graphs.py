"""Graphs on point clouds and on sets of items: kNN adjacency, adaptive Gaussian affinity, and
the smoothness of a signal over a graph (graph Fourier analysis)."""

from __future__ import annotations

import numpy as np

from . import _checks
from .distances import pairwise_distances


def knn_adjacency(x: np.ndarray, k: int) -> np.ndarray:
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
    return knn_adjacency_of_distances(pairwise_distances(_checks.points(x)), k)


def knn_adjacency_of_distances(distances: np.ndarray, k: int) -> np.ndarray:
    """Symmetric 0/1 adjacency joining each item to its ``k`` NEAREST others (smallest distances).

    The union of every item's k nearest (a point is never its own neighbour, so duplicates of a
    point still count; ties go to the lower index). The loss-landscape paper's public code took
    the k largest entries of the PHATE potential, i.e. the least reachable points: not this.

    Parameters
    ----------
    distances : np.ndarray
        Symmetric nonnegative ``[n, n]`` distances.
    k : int
        ``1 <= k <= n - 1``.

    Returns
    -------
    np.ndarray
        ``[n, n]`` float64 in {0, 1}, symmetric, zero diagonal.
    """
    d = _checks.square(distances, "distances").copy()
    n = d.shape[0]
    k = _checks.integer_in(k, 1, n - 1, "k")
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1, kind="stable")[:, :k]
    a = np.zeros((n, n))
    a[np.repeat(np.arange(n), k), nearest.ravel()] = 1.0
    return np.maximum(a, a.T)


def edges_of(adjacency: np.ndarray) -> np.ndarray:
    """The edges ``[E, 2]`` (``i < j``, in row-major order) of a symmetric 0/1 adjacency."""
    a = _checks.square(adjacency, "adjacency")
    i, j = np.nonzero(np.triu(a, 1))
    return np.column_stack([i, j]).astype(np.int64)


def knn_edges(points: np.ndarray, k: int) -> np.ndarray:
    """The edges of the symmetric kNN graph of a point cloud (Euclidean distances).

    The loss-landscape study's graph on PHATE potential distances: each row of the potential
    joined to its ``k`` nearest rows (:func:`knn_adjacency_of_distances`: the union of the
    directed neighbourhoods, ties to the lower index), as edges.

    Parameters
    ----------
    points : np.ndarray
        Finite points ``[n, d]``, ``n >= 2``.
    k : int
        Neighbours per point, ``1 <= k <= n - 1``.

    Returns
    -------
    np.ndarray
        ``[E, 2]`` int64 edges ``i < j`` in row-major order; ``n * k / 2 <= E <= n * k``.
    """
    x = _checks.points(points, "points")
    _checks.integer_in(k, 1, len(x) - 1, "k")
    return edges_of(knn_adjacency_of_distances(pairwise_distances(x), k))


def affinity_from_distances(distances: np.ndarray, k: int) -> np.ndarray:
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
    d = _checks.square(distances, "distances")
    if np.any(d < 0):
        raise ValueError("distances must be nonnegative")
    n = d.shape[0]
    k = _checks.integer_in(k, 1, n - 1, "k")
    off = d.copy()
    np.fill_diagonal(off, np.inf)
    sigma = np.sort(off, axis=1)[:, k - 1]
    # Duplicated points give sigma = 0; use the smallest positive distance instead
    # so the kernel stays defined (and duplicates get affinity 1).
    positive = d[d > 0]
    sigma = np.where(sigma > 0, sigma, positive.min() if positive.size else 1.0)
    with np.errstate(over="ignore", under="ignore"):
        w = np.exp(-(d**2) / np.outer(sigma, sigma))
    np.fill_diagonal(w, 0.0)
    return 0.5 * (w + w.T)


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
    w = _checks.square(affinity, "affinity")
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


def log_signal(values: np.ndarray) -> np.ndarray:
    """``log10`` of a nonnegative hyperparameter, defined at 0.

    A grid that holds 0 (weight decay 0, as in the loss-landscape sweeps) is shifted by its
    smallest positive value first: ``log10(v + min positive v)``. A grid without 0 is taken as
    it is, ``log10(v)``; an all-zero one gives zeros (a constant signal).

    Parameters
    ----------
    values : np.ndarray
        Nonnegative finite values, shape ``[n]``.
    """
    v = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(v)) or np.any(v < 0):
        raise ValueError("values must be finite and nonnegative")
    if not np.any(v == 0):
        return np.log10(v)
    positive = v[v > 0]
    return np.log10(v + positive.min()) if positive.size else np.zeros_like(v)
