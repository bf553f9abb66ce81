"""The paper's headline claims (paper 004) and this run's evidence for each: the rules, written
before the numbers were seen, and the statistics (pure functions of a summary's arrays; no torch or
matplotlib). The step ``tabulate_activation_landscapes_claims`` (:mod:`.steps`) opens the
experiments' summaries, calls :func:`experiment_claims` and writes the table.

Three claims per experiment:

- ``<experiment>-table1``: *every pair of the shown thresholds' landscapes differs* (Table I; the
  paper: every p < 0.05). Statistic: the largest p-value over the pairs. "Every pair differs" is an
  intersection of alternatives, so the intersection-union test applies: it holds at level 0.05
  exactly where every pair's test rejects at 0.05, that is where the largest p lies below 0.05 (no
  multiplicity correction needed). Interval: the Monte Carlo uncertainty of the permutation test's
  own p-values (Clopper-Pearson on the count of relabellings at least as extreme, simultaneous over
  the pairs by Bonferroni), never below the exact test's floor, the smallest p-value two groups of
  that size allow (:func:`pvalue_floor`). Not testable where that floor is not below 0.05.
- ``<experiment>-depth``: *complexity does not fall monotonically with depth* in well-trained
  networks (Fig. 4, Sec. IV). Statistic: at the highest shown threshold, the largest rise of the
  mean landscape norm (Fig. 4's curve) from a layer to any deeper layer; > 0 exactly where the
  curve is not monotonically non-increasing.
- ``<experiment>-training``: *complexity rises with training* (Fig. 4, Sec. IV). Statistic: the
  mean over the layers after the input (the input is the same batch at every threshold) of the
  landscape norm at the highest shown threshold minus at the lowest, paired by network.

The two complexity claims are bootstrapped over networks (a network's input draws stay together:
they are not independent), percentile intervals (the largest rise is not a smooth statistic and
there are few networks).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from ...claims import Claim, Rule, bootstrap_interval, describe_bootstrap

# ----------------------------------------------------------------------------- the rules
# The paper's significance level (Table I: "statistically significant for the significance level
# of 0.05"); a rise of the complexity is a difference above 0.
LEVEL = 0.05
CLAIM_RULES = {
    "table1": Rule(LEVEL, "below"),
    "depth": Rule(0.0, "above"),
    "training": Rule(0.0, "above"),
}
# Below 3 networks a bootstrap over networks cannot give a 95 % interval (2 networks: half of the
# resamples repeat one network); those rows are not testable at this scale.
MIN_NETWORKS = 3
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_METHOD = "percentile"

# ----------------------------------------------------------------------------- the paper
# The paper's numbers, from its text (../shared/seeds/004_*.txt): Table I, Fig. 4 and Sec. IV. An
# experiment with local homology is the paper's MNIST experiment, one without its synthetic one.
PAPER = {
    "synthetic": {
        "table1": (
            "Table I top (synthetic, 100 networks): 55/70 % 0.01434, 55/85 % 0.00000, 55/99.999 % 0.00000, "
            "70/85 % 0.00792, 70/99.999 % 0.00000, 85/99.999 % 0.01579; all six < 0.05"
        ),
        "depth": (
            "Fig. 4 left, Sec. IV (no number): the norms are not monotonically decreasing through the layers, "
            "more so at higher thresholds"
        ),
        "training": "Fig. 4 left, Sec. IV (no number): complexity tends to increase with the training threshold",
    },
    "mnist": {
        "table1": "Table I bottom (MNIST, 10 networks): all six pairs of 60, 80, 95, 99.5 % at 0.00000; all < 0.05",
        "depth": (
            "Fig. 4 right, Sec. IV (no number): the norms are not monotonically decreasing through the layers, "
            "more so at higher thresholds"
        ),
        "training": "Fig. 4 right, Sec. IV (no number): complexity tends to increase with the training threshold",
    },
}

PAPER_NETWORKS = {"synthetic": 100, "mnist": 10}


def paper_experiment(local_homology: bool) -> str:
    """The paper's experiment an experiment of ours stands for: ``"mnist"`` with local homology."""
    return "mnist" if local_homology else "synthetic"


