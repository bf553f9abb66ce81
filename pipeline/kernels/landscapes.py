"""Persistence landscapes as vectors of a Hilbert space: a grid, norms, inner products, averages,
and the permutation test between two groups of landscapes (Activation landscapes, Sec. II-C, E
and III-C).

A landscape is sampled on a regular grid of width ``w``: ``[k, g]`` values of
``lambda_1..lambda_k``. Integrals are Riemann sums (``sum * w``), so inner products of sampled
landscapes approximate the paper's ``<lambda, rho> = sum_k int lambda_k rho_k dt`` to the grid's
resolution. A sequence of landscapes (one per layer) is one vector of the product space: the
concatenation of its layers' samples.
"""

from __future__ import annotations

import numpy as np

from . import _checks


def landscape_grid(width: float, stop: float) -> np.ndarray:
    """Grid ``0, width, 2 width, ..., stop`` (the last point within half a width of ``stop``)."""
    width, stop = _checks.positive(width, "width"), _checks.positive(stop, "stop")
    return np.arange(0.0, stop + 0.5 * width, width)


def landscape_norm(landscape: np.ndarray, width: float) -> float:
    """``||lambda|| = sqrt(sum_k int lambda_k^2)``: the paper's topological complexity."""
    values = np.asarray(landscape, dtype=np.float64)
    return float(np.sqrt(np.sum(values * values) * _checks.positive(width, "width")))


def inner_products(landscapes: np.ndarray, width: float) -> np.ndarray:
    """Gram matrix ``[n, n]`` of ``n`` (sequences of) landscapes ``[n, ...]`` in the product inner product."""
    x = np.asarray(landscapes, dtype=np.float64).reshape(len(landscapes), -1)
    if not np.all(np.isfinite(x)):
        raise ValueError("landscapes must be finite")
    return (x @ x.T) * _checks.positive(width, "width")


def _draws(rng: np.random.Generator, n: int, count: int) -> np.ndarray:
    """``count`` random permutations of ``range(n)``, one per row."""
    return rng.permuted(np.tile(np.arange(n), (count, 1)), axis=1)


def _squared_distances(gram: np.ndarray, members: np.ndarray, n_a: int) -> np.ndarray:
    """``||mean(A) - mean(B)||^2`` for each 0/1 row of ``members`` (1 = in A), from the Gram."""
    n = len(gram)
    n_b = n - n_a
    ones = gram.sum(axis=1)
    total = ones.sum()
    projected = members @ gram  # [p, n]
    within_a = np.einsum("pn,pn->p", projected, members)
    cross = members @ ones - within_a
    within_b = total - 2 * (members @ ones) + within_a
    return within_a / n_a**2 + within_b / n_b**2 - 2 * cross / (n_a * n_b)


def permutation_test(gram: np.ndarray, n_a: int, permutations: int, seed: int, chunk: int = 4096) -> tuple[float, float]:
    """Permutation test of two groups on the distance between their mean landscapes.

    Parameters
    ----------
    gram : np.ndarray
        ``[n, n]`` inner products of the pooled samples (:func:`inner_products`), the first
        ``n_a`` of group A, the rest of group B.
    n_a : int
        Size of group A, ``1 <= n_a <= n - 1``.
    permutations : int
        Random relabellings.
    seed : int
        Seed of the relabellings.
    chunk : int
        Relabellings evaluated at once (memory: ``chunk x n`` floats).

    Returns
    -------
    (float, float)
        The statistic ``||mean(A) - mean(B)||`` and its p-value
        ``(1 + #{permuted statistic >= observed}) / (1 + permutations)``.

    Notes
    -----
    Vectorized through the Gram matrix: the statistic of a relabelling with indicator ``z`` is
    ``z'Gz / n_a^2 + (1-z)'G(1-z) / n_b^2 - 2 z'G(1-z) / (n_a n_b)``, so a chunk of relabellings
    costs one ``[chunk, n] x [n, n]`` product. :func:`permutation_test_loop` computes the same
    relabellings one at a time (the reference; tested equal).
    """
    g = _checks.square(gram, "gram")
    n = len(g)
    n_a = _checks.integer_in(n_a, 1, n - 1, "n_a")
    permutations = _checks.integer_in(permutations, 1, 10**9, "permutations")
    observed_members = np.zeros((1, n))
    observed_members[0, :n_a] = 1.0
    observed = float(_squared_distances(g, observed_members, n_a)[0])
    rng = np.random.default_rng(seed)
    at_least, done = 0, 0
    while done < permutations:
        count = min(chunk, permutations - done)
        members = np.zeros((count, n))
        np.put_along_axis(members, _draws(rng, n, count)[:, :n_a], 1.0, axis=1)
        at_least += int(np.sum(_squared_distances(g, members, n_a) >= observed * (1 - 1e-12)))
        done += count
    return float(np.sqrt(max(observed, 0.0))), (1 + at_least) / (1 + permutations)


def permutation_test_loop(
    a: np.ndarray, b: np.ndarray, width: float, permutations: int, seed: int, chunk: int = 4096
) -> tuple[float, float]:
    """The reference of :func:`permutation_test`: the same relabellings, each one's group means
    computed and compared in a Python loop. ``a``, ``b``: ``[n_a, ...]``, ``[n_b, ...]`` samples."""
    pooled = np.concatenate([np.asarray(a, np.float64).reshape(len(a), -1), np.asarray(b, np.float64).reshape(len(b), -1)])
    n, n_a = len(pooled), len(a)

    def statistic(order):
        difference = pooled[order[:n_a]].mean(axis=0) - pooled[order[n_a:]].mean(axis=0)
        return float(difference @ difference * width)

    observed = statistic(np.arange(n))
    rng = np.random.default_rng(seed)
    at_least, done = 0, 0
    while done < permutations:
        count = min(chunk, permutations - done)
        for order in _draws(rng, n, count):
            at_least += statistic(order) >= observed * (1 - 1e-12)
        done += count
    return float(np.sqrt(observed)), (1 + at_least) / (1 + permutations)
