"""The claims table of the ReLU-complex study (paper 001): each headline claim of the paper's
summary beside this run's statistic, its 95 % bootstrap interval and the verdict of a rule fixed
here (:data:`CLAIM_RULES`) before the numbers were seen.

The summary states its claims in words only (no table, no number): "near-perfect" is read as an
agreement above 0.95 (:data:`NEAR_PERFECT`). The units resampled are the networks of the study
(the partitions, the cell-count trend) or the loss spikes of the regression networks (the
filtration). A bootstrap over fewer than :data:`MIN_UNITS` units gives no interval worth reading:
such a claim is "not testable at this scale".
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ... import store
from ...claims import Claim, Rule, bootstrap_interval, describe_bootstrap, write_claims_table
from ...kernels import relu_complex as rc
from ...kernels.series import detect_grokking, loss_spikes

# "perfect or near-perfect alignment": an agreement above this
NEAR_PERFECT = 0.95
# fewer units than this: no bootstrap interval worth reading (with 2, only 3 distinct resamples)
MIN_UNITS = 3
N_RESAMPLES = 2000

# The verdict rules, fixed before the numbers (pipeline.claims.Rule: "reproduced" when the whole
# 95 % interval lies past the threshold, "partly" when the statistic does or the whole interval
# lies past the weaker threshold).
CLAIM_RULES = {
    # the weighted partition's agreement with the labels at the end of training
    "fiedler-labels": Rule(NEAR_PERFECT, "above", partly=0.8),
    # the same under the most favourable reading of "weighted" (the max over the readings)
    "fiedler-labels-any-reading": Rule(NEAR_PERFECT, "above", partly=0.8),
    # the weighted partition's balanced agreement with the decision at the end (chance: 0.5)
    "fiedler-decision": Rule(NEAR_PERFECT, "above", partly=0.8),
    # weighted minus unweighted agreement with the labels at the end: clearly better (> 0.1)
    "weighted-beats-unweighted": Rule(0.1, "above", partly=0.0),
    # in networks that grok: the weighted agreement with the labels at the end minus at the fit
    "grokking-aligns": Rule(0.05, "above", partly=0.0),
    # at a loss spike the peak filtration value rises more often than at other steps (paired by
    # network: rose at the spike minus the network's rate of rising elsewhere)
    "spikes-move-filtration": Rule(0.25, "above", partly=0.0),
    # the cell count's trend over training: Spearman's rho of cells with the step, mean over networks
    "cells-fall": Rule(-0.5, "below", partly=0.0),
}

PAPER = {
    "fiedler-labels": (
        'Summary: "the weighted Fiedler partition achieved perfect or near-perfect alignment with the class labels" '
        "(Two Circles, Two Moons; no number given)"
    ),
    "fiedler-decision": (
        'Summary: "the weighted Fiedler partition remarkably correlated with the decision boundary, especially when '
        'the network exhibited ... grokking" (no number given)'
    ),
    "weighted-beats-unweighted": (
        'Summary: "using an unweighted Fiedler partition didn\'t yield accurate results"; "the unweighted partition '
        'showed significant misclassification, the weighted ... near-perfect alignment" (no number given)'
    ),
    "grokking-aligns": (
        'Summary: correlated with the decision boundary "especially when the network exhibited ... grokking"; '
        '"could serve as a reliable indicator of a network having achieved grokking" (no number given)'
    ),
    "spikes-move-filtration": (
        'Summary (regression): "sudden spikes in the training loss curve corresponded to an increase in the '
        'filtration value at which the maximum Betti number was achieved" (no number given)'
    ),
    "cells-fall": 'Summary: "The overall trend observed was a decrease in the total number of cells during training" (no number given)',
}
PAPER["fiedler-labels-any-reading"] = PAPER["fiedler-labels"]


def _classification_networks(complexes: Sequence[str], grokking: Mapping) -> list[dict]:
    """Per classification network: its grokking and, per reading of "weighted" (key ``(measure,
    reading, "at_fit" or "final")``), the agreement with the labels, the balanced agreement with
    the decision and their ceilings; the decision's majority share (reading None)."""
    networks = []
    for path in complexes:
        root = store.open_array_store(path)
        if root.attrs["task"] != "classification":
            continue
        steps = store.read_array(path, "step")
        train, test = store.read_array(path, "train_accuracy"), store.read_array(path, "test_accuracy")
        series = {
            (measure, reading): store.read_array(path, f"{measure}_{reading}")
            for measure in ("agreement_labels", "balanced_decision", "ceiling_labels", "ceiling_decision")
            for reading in rc.WEIGHTINGS
        }
        series["decision_majority", None] = store.read_array(path, "decision_majority")  # one for every reading
        for n, name in enumerate(root.attrs["networks"]):
            told = detect_grokking(steps, train[n], test[n], **grokking)
            fit = told["fit"]
            entry = {"network": name, "grokked": told["grokked"]}
            for (measure, reading), values in series.items():
                entry[measure, reading, "final"] = float(values[n, -1])
                entry[measure, reading, "at_fit"] = float(values[n, fit]) if fit >= 0 else np.nan
            networks.append(entry)
    return networks


