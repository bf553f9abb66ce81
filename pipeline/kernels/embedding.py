"""Low-dimensional embeddings of items given their pairwise distances."""

from __future__ import annotations

import numpy as np

from . import _checks

# Fewest items PHATE embeds (its kNN graph and MDS need a few neighbours); config checks use it.
PHATE_MIN_ITEMS = 4


def phate_embedding(
    distances: np.ndarray, knn: int, seed: int, n_components: int = 2, mds_dist: str = "euclidean", potential: bool = False
):
    """PHATE embedding of items from a precomputed distance matrix.

    Parameters
    ----------
    distances : np.ndarray
        Symmetric nonnegative distances ``[m, m]``, ``m >= 4`` (PHATE's MDS divides by zero on
        three items).
    knn : int
        PHATE's neighbourhood size; capped at ``m - 2`` (PHATE needs a neighbour beyond the
        k-th to set its adaptive bandwidth).
    seed : int
        PHATE's random_state (its MDS); the same seed gives the same coordinates.
    n_components : int
        Output dimensions.
    mds_dist : str
        The distance between rows of the diffusion potential that PHATE's MDS preserves
        (``"euclidean"``, the potential distance; ``"cosine"`` for the loss-landscape paper's
        cosine PHATE).
    potential : bool
        Also return PHATE's diffusion potential ``[m, m]`` (``-log P^t``, rows = items).

    Returns
    -------
    np.ndarray or (np.ndarray, np.ndarray)
        ``[m, n_components]`` float64 coordinates, and the potential when asked for.

    Notes
    -----
    ``knn_dist="precomputed_distance"`` is passed explicitly (PHATE's auto-detection looks only at
    ``X[0, 0]``) and ``verbose=0`` keeps PHATE's logging quiet.
    """
    import phate

    d = _checks.square(distances, "distances")
    if d.shape[0] < PHATE_MIN_ITEMS:
        raise ValueError(f"PHATE needs at least {PHATE_MIN_ITEMS} items, got {d.shape[0]}")
    operator = phate.PHATE(
        n_components=n_components,
        knn=min(int(knn), len(d) - 2),
        knn_dist="precomputed_distance",
        mds_dist=mds_dist,
        random_state=int(seed),
        verbose=0,
        n_jobs=1,
    )
    coordinates = np.asarray(operator.fit_transform(d), dtype=np.float64)
    if potential:
        return coordinates, np.asarray(operator.diff_potential, dtype=np.float64)
    return coordinates
