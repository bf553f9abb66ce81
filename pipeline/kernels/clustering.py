"""Class structure of a representation and its hierarchical (Ward) clustering."""

from __future__ import annotations

import numpy as np

from . import _checks
from .distances import pairwise_distances


def class_structure(points: np.ndarray, labels: np.ndarray) -> dict:
    """Centroid distances and within-class spread of one representation.

    Parameters
    ----------
    points : np.ndarray
        ``[n, d]`` representation of ``n`` labelled points.
    labels : np.ndarray
        ``[n]`` class labels.

    Returns
    -------
    dict
        ``centroid_distance``: mean pairwise distance between class centroids;
        ``within_class_variance``: mean over classes of the mean distance of a class's points to
        its centroid, and ``within_class_variance_std`` its standard deviation over classes;
        ``centroid_matrix``: the ``[C, C]`` centroid distance matrix (classes in sorted order).
    """
    points = _checks.points(points, "points")
    labels = np.asarray(labels)
    if labels.shape != (points.shape[0],):
        raise ValueError(f"labels must have shape ({points.shape[0]},), got {labels.shape}")
    classes = np.unique(labels)
    centroids = np.stack([points[labels == c].mean(0) for c in classes])
    centroid_distances = pairwise_distances(centroids)
    spread = [np.linalg.norm(points[labels == c] - centroids[i], axis=1).mean() for i, c in enumerate(classes)]
    upper = centroid_distances[np.triu_indices(len(classes), 1)]
    return {
        "centroid_distance": float(upper.mean()),
        "within_class_variance": float(np.mean(spread)),
        "within_class_variance_std": float(np.std(spread)),
        "centroid_matrix": centroid_distances,
    }


def ward_linkage(points: np.ndarray) -> np.ndarray:
    """The Ward linkage matrix ``[n - 1, 4]`` of a point cloud (scipy's format, for dendrograms)."""
    from scipy.cluster.hierarchy import linkage

    return linkage(_checks.points(points, "points"), method="ward")


def flat_clusters(linkage: np.ndarray, n_clusters: int) -> np.ndarray:
    """Flat clusters (labels 1..n_clusters) of a dendrogram cut into at most ``n_clusters``."""
    from scipy.cluster.hierarchy import fcluster

    return fcluster(linkage, t=n_clusters, criterion="maxclust")


def ward_labels(points: np.ndarray, n_clusters: int) -> np.ndarray:
    """Flat clusters (labels 1..n_clusters) of the Ward dendrogram cut at ``n_clusters``."""
    return flat_clusters(ward_linkage(points), n_clusters)