# ----------------------------------------------------------------------------- Table I
def pvalue_floor(n_a: int, n_b: int) -> float:
    """The smallest p-value the exact permutation test of two groups of ``n_a`` and ``n_b`` can
    give: the observed split alone among the ``C(n_a + n_b, n_a)`` splits, or with its mirror
    image when the groups are of one size (the distance between the means is symmetric)."""
    if n_a < 1 or n_b < 1:
        raise ValueError(f"groups need at least one sample each, got {n_a} and {n_b}")
    return (2 if n_a == n_b else 1) / math.comb(n_a + n_b, n_a)


def largest_pvalue(pvalues: np.ndarray, group_sizes: Sequence[int], permutations: int, level: float = 0.95) -> dict:
    """The intersection-union statistic of Table I and its interval.

    Parameters
    ----------
    pvalues : np.ndarray
        ``[shown, shown]`` p-values, finite on the tested pairs (upper triangle), as
        ``summarize_activation_landscapes`` writes them: ``(1 + k) / (1 + permutations)`` with
        ``k`` relabellings at least as extreme as the observed one.
    group_sizes : sequence of int
        The samples of each shown threshold's group.
    permutations : int
        Random relabellings of each test.
    level : float
        Simultaneous coverage over the pairs (Bonferroni: each pair's interval at
        ``1 - (1 - level) / pairs``).

    Returns
    -------
    dict
        ``value`` (the largest p-value; NaN when a pair was not tested), ``low``, ``high`` (each
        pair's exact p-value lies in its Clopper-Pearson interval of ``k / permutations``, raised to
        the pair's floor; the largest p-value then lies between the largest lower and the largest
        upper end), ``floor`` (the largest of the pairs' floors), ``pairs``.
    """
    from scipy.stats import beta

    shown = len(group_sizes)
    pairs = [(i, j) for i in range(shown) for j in range(i + 1, shown)]
    if not pairs:
        return {"value": math.nan, "low": math.nan, "high": math.nan, "floor": math.nan, "pairs": 0}
    values = np.array([pvalues[i, j] for i, j in pairs], dtype=float)
    if not np.all(np.isfinite(values)):
        return {"value": math.nan, "low": math.nan, "high": math.nan, "floor": math.nan, "pairs": len(pairs)}
    floors = np.array([pvalue_floor(group_sizes[i], group_sizes[j]) for i, j in pairs])
    counts = np.rint(values * (1 + permutations) - 1).astype(int).clip(0, permutations)
    alpha = (1 - level) / len(pairs)
    lows = np.where(counts > 0, beta.ppf(alpha / 2, counts, permutations - counts + 1), 0.0)
    highs = np.where(counts < permutations, beta.ppf(1 - alpha / 2, counts + 1, permutations - counts), 1.0)
    lows = np.maximum(lows, floors)
    highs = np.maximum(highs, lows)
    return {
        "value": float(values.max()),
        "low": float(lows.max()),
        "high": float(highs.max()),
        "floor": float(floors.max()),
        "pairs": len(pairs),
    }