def _spike_events(complexes: Sequence[str], spike_ratio: float) -> tuple[np.ndarray, int]:
    """Each loss spike of the regression networks: whether the peak filtration value rose into
    it, minus its network's fraction of other steps at which it rose. Returns (values, networks)."""
    events, networks = [], 0
    for path in complexes:
        root = store.open_array_store(path)
        if root.attrs["task"] != "regression":
            continue
        loss, peak = store.read_array(path, "train_loss"), store.read_array(path, "peak_value")
        for n in range(len(loss)):
            networks += 1
            spikes = loss_spikes(loss[n], spike_ratio)
            change = peak[n, 1:] - peak[n, :-1]  # into step t, t >= 1 (NaN: a failed item)
            at = np.zeros(len(change), dtype=bool)
            at[spikes - 1] = True
            known = np.isfinite(change)
            elsewhere = ~at & known
            if not elsewhere.any():
                continue
            baseline = float(np.mean(change[elsewhere] > 0))
            events += [float(change[t - 1] > 0) - baseline for t in spikes if known[t - 1]]
    return np.asarray(events, dtype=np.float64), networks


def _cell_trends(complexes: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Per network of every sweep: Spearman's rho of its cell count with the step (failed items
    skipped), and its sweep's task."""
    from scipy.stats import spearmanr

    trends, tasks = [], []
    for path in complexes:
        root = store.open_array_store(path)
        steps, cells = store.read_array(path, "step"), store.read_array(path, "cells")
        for n in range(len(cells)):
            known = np.isfinite(cells[n])
            varied = known.sum() > 2 and np.ptp(cells[n][known]) > 0
            trends.append(float(spearmanr(steps[known], cells[n][known]).statistic) if varied else np.nan)
            tasks.append(root.attrs["task"])
    return np.asarray(trends, dtype=np.float64), tasks


def _mean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.isfinite(values).any() else np.nan


def _claim(id_: str, claim: str, statistic: str, values: np.ndarray, unit: str, seed: int, scale_note: str, stat=None) -> Claim:
    """A claim whose statistic is a function of units (default: the mean of ``values`` over
    them), with its bootstrap interval over those units."""
    values = np.asarray(values, dtype=np.float64)
    stat = stat or (lambda idx: _mean(values[idx]))
    units = len(values)
    value = stat(np.arange(units)) if units else np.nan
    testable = units >= MIN_UNITS and np.isfinite(value)
    low, high = bootstrap_interval(units, stat, seed=seed, n_resamples=N_RESAMPLES) if testable else (np.nan, np.nan)
    if testable and not (np.isfinite(low) and np.isfinite(high)):
        testable = False
    if not testable:
        scale_note = f"{units} {unit}: too few for a bootstrap interval (at least {MIN_UNITS}). " + scale_note
    return Claim(
        id=id_, claim=claim, paper=PAPER[id_], statistic=statistic, value=value, low=low, high=high,
        interval_method=describe_bootstrap(units, unit, N_RESAMPLES), rule=CLAIM_RULES[id_], scale_note=scale_note,
        testable=bool(testable),
    )


