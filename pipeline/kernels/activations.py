"""A layer's activations prepared for persistent homology (Activation landscapes, Sec. II-D).

Pure NumPy: a point cloud in, a point cloud or a distance matrix out.
"""

from __future__ import annotations

import numpy as np

from . import _checks
from .distances import pairwise_distances


def normalize_activations(x: np.ndarray) -> np.ndarray:
    """Centre the points on their mean and scale them so that their largest pairwise distance is 1.

    Parameters
    ----------
    x : np.ndarray
        ``[n, d]`` activations of one layer on a batch of inputs.

    Returns
    -------
    np.ndarray
        ``[n, d]`` float64. Collapsed points (all equal) stay at the origin.
    """
    x = _checks.points(x, "activations")
    x = x - x.mean(axis=0)
    diameter = pairwise_distances(x).max() if len(x) > 1 else 0.0
    return x / diameter if diameter > 0 else x


def local_homology_distances(x: np.ndarray, centre: bool) -> np.ndarray:
    """The modified distance matrix of the paper's local homology (Sec. II-B and II-D).

    1. Centre the points when the layer does not end with ReLU (``centre``).
    2. Rescale so that the median norm is 1; points of norm above 1 go to the unit sphere (their
       unit vectors): the exterior of the open unit ball is projected onto its boundary.
    3. Pairwise Euclidean distances, with every distance between two points of norm >= 1 (at or
       beyond the median before projecting) set to 0: the sphere is collapsed to one point, so the
       Vietoris-Rips complex computes homology relative to the exterior of the unit ball.

    Parameters
    ----------
    x : np.ndarray
        ``[n, d]`` activations.
    centre : bool
        Whether to centre first (True for the input and the output logits; False after a ReLU,
        where the origin is meaningful).

    Returns
    -------
    np.ndarray
        ``[n, n]`` float64 symmetric, zero diagonal. All zeros when the median norm is 0.
    """
    x = _checks.points(x, "activations")
    if centre:
        x = x - x.mean(axis=0)
    norms = np.linalg.norm(x, axis=1)
    median = float(np.median(norms))
    if median == 0:
        return np.zeros((len(x), len(x)))
    x, norms = x / median, norms / median
    outside = norms > 1
    x[outside] = x[outside] / norms[outside, None]
    d = pairwise_distances(x)
    far = norms >= 1
    d[np.ix_(far, far)] = 0.0
    return d