# ----------------------------------------------------------------------------- complexity
def network_units(samples: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The networks of the samples (``<sweep>/<network>[/draw<k>]``) and each sample's network."""
    names = ["/".join(s.split("/")[:2]) for s in samples]
    networks = list(dict.fromkeys(names))
    return networks, np.array([networks.index(n) for n in names], dtype=np.int64)


def _samples_of(network_of: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """The sample indices of the networks ``indices`` (repeats kept: a network drawn twice counts twice)."""
    return np.concatenate([np.flatnonzero(network_of == i) for i in indices])


def largest_rise(norms: np.ndarray) -> float:
    """The largest rise ``max_{i < j} (norms[j] - norms[i])`` of a curve over the layers: > 0
    exactly where it is not monotonically non-increasing; NaN where it has a NaN."""
    norms = np.asarray(norms, dtype=float)
    if len(norms) < 2 or not np.all(np.isfinite(norms)):
        return math.nan
    lowest_before = np.minimum.accumulate(norms)[:-1]
    return float(np.max(norms[1:] - lowest_before))


def depth_statistic(norms: np.ndarray, network_of: np.ndarray, indices: np.ndarray, threshold: int) -> float:
    """:func:`largest_rise` of the mean norm per layer at ``threshold`` (Fig. 4's curve) over the
    samples of the networks ``indices`` that reached it. ``norms``: ``[sample, threshold, layer]``."""
    values = norms[_samples_of(network_of, indices), threshold]  # [samples, layer]
    values = values[np.all(np.isfinite(values), axis=1)]
    return largest_rise(values.mean(axis=0)) if len(values) else math.nan


def network_training_rise(norms: np.ndarray, network_of: np.ndarray, low: int, high: int) -> np.ndarray:
    """Per network, the mean over its samples and the layers after the input of the norm at
    threshold ``high`` minus at ``low`` (NaN where a sample reached only one of them)."""
    difference = norms[:, high, 1:] - norms[:, low, 1:]
    complete = np.all(np.isfinite(difference), axis=1) & (difference.shape[1] > 0)
    rise = np.full(len(norms), np.nan)
    rise[complete] = difference[complete].mean(axis=1)
    per_network = np.full(network_of.max() + 1, np.nan)
    for n in range(len(per_network)):
        mine = rise[network_of == n]
        per_network[n] = mine.mean() if len(mine) and np.all(np.isfinite(mine)) else np.nan
    return per_network


# ----------------------------------------------------------------------------- one experiment
def _span(sizes: Sequence[int]) -> str:
    return f"{min(sizes)}" if min(sizes) == max(sizes) else f"{min(sizes)}-{max(sizes)}"


def _pairs_not_below(pvalues: np.ndarray, shown: Sequence[float], level: float) -> str:
    """The tested pairs whose p-value is not below ``level``: ``"0.55/0.7 (0.90), ..."``."""
    return ", ".join(
        f"{shown[i]:g}/{shown[j]:g} ({pvalues[i, j]:.2g})"
        for i in range(len(shown)) for j in range(i + 1, len(shown))
        if np.isfinite(pvalues[i, j]) and pvalues[i, j] >= level
    )


def _pairs(count: int) -> str:
    return f"{count} pair" + ("" if count == 1 else "s")


def _table1_claim(experiment: str, summary: Mapping, paper_name: str, shown: Sequence[float], per: str, draws: int) -> Claim:
    """Table I: every pair of the shown thresholds' average landscapes differ (the largest
    permutation p-value)."""
    shown_text = ", ".join(f"{t:g}" for t in shown)
    sizes = [int(s) for s in summary["group_sizes"]]
    test = largest_pvalue(np.asarray(summary["pvalues"], dtype=float), sizes, int(summary["permutations"]))
    testable = bool(np.isfinite(test["floor"]) and test["floor"] < LEVEL)
    if np.isfinite(test["floor"]):
        note = (
            f"groups of {_span(sizes)} samples ({per}; paper: {PAPER_NETWORKS[paper_name]} networks); "
            f"smallest attainable p {test['floor']:.2g}"
        )
    else:
        note = f"a group of fewer than 2 samples ({per}; paper: {PAPER_NETWORKS[paper_name]} networks)"
    if not testable and np.isfinite(test["floor"]):
        note += f": the test cannot reach {LEVEL:g} at this scale"
    failing = _pairs_not_below(np.asarray(summary["pvalues"], dtype=float), shown, LEVEL)
    if failing and np.isfinite(test["value"]):
        note += f"; p >= {LEVEL:g} for {failing}"
    if draws > 1:
        note += "; samples are (network, input draw): the draws of one network are not independent"
    return Claim(
        id=f"{experiment}-table1",
        claim=f"The average activation landscapes of every pair of the thresholds {shown_text} differ (permutation test at 5 %).",
        paper=PAPER[paper_name]["table1"],
        statistic=f"largest p-value over the {_pairs(test['pairs'])} ({int(summary['permutations'])} relabellings each)",
        value=test["value"], low=test["low"], high=test["high"],
        interval_method=(
            "the p-values' own Monte Carlo error: Clopper-Pearson on each pair's count of relabellings, "
            f"simultaneous over the {_pairs(test['pairs'])} (Bonferroni), not below the exact test's floor"
        ),
        rule=CLAIM_RULES["table1"],
        scale_note=note,
        testable=testable,
    )


def _complexity_claims(
    experiment: str, summary: Mapping, paper_name: str, shown: Sequence[float], network_of: np.ndarray, n_networks: int,
    draws: int, per: str, seed: int,
) -> list[Claim]:
    """The complexity through the layers and over training, bootstrapped over networks (seeds
    ``seed``, ``seed + 1``; ``network_of``: each sample's network, :func:`network_units`)."""
    paper = PAPER[paper_name]
    thresholds = list(summary["thresholds"])
    norms = np.asarray(summary["norms"], dtype=float)
    top, bottom = thresholds.index(max(shown)), thresholds.index(min(shown))
    enough = n_networks >= MIN_NETWORKS

    def method(units):
        text = describe_bootstrap(units, "networks", BOOTSTRAP_RESAMPLES, BOOTSTRAP_METHOD)
        return text + (f" (a network's {draws} input draws resampled together)" if draws > 1 else "")

    scale = f"{per} (paper: {PAPER_NETWORKS[paper_name]} networks)"
    if not enough:
        scale += f"; fewer than {MIN_NETWORKS} networks: no 95 % interval over networks"

    everyone = np.arange(n_networks)
    value = depth_statistic(norms, network_of, everyone, top)
    low, high = _network_interval(
        n_networks, lambda idx: depth_statistic(norms, network_of, idx, top), seed, enough and np.isfinite(value)
    )
    depth = Claim(
        id=f"{experiment}-depth",
        claim=f"At {max(shown):g} training accuracy the topological complexity does not fall monotonically through the layers.",
        paper=paper["depth"],
        statistic=f"largest rise of the mean landscape norm from a layer to a deeper one, at {max(shown):g}",
        value=value, low=low, high=high,
        interval_method=method(n_networks),
        rule=CLAIM_RULES["depth"],
        scale_note=scale + "; the largest of many rises leans upward on few networks",
        testable=enough,
    )

    rises = network_training_rise(norms, network_of, bottom, top)
    finite = np.flatnonzero(np.isfinite(rises))
    value = float(rises[finite].mean()) if len(finite) else math.nan
    low, high = _network_interval(
        len(finite), lambda idx: float(rises[finite][idx].mean()), seed + 1, len(finite) >= MIN_NETWORKS
    )
    training = Claim(
        id=f"{experiment}-training",
        claim=f"The topological complexity rises with training, from {min(shown):g} to {max(shown):g} training accuracy.",
        paper=paper["training"],
        statistic=f"mean norm over the layers after the input at {max(shown):g} minus at {min(shown):g}, paired by network",
        value=value, low=low, high=high,
        interval_method=method(len(finite)),
        rule=CLAIM_RULES["training"],
        scale_note=scale if len(finite) == n_networks else scale + f"; {len(finite)} of them reached both thresholds",
        testable=len(finite) >= MIN_NETWORKS,
    )
    return [depth, training]


def experiment_claims(experiment: str, summary: Mapping, *, seed: int) -> list[Claim]:
    """The three claims of one experiment from its summary.

    Parameters
    ----------
    experiment : str
        The experiment's name (the rows' ids begin with it).
    summary : mapping
        ``norms`` ``[sample, threshold, layer]``, ``pvalues`` ``[shown, shown]``, ``group_sizes``
        ``[shown]``, and ``thresholds``, ``shown_thresholds``, ``layers``, ``samples``,
        ``permutations``, ``local_homology`` (the summary store's arrays and attrs).
    seed : int
        Seed of the bootstrap intervals.
    """
    paper_name = paper_experiment(bool(summary["local_homology"]))
    shown = list(summary["shown_thresholds"])
    networks, network_of = network_units(summary["samples"])
    n_networks, draws = len(networks), len(network_of) // max(len(networks), 1)
    per = f"{n_networks} networks" + (f" x {draws} input draws" if draws > 1 else "")
    return [_table1_claim(experiment, summary, paper_name, shown, per, draws)] + _complexity_claims(
        experiment, summary, paper_name, shown, network_of, n_networks, draws, per, seed
    )


def _network_interval(units: int, statistic, seed: int, testable: bool) -> tuple[float, float]:
    """The bootstrap interval over ``units`` networks of the study's settings; NaN where the claim
    cannot be tested."""
    if not testable:
        return (math.nan, math.nan)
    return bootstrap_interval(units, statistic, seed=seed, n_resamples=BOOTSTRAP_RESAMPLES, method=BOOTSTRAP_METHOD)