def _column(nets: Sequence[Mapping], measure: str, reading: str | None, when: str, rows: Sequence[int] | None = None) -> np.ndarray:
    """One measure of every network (or of those at ``rows``) at ``when``, in one reading."""
    return np.array([nets[k][measure, reading, when] for k in (range(len(nets)) if rows is None else rows)], dtype=np.float64)


def _fiedler_notes(nets: Sequence[Mapping], grokkers: Sequence[int]) -> tuple[str, str, str]:
    """The scale note of the partition claims, and the notes giving every reading's mean
    agreement at the end beside its ceiling, with the labels and with the decision."""

    def by_reading(measure: str, ceiling_measure: str) -> str:
        return "; ".join(
            f"{r} {_mean(_column(nets, measure, r, 'final')):.2f} (ceiling {_mean(_column(nets, ceiling_measure, r, 'final')):.2f})"
            for r in rc.WEIGHTINGS
        )

    scale = (
        f"{len(nets)} classification networks ({len(grokkers)} grok) of this config; the summary gives no widths, data "
        "sizes or formula."
    )
    labels_note = (
        " Mean at the end by reading of 'weighted' (ceiling: the best threshold on the same Fiedler vector): "
        + by_reading("agreement_labels", "ceiling_labels") + "."
    )
    decision_note = (
        " Mean balanced agreement at the end by reading (ceiling: the best threshold on the same Fiedler vector): "
        + by_reading("balanced_decision", "ceiling_decision") + "."
    )
    return scale, labels_note, decision_note


def _partition_claims(nets: Sequence[Mapping], weighting: str, weighted: Sequence[str], seed: int) -> list[Claim]:
    """The claims on the Fiedler partition of the classification networks ``nets`` (seeds
    ``seed`` .. ``seed + 4``)."""
    grokkers = [k for k, e in enumerate(nets) if e["grokked"]]
    at_end = {reading: _column(nets, "agreement_labels", reading, "final") for reading in rc.WEIGHTINGS}
    scale, labels_note, decision_note = _fiedler_notes(nets, grokkers)
    claims = [
        _claim(
            "fiedler-labels",
            f"The weighted Fiedler partition of the dual graph (reading '{weighting}') aligns near-perfectly with the class labels.",
            f"agreement with the labels (fraction of training points) at the last recorded step, mean over networks; reading {weighting}",
            at_end[weighting], "networks", seed, scale + labels_note,
        ),
    ]
    stacked = np.stack([at_end[r] for r in weighted], axis=1) if nets else np.zeros((0, len(weighted)))
    best = lambda idx: float(np.nanmax(np.nanmean(stacked[idx], axis=0))) if len(idx) else np.nan  # noqa: E731
    claims.append(_claim(
        "fiedler-labels-any-reading",
        "Under the most favourable of the readings of 'weighted', the partition aligns near-perfectly with the labels.",
        f"the largest over the readings {', '.join(weighted)} of the mean agreement with the labels at the last recorded step",
        stacked[:, 0] if nets else np.zeros(0), "networks", seed + 1,
        "The maximum over readings is chosen after the fact (optimistic); recomputed in every resample. " + scale + labels_note,
        stat=best,
    ))
    balanced = _column(nets, "balanced_decision", weighting, "final")
    claims.append(_claim(
        "fiedler-decision",
        f"The weighted Fiedler partition (reading '{weighting}') matches the network's decision region by region.",
        "balanced agreement with the decision (mean over the two decision classes of the fraction of their regions on "
        f"the matched side; chance 0.5) at the last recorded step, mean over networks; reading {weighting}",
        balanced, "networks", seed + 2,
        "The decision splits the regions unevenly (its larger class holds "
        f"{_mean(_column(nets, 'decision_majority', None, 'final')):.2f} of them at the end, the chance level of a plain "
        "fraction); the balanced agreement's is 0.5. " + scale + decision_note,
    ))
    claims.append(_claim(
        "weighted-beats-unweighted",
        "The weighted partition aligns with the labels better than the unweighted one.",
        f"agreement with the labels at the last recorded step, weighted ({weighting}) minus unweighted, mean over networks",
        at_end[weighting] - at_end["unweighted"], "networks", seed + 3, scale,
    ))
    rise = (
        _column(nets, "agreement_labels", weighting, "final", grokkers)
        - _column(nets, "agreement_labels", weighting, "at_fit", grokkers)
    )
    claims.append(_claim(
        "grokking-aligns",
        "In networks that grok, the weighted partition comes to align with the labels as they grok.",
        f"agreement with the labels ({weighting}) at the last recorded step minus at the step the network fits, "
        "mean over the networks that grok",
        rise, "networks that grok", seed + 4,
        f"{len(grokkers)} of {len(nets)} classification networks grok (grokking settings of the config). " + scale,
    ))
    return claims


