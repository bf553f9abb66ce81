"""Argument checks shared by the kernels: each raises ValueError naming the argument."""

from __future__ import annotations

import numpy as np


def points(x, name: str = "x") -> np.ndarray:
    """A finite 2-D point cloud ``[n, d]`` with at least one point, as float64."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array [n, d], got shape {x.shape}")
    if x.shape[0] < 1:
        raise ValueError(f"{name} must contain at least one point")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite")
    return x


def square(a, name: str, symmetric: bool = True) -> np.ndarray:
    """A finite square (optionally symmetric) matrix, as float64."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{name} must be a square 2-D array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    if symmetric and not np.allclose(a, a.T, rtol=1e-10, atol=1e-12):
        raise ValueError(f"{name} must be symmetric")
    return a


def positive(value, name: str) -> float:
    """A positive finite number, as float."""
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value


def integer_in(value, low: int, high: int, name: str) -> int:
    """An integer in ``[low, high]``."""
    if isinstance(value, bool) or int(value) != value or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return int(value)
