"""Directions and coordinates for sampling a loss landscape around an optimum (Li et al.'s filter
normalization; the grid and naive samplings of Horoi et al.).

A network's parameters are a mapping ``{name: array}``; a direction is another such mapping of
the same shapes. Pure NumPy; the loss at the sampled points is evaluated elsewhere.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from . import _checks


def direction_tensor(name: str, shape: tuple, seed: int) -> np.ndarray:
    """One tensor of a Gaussian direction: standard normal entries, float64.

    Drawn from a stream of its own, seeded by ``seed`` and the tensor's name, so that any tensor
    of a direction can be drawn alone (a Gram matrix of many directions is then built tensor by
    tensor, in bounded memory), and the same seed gives the same raw direction for every network
    of one architecture, which filter normalization then scales to each network's own weights.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), *name.encode()]))
    return rng.standard_normal(tuple(shape))


def random_direction(shapes: Mapping[str, tuple], seed: int) -> dict[str, np.ndarray]:
    """A Gaussian direction for every tensor (:func:`direction_tensor`)."""
    return {name: direction_tensor(name, shape, seed) for name, shape in shapes.items()}


def filter_normalize(direction: Mapping[str, np.ndarray], weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Scale each filter of ``direction`` to the norm of the matching filter of ``weights``.

    A filter is a slice along a tensor's first axis: one output channel of a convolution
    (``[out, in, k, k]``), one neuron's incoming weights of a linear layer (``[out, in]``).
    Tensors of one dimension or none (biases, BatchNorm weights and biases, counters) get a zero
    direction, as in Li et al. (2018) with "biasbn" ignored: the jump leaves them at the optimum.

    Parameters
    ----------
    direction, weights : mapping
        Arrays of the same names and shapes.

    Returns
    -------
    dict
        ``d_f * ||w_f|| / ||d_f||`` for every filter ``f`` (0 where ``d_f`` is 0), float64.
    """
    if set(direction) != set(weights):
        raise ValueError(f"direction and weights name different tensors: {sorted(set(direction) ^ set(weights))}")
    return {name: filter_normalize_tensor(d, weights[name], name) for name, d in direction.items()}


def filter_normalize_tensor(direction: np.ndarray, weight: np.ndarray, name: str = "tensor") -> np.ndarray:
    """:func:`filter_normalize` of one tensor."""
    d = np.asarray(direction, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    if d.shape != w.shape:
        raise ValueError(f"{name}: direction shape {d.shape} differs from the weights' {w.shape}")
    if d.ndim <= 1:
        return np.zeros_like(d)
    d_norm = np.linalg.norm(d.reshape(len(d), -1), axis=1)
    w_norm = np.linalg.norm(w.reshape(len(w), -1), axis=1)
    scale = np.divide(w_norm, d_norm, out=np.zeros_like(w_norm), where=d_norm > 0)
    return d * scale.reshape((-1,) + (1,) * (d.ndim - 1))


def grid_coordinates(points_per_axis: int, extent: float, dims: int = 3) -> np.ndarray:
    """Coordinates of a regular grid in ``[-extent, extent]^dims`` without the origin.

    ``points_per_axis`` values per axis (``np.linspace``); an odd count puts the optimum itself on
    the grid, and it is left out (it is the centre, not a sample). 9 per axis in 3-D: 728 points.

    Returns
    -------
    np.ndarray
        ``[g, dims]`` float64, in C order of the axes.
    """
    points_per_axis = _checks.integer_in(points_per_axis, 2, 10**4, "points_per_axis")
    extent = _checks.positive(extent, "extent")
    dims = _checks.integer_in(dims, 1, 10, "dims")
    axis = np.linspace(-extent, extent, points_per_axis)
    grid = np.stack(np.meshgrid(*([axis] * dims), indexing="ij"), axis=-1).reshape(-1, dims)
    return grid[np.any(grid != 0.0, axis=1)]


def basis_gram(origin: Mapping[str, np.ndarray], seeds: list[int]) -> np.ndarray:
    """Gram matrix of an optimum and its filter-normalized directions of the given seeds, float64.

    Row/column 0 is the optimum ``origin``, row ``k`` the direction of ``seeds[k - 1]``
    (:func:`direction_tensor` + :func:`filter_normalize_tensor`). Built tensor by tensor, so
    memory holds one tensor of every direction at a time. A sample ``origin + sum_k a_k d_k``
    then has inner products ``[1, a]^T G [1, b]`` with another: the cosine distances between all
    grid or naive samples follow from this small matrix, with no sample ever materialized.
    """
    k = len(seeds) + 1
    gram = np.zeros((k, k))
    for name, weight in origin.items():
        weight = np.asarray(weight, dtype=np.float64)
        rows = [weight.ravel()] + [
            filter_normalize_tensor(direction_tensor(name, weight.shape, seed), weight, name).ravel() for seed in seeds
        ]
        block = np.stack(rows)
        gram += block @ block.T
    return gram


def gram_of_combinations(basis: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """Inner products of the points ``v_0 + sum_k a_k v_k`` (rows ``a`` of ``coefficients``
    ``[points, k]``) from the Gram matrix ``basis`` ``[k + 1, k + 1]`` of ``v_0..v_k``."""
    a = np.asarray(coefficients, dtype=np.float64)
    full = np.column_stack([np.ones(len(a)), a])
    if full.shape[1] != basis.shape[0]:
        raise ValueError(f"coefficients have {a.shape[1]} columns for a basis of {basis.shape[0] - 1} directions")
    return full @ basis @ full.T


def combine(
    origin: Mapping[str, np.ndarray], directions: list[Mapping[str, np.ndarray]], coefficients: np.ndarray
) -> dict[str, np.ndarray]:
    """Points ``origin + sum_k c_k direction_k`` for every row ``c`` of ``coefficients``.

    Returns ``{name: [points, *shape]}`` (float32, the dtype a network evaluates in).
    """
    coefficients = np.asarray(coefficients, dtype=np.float64)
    if coefficients.ndim != 2 or coefficients.shape[1] != len(directions):
        raise ValueError(f"coefficients must be [points, {len(directions)}], got {coefficients.shape}")
    out = {}
    for name, value in origin.items():
        stacked = np.stack([np.asarray(d[name], dtype=np.float64) for d in directions])  # [k, *shape]
        moved = np.tensordot(coefficients, stacked, axes=(1, 0))  # [points, *shape]
        out[name] = (np.asarray(value, dtype=np.float64)[None] + moved).astype(np.float32)
    return out