def _training_claims(complexes: Sequence[str], spike_ratio: float, seed: int) -> list[Claim]:
    """The claims on the complex over training, of every network (seeds ``seed + 5``,
    ``seed + 6``)."""
    events, regression_networks = _spike_events(complexes, spike_ratio)
    spikes = _claim(
        "spikes-move-filtration",
        "At a spike of the training loss the filtration value at which the largest Betti number is reached increases.",
        "per loss spike: 1 if the peak filtration value rose into the spike step, less its network's fraction of other "
        "steps at which it rose; mean over spikes",
        events, "loss spikes", seed + 5,
        f"{len(events)} loss spikes (> x{spike_ratio:g} the previous recorded step's loss) of {regression_networks} "
        "regression networks. Under the filtration vertices, then edges, then faces, the peak value is the vertex count "
        "(docs/studies/relu_complex.md).",
    )
    trends, tasks = _cell_trends(complexes)
    regression = np.array([t == "regression" for t in tasks])
    cells = _claim(
        "cells-fall",
        "The total number of cells decreases over training.",
        "Spearman's rho of the cell count with the training step over the recorded steps, mean over every network of the study",
        trends, "networks", seed + 6,
        f"{len(trends)} networks, classification and regression (the summary states it for regression). Regression "
        f"networks alone: mean rho {_mean(trends[regression]) if regression.any() else np.nan:.2f} over {int(regression.sum())}.",
    )
    return [spikes, cells]


def relu_complex_claims(
    complexes: Sequence[str], *, grokking: Mapping, spike_ratio: float, weighting: str, seed: int
) -> list[Claim]:
    """The study's claims (:data:`CLAIM_RULES`) from its analysis stores."""
    weighted = tuple(r for r in rc.WEIGHTINGS if r != "unweighted")
    if weighting not in weighted:
        raise ValueError(f"relu_complex.weighting must be one of {weighted}, got {weighting!r}")
    nets = _classification_networks(complexes, grokking)
    return _partition_claims(nets, weighting, weighted, seed) + _training_claims(complexes, spike_ratio, seed)


def tabulate_relu_complex_claims(
    complexes: Sequence[str], claims: str, *, grokking: Mapping, spike_ratio: float, weighting: str, seed: int
) -> list[Path]:
    """Step ``tabulate_relu_complex_claims``: the claims table ``claims.{csv,md,html}``."""
    return write_claims_table(
        relu_complex_claims(complexes, grokking=grokking, spike_ratio=spike_ratio, weighting=weighting, seed=seed), claims
    )
