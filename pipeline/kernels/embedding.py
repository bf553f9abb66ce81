"""Low-dimensional embeddings of items: PHATE of their pairwise distances, PCA of their Gram
matrix (kernel PCA), t-SNE and UMAP."""

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


def pca_of_gram(gram: np.ndarray, n_components: int = 2) -> np.ndarray:
    """PCA coordinates of the vectors behind a Gram matrix, which are never materialized.

    Kernel PCA with the Gram as a precomputed linear kernel (scikit-learn's
    ``KernelPCA(kernel="precomputed")``): the top eigenvectors of the centred Gram times the
    square roots of their eigenvalues, which is PCA of the vectors themselves. The dense
    eigensolver always (scikit-learn's ``"auto"`` would switch to ARPACK or a randomized solver,
    with a random start, above 200 items), so the coordinates are exact and the same on every run;
    each component's sign is scikit-learn's (``svd_flip``), as arbitrary as PCA's.

    Parameters
    ----------
    gram : np.ndarray
        Symmetric positive semi-definite ``[m, m]`` inner products (both up to rounding).
    n_components : int
        Output dimensions, ``1 <= n_components <= m``.

    Returns
    -------
    np.ndarray
        ``[m, n_components]`` float64 coordinates, components by decreasing variance.
    """
    from sklearn.decomposition import KernelPCA

    g = _checks.square(gram, "gram", symmetric=False)
    # a Gram summed slab by slab is symmetric only up to the order of summation
    if np.abs(g - g.T).max() > 1e-8 * max(np.abs(g).max(), 1e-300):
        raise ValueError("gram must be symmetric (up to rounding)")
    n_components = _checks.integer_in(n_components, 1, len(g), "n_components")
    pca = KernelPCA(n_components=n_components, kernel="precomputed", eigen_solver="dense")
    return np.asarray(pca.fit_transform(g), dtype=np.float64)


def tsne_and_umap(distances: np.ndarray | None = None, points: np.ndarray | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """t-SNE and UMAP (when umap-learn is installed) of items, beside PHATE in the loss-landscape
    paper's Fig. 1.

    Parameters
    ----------
    distances : np.ndarray, optional
        Precomputed symmetric distances ``[m, m]``; exactly one of ``distances`` and ``points``.
    points : np.ndarray, optional
        Points ``[m, d]`` (Euclidean).
    seed : int
        ``random_state`` of both.

    Returns
    -------
    dict
        ``"t-SNE"`` (perplexity ``min(30, (m - 1) / 3)``: t-SNE needs perplexity < m) and
        ``"UMAP"`` (left out, with a warning, where umap-learn is not installed) -> ``[m, 2]``.
    """
    import logging

    from sklearn.manifold import TSNE

    if (distances is None) == (points is None):
        raise ValueError("give exactly one of distances and points")
    if distances is not None:
        distances = _checks.square(distances, "distances")
    else:
        points = _checks.points(points, "points")
    n = len(distances) if distances is not None else len(points)
    if n < 2:
        raise ValueError(f"t-SNE and UMAP need at least two items, got {n}")
    out = {}
    perplexity = min(30.0, (n - 1) / 3)
    if distances is not None:
        out["t-SNE"] = TSNE(metric="precomputed", init="random", random_state=seed, perplexity=perplexity).fit_transform(distances)
    else:
        out["t-SNE"] = TSNE(random_state=seed, perplexity=perplexity).fit_transform(points)
    try:
        import umap
    except ImportError:  # pragma: no cover - umap-learn is in the pinned stack
        logging.getLogger(__name__).warning("umap-learn is not installed: Fig. 1 shows PHATE, t-SNE and PCA only")
        return out
    if distances is not None:
        out["UMAP"] = umap.UMAP(metric="precomputed", random_state=seed).fit_transform(distances)
    else:
        out["UMAP"] = umap.UMAP(random_state=seed).fit_transform(points)
    return out
