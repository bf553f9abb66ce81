"""Diffusion geometry of a point cloud (Abel et al., section 4 and appendices B, D).

- :func:`gaussian_kernel` ``W`` and the row-stochastic diffusion operator ``P = Q^-1 W``;
- :func:`kernel_bandwidth`: the paper's absolute sigma, or sigma times the median distance;
- :func:`kernel_of_operator`: ``W`` back from a stored ``P`` (the kernel has a unit diagonal);
- :func:`diffusion_spectral_entropy` (DSE, section 4.2) and
  :func:`diffusion_spectral_mutual_information` (DSMI, appendix D), from the spectrum of ``P``
  computed as that of its symmetric conjugate ``Q^-1/2 W Q^-1/2``.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist

from . import _checks
from .distances import pairwise_distances

# Eigenvalue magnitudes below this count as exactly zero in the DSE (numerical noise
# of the eigensolver sits around 1e-15 .. 1e-13 for matrices of a few hundred rows).
EIGENVALUE_FLOOR = 1e-12

BANDWIDTHS = ("absolute", "median")


def kernel_bandwidth(x: np.ndarray, sigma: float, scale: str) -> float:
    """The Gaussian kernel's bandwidth for the points ``x``.

    ``absolute`` returns ``sigma`` (Abel et al.: sigma = 0.5 whatever the activations' scale).
    ``median`` returns ``sigma`` times the median distance between distinct points of ``x``, so
    that the operator does not depend on the representation's scale: with an absolute sigma,
    points more than a few sigma apart give ``P`` close to the identity, whatever their geometry.
    Collapsed points (all distances zero) keep ``sigma``; every bandwidth then gives the same
    uniform ``P``.

    Parameters
    ----------
    x : np.ndarray
        Points, shape ``[n, d]``.
    sigma : float
        Bandwidth (absolute) or its multiple of the median distance (median), > 0.
    scale : {"absolute", "median"}
    """
    if scale not in BANDWIDTHS:
        raise ValueError(f"bandwidth scale must be one of {BANDWIDTHS}, got {scale!r}")
    sigma = _checks.positive(sigma, "sigma")
    if scale == "absolute":
        return sigma
    distances = pdist(_checks.points(x))
    distances = distances[distances > 0]
    return sigma * float(np.median(distances)) if distances.size else sigma


def gaussian_kernel(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian kernel ``W_ij = exp(-d_ij^2 / (2 sigma^2))`` on Euclidean distances.

    Parameters
    ----------
    x : np.ndarray
        Points, shape ``[n, d]``.
    sigma : float
        Kernel bandwidth, > 0.

    Returns
    -------
    np.ndarray
        ``[n, n]`` float64, symmetric, entries in ``[0, 1]``, unit diagonal.
    """
    sigma = _checks.positive(sigma, "sigma")
    d = pairwise_distances(x)
    return np.exp(-(d**2) / (2.0 * sigma**2))


def diffusion_operator(x: np.ndarray, sigma: float) -> np.ndarray:
    """Row-stochastic diffusion operator ``P = Q^-1 W`` of the Gaussian kernel.

    ``Q`` is the diagonal of the row sums of ``W`` (:func:`gaussian_kernel`).

    Parameters
    ----------
    x : np.ndarray
        Points, shape ``[n, d]``.
    sigma : float
        Kernel bandwidth, > 0.

    Returns
    -------
    np.ndarray
        ``[n, n]`` float64, nonnegative, rows summing to one.

    Notes
    -----
    No shifting of the exponent is needed (or allowed, it would change ``W``):
    the diagonal is ``exp(0) = 1``, so every row sum is at least 1 and the
    normalization never divides by zero, even when off-diagonal entries underflow.
    """
    w = gaussian_kernel(x, sigma)
    return w / w.sum(axis=1, keepdims=True)


def kernel_of_operator(p: np.ndarray) -> np.ndarray:
    """The kernel ``W`` of a diffusion operator ``P = Q^-1 W`` whose kernel has a unit diagonal.

    ``P_ii = W_ii / q_i = 1 / q_i``, so ``q_i = 1 / P_ii`` and ``W = Q P``: a stored operator
    gives back its kernel exactly (to rounding), with no need to recompute it from the points.
    True of :func:`diffusion_operator` (a Gaussian kernel is 1 on its diagonal).

    Parameters
    ----------
    p : np.ndarray
        Row-stochastic operator ``[n, n]`` with a positive diagonal.

    Returns
    -------
    np.ndarray
        ``[n, n]`` float64 symmetric kernel (symmetrized against rounding), unit diagonal.
    """
    p = _checks.square(p, "p", symmetric=False)
    diagonal = np.diag(p)
    if np.any(diagonal <= 0):
        raise ValueError("p must have a positive diagonal (the operator of a unit-diagonal kernel)")
    w = p / diagonal[:, None]
    return 0.5 * (w + w.T)


def _operator_spectrum(kernel: np.ndarray) -> np.ndarray:
    """Eigenvalues of ``P = Q^-1 W``, from its symmetric conjugate ``Q^-1/2 W Q^-1/2``.

    The two are similar (``Q^1/2 P Q^-1/2``), so the spectra agree; the symmetric one has real
    eigenvalues by construction and ``eigvalsh`` is several times faster than ``eigvals``.
    """
    inverse_root = 1.0 / np.sqrt(kernel.sum(axis=1))
    return np.linalg.eigvalsh(inverse_root[:, None] * kernel * inverse_root[None, :])


def diffusion_spectral_entropy(kernel: np.ndarray, t: float) -> float:
    """Diffusion Spectral Entropy ``S_D(P, t)`` of the operator of ``kernel`` (section 4.2).

    ``S_D(P, t) = -sum_i a_i log a_i`` with ``a_i = |lambda_i|^t / sum_j |lambda_j|^t``
    and ``lambda`` the eigenvalues of ``P = Q^-1 W``.

    Parameters
    ----------
    kernel : np.ndarray
        Symmetric nonnegative kernel ``W`` ``[n, n]`` with positive row sums (e.g. from
        :func:`gaussian_kernel`, or :func:`kernel_of_operator` of a stored operator).
    t : float
        Diffusion time, >= 0.

    Returns
    -------
    float
        Entropy in nats, in ``[0, log n]``.

    Notes
    -----
    Magnitudes below ``EIGENVALUE_FLOOR`` are treated as exactly 0, with
    ``0^0 := 0``. Hence at ``t = 0`` every nonzero eigenvalue gets the same weight
    and the DSE is ``log(rank)``, i.e. ``log(n)`` for a full-rank operator: it only
    counts nonzero eigenvalues and says nothing about their spread, which is why
    the paper's ``t = 0`` setting is essentially uninformative. As ``t`` grows only
    eigenvalues of magnitude ~1 survive, so for ``k`` well-separated clusters the
    DSE tends to ``log k``.
    """
    kernel = _checks.square(kernel, "kernel")
    if np.any(kernel < 0) or np.any(kernel.sum(axis=1) <= 0):
        raise ValueError("kernel must be nonnegative with positive row sums")
    t = float(t)
    if not np.isfinite(t) or t < 0:
        raise ValueError(f"t must be a finite number >= 0, got {t}")
    mags = np.abs(_operator_spectrum(kernel))
    mags = mags[mags >= EIGENVALUE_FLOOR]
    if mags.size == 0:
        raise ValueError("the operator has no eigenvalue of magnitude >= EIGENVALUE_FLOOR")
    # Work in log space so that large t cannot underflow every weight to zero.
    logw = t * np.log(mags)
    logw -= logw.max()
    w = np.exp(logw)
    a = w / w.sum()
    a = a[a > 0]
    return float(max(0.0, -np.sum(a * np.log(a))))


def diffusion_spectral_mutual_information(kernel: np.ndarray, labels: np.ndarray, t: float) -> float:
    """Diffusion Spectral Mutual Information ``I_D(X; Y)`` (appendix D).

    ``I_D = S_D(P_X, t) - sum_c p(c) S_D(P_{X|c}, t)`` with ``P_{X|c}`` the diffusion operator
    of the points of class ``c`` (the class's block of the kernel, row-normalized: the same
    bandwidth as the whole) and ``p(c)`` the class frequency.

    Parameters
    ----------
    kernel : np.ndarray
        Symmetric kernel ``W`` of all points ``[n, n]`` (see :func:`diffusion_spectral_entropy`).
    labels : np.ndarray
        Class label of each point, shape ``[n]``.
    t : float
        Diffusion time, >= 0.

    Returns
    -------
    float
        DSMI in nats (can be slightly negative: it is a difference of spectral
        entropies, not a Shannon mutual information).
    """
    kernel = _checks.square(kernel, "kernel")
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != kernel.shape[0]:
        raise ValueError(f"labels must have shape ({kernel.shape[0]},), got {labels.shape}")
    total = diffusion_spectral_entropy(kernel, t)
    classes, counts = np.unique(labels, return_counts=True)
    conditional = 0.0
    for c, count in zip(classes, counts):
        members = np.flatnonzero(labels == c)
        block = kernel[np.ix_(members, members)]
        conditional += count / kernel.shape[0] * diffusion_spectral_entropy(block, t)
    return float(total - conditional)
