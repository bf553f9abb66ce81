"""Events in a network's series over training: loss spikes, grokking, and how another series
moves at the spikes (the ``relu_complex`` study's tables and figures).

A series is one value per recorded step of one network, in step order. Everything here is a pure
function of such arrays; the study's table step maps it over networks and stores what it finds,
and the figures draw that.
"""

from __future__ import annotations

import numpy as np


def _series(values, name: str, finite: bool = False, dtype=np.float64) -> np.ndarray:
    """A 1-D real series with at least one entry (finite if asked), as ``dtype`` (None: as given,
    so that a float32 series is compared and subtracted in float32, as the tables always were)."""
    values = np.asarray(values)
    if values.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be real numbers, got dtype {values.dtype}")
    values = values.astype(dtype or values.dtype, copy=False)
    if values.ndim != 1:
        raise ValueError(f"{name} must be a 1-D series [steps], got shape {values.shape}")
    if len(values) < 1:
        raise ValueError(f"{name} must hold at least one recorded step")
    if finite and not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite")
    return values


def _ratio(ratio) -> float:
    ratio = float(ratio)
    if not np.isfinite(ratio) or ratio <= 1:
        raise ValueError(f"a spike ratio must exceed 1 (a spike is a rise by more than that factor), got {ratio}")
    return ratio


def _same_length(name: str, values: np.ndarray, reference: np.ndarray, reference_name: str) -> None:
    if len(values) != len(reference):
        raise ValueError(f"{name} has {len(values)} entries but {reference_name} has {len(reference)}: one per recorded step each")


def loss_spikes(loss, ratio: float) -> np.ndarray:
    """The recorded steps at which the loss jumps.

    Parameters
    ----------
    loss : array ``[steps]``
        A network's loss at each recorded step, in order (NaN or inf, as after a divergence, is no
        spike and makes none).
    ratio : float
        A spike is ``loss[t] > ratio * loss[t - 1]``; must exceed 1.

    Returns
    -------
    ndarray of int ``[k]``
        The indices ``t >= 1`` of the spikes, increasing.
    """
    loss = _series(loss, "loss")
    ratio = _ratio(ratio)
    return np.flatnonzero(loss[1:] > ratio * loss[:-1]) + 1


def detect_grokking(steps, train_accuracy, test_accuracy, *, train_level: float, tolerance: float, min_rise: float) -> dict:
    """When a network fits, when it generalizes, and whether it groks.

    It fits at the first recorded step with training accuracy at least ``train_level``; it
    generalizes at the first recorded step with test accuracy within ``tolerance`` of its best;
    it groks when it generalizes after it fits and its test accuracy rises by at least
    ``min_rise`` from its value at the fit.

    Parameters
    ----------
    steps : array ``[snapshots]``
        The training step of each recorded snapshot.
    train_accuracy, test_accuracy : arrays ``[snapshots]``
        Accuracies in [0, 1] at each snapshot, finite.
    train_level : float in (0, 1]
    tolerance, min_rise : float >= 0

    Returns
    -------
    dict
        ``fit`` and ``generalize`` (snapshot indices; ``fit`` -1 when it never fits),
        ``fit_step``, ``generalize_step``, ``test_at_fit``, ``rise`` (best test accuracy minus
        that at the fit), ``delay_steps`` (generalize_step - fit_step; NaN, like the other
        fit-dependent values, when it never fits) and ``grokked``.
    """
    steps = _series(steps, "steps", finite=True, dtype=None)
    train_accuracy = _series(train_accuracy, "train_accuracy", finite=True, dtype=None)
    test_accuracy = _series(test_accuracy, "test_accuracy", finite=True, dtype=None)
    _same_length("train_accuracy", train_accuracy, steps, "steps")
    _same_length("test_accuracy", test_accuracy, steps, "steps")
    if not 0 < train_level <= 1:
        raise ValueError(f"train_level must be in (0, 1], got {train_level}")
    for name, value in (("tolerance", tolerance), ("min_rise", min_rise)):
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    fitted = np.flatnonzero(train_accuracy >= train_level)
    general = int(np.flatnonzero(test_accuracy >= test_accuracy.max() - tolerance)[0])
    if not len(fitted):
        return {"fit": -1, "generalize": general, "fit_step": np.nan, "generalize_step": float(steps[general]),
                "test_at_fit": np.nan, "rise": np.nan, "delay_steps": np.nan, "grokked": False}
    fit = int(fitted[0])
    rise = float(test_accuracy.max() - test_accuracy[fit])
    return {
        "fit": fit, "generalize": general, "fit_step": float(steps[fit]), "generalize_step": float(steps[general]),
        "test_at_fit": float(test_accuracy[fit]), "rise": rise, "delay_steps": float(steps[general] - steps[fit]),
        "grokked": bool(general > fit and rise >= min_rise),
    }


def spike_response(loss, series, ratio: float) -> dict:
    """How a series moves at the loss spikes (:func:`loss_spikes`) against the other recorded
    steps.

    Parameters
    ----------
    loss : array ``[steps]``
        The training loss at each recorded step.
    series : array ``[steps]``
        Another series at the same steps; NaN where it is unknown (a failed item: it has no
        change into it or out of it, and no level).
    ratio : float
        The spike ratio of :func:`loss_spikes`.

    Returns
    -------
    dict
        ``spikes`` (how many); ``rise_at_spikes`` and ``rise_elsewhere``, the fraction of the
        changes into a spike step, and into any other step, at which the series rises; their
        median relative changes ``change_at_spikes`` and ``change_elsewhere`` (the median,
        because the first steps' growth from a few regions would dominate a mean); and
        ``spearman_with_loss``, Spearman's rank correlation of its level with the loss over
        training (NaN when either is constant). A value with no step to average is NaN.
    """
    from scipy.stats import spearmanr

    loss = _series(loss, "loss")
    series = _series(series, "series")
    _same_length("series", series, loss, "loss")
    spikes = loss_spikes(loss, ratio)
    change = series[1:] / np.where(series[:-1] == 0, 1.0, series[:-1]) - 1.0  # change into step t, t >= 1
    at = np.zeros(len(change), dtype=bool)
    at[spikes - 1] = True
    known = np.isfinite(change)
    at, elsewhere = at & known, ~at & known
    level = np.isfinite(series)
    varied = level.sum() > 1 and np.ptp(series[level]) > 0 and np.ptp(loss[level]) > 0
    rho = spearmanr(loss[level], series[level]).statistic if varied else np.nan
    return {
        "spikes": len(spikes),
        "rise_at_spikes": float(np.mean(change[at] > 0)) if at.any() else np.nan,
        "rise_elsewhere": float(np.mean(change[elsewhere] > 0)) if elsewhere.any() else np.nan,
        "change_at_spikes": float(np.median(change[at])) if at.any() else np.nan,
        "change_elsewhere": float(np.median(change[elsewhere])) if elsewhere.any() else np.nan,
        "spearman_with_loss": float(rho),
    }
