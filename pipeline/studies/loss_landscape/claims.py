"""The loss-landscape paper's headline claims beside this run's evidence (Horoi et al., paper 002).

Each claim is a :class:`pipeline.claims.Claim` built from the study's tables (no fitting here):
Table 1's orderings and the jump-and-retrain (J&R) features above chance on each task, under the
paper's protocol (stratified folds over optima) and under folds that keep sibling optima together
(:func:`.steps.sibling_groups`); the scrambled control at chance; total persistence by weight decay
and against the test loss (Fig. 3B); the memorizer. The verdict rules are the constants below,
fixed before any number was seen. No torch or matplotlib here.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

from ...claims import Claim, Rule, bootstrap_interval, describe_bootstrap

# the feature sets of Table 1 (names in the tables; steps.FEATURE_SETS uses these)
CONTROL = "Scrambled J&R retrain loss and accuracy (control)"
GRID = "Grid sampling, train loss and accuracy"
NAIVE = "Naive sampling, train loss and accuracy"
JUMP_RETRAIN = "J&R sampling, retrain loss and accuracy"

# ------------------------------------------------------------------ the verdict rules (fixed in advance)
CLAIM_RULES = {
    # min(J&R - naive, naive - grid), mean over classifiers of paired differences, percentage points
    "order": Rule(0.0, "above"),
    # J&R accuracy - chance (1/#classes), percentage points
    "above_chance": Rule(0.0, "above"),
    # |control accuracy - chance|, percentage points: within 5 points of chance reproduces the
    # paper's control (which sat 0.7-5.6 points above it), within 10 partly
    "control": Rule(5.0, "below", partly=10.0),
    # min over consecutive weight decays of the mean (over sibling groups) of
    # TP(smaller weight decay) - TP(larger): total persistence falls with weight decay
    "tp_weight_decay": Rule(0.0, "above"),
    # Spearman rho of total persistence (H0) with the optimum's test loss
    "tp_test_loss": Rule(0.0, "above"),
    # the memorizer's train accuracy on its random labels
    "memorizer": Rule(0.99, "above", partly=0.9),
}
# total persistence claims are testable only where at least this fraction of the classified optima
# has any finite H0 pair (a total persistence above 0): else the statistic ranks mostly ties at 0
MIN_TOPOLOGY_FRACTION = 0.5
N_RESAMPLES = 2000

# Table 1 of the paper: mean +- standard error (%) over 11 classifiers, 10-fold cross-validation
PAPER_TABLE1 = {
    "generalization": {"chance": "20.0", CONTROL: "20.7 +- 1.1", GRID: "30.1 +- 2.7", NAIVE: "31.8 +- 4.0", JUMP_RETRAIN: "39.2 +- 4.3"},
    "weight decay": {"chance": "33.3", CONTROL: "38.9 +- 1.5", GRID: "51.1 +- 2.9", NAIVE: "55.7 +- 3.9", JUMP_RETRAIN: "58.2 +- 3.6"},
    "data augmentation": {"chance": "50.0", CONTROL: "52.7 +- 1.9", GRID: "62.3 +- 5.1", NAIVE: "67.6 +- 5.2", JUMP_RETRAIN: "72.1 +- 5.4"},
}
TASK_IDS = {"generalization": "gen", "weight decay": "wd", "data augmentation": "aug"}
PROTOCOLS = {
    "stratified": (
        "T1",
        "the paper's protocol: stratified folds over optima, so an optimum is tested while its siblings "
        "(the same configuration at the other weight decays) are among the training optima",
    ),
    "grouped": (
        "T1g",
        "grouped folds: every sibling group (the same sweep and hyperparameters, weight decay aside) in one fold, "
        "so each optimum is tested on a configuration the classifiers never saw",
    ),
}


def _task_key(task: str) -> str:
    """``"5-class generalization"`` -> ``"generalization"``; the other tasks keep their names."""
    return "generalization" if task.endswith("generalization") else task


def _paired(by_classifier: pd.DataFrame, protocol: str, task: str, names) -> pd.DataFrame:
    """Accuracies [classifier, feature set] of one protocol and task, classifiers fitted on every set."""
    rows = by_classifier[(by_classifier["protocol"] == protocol) & (by_classifier["task"] == task)]
    wide = rows.pivot(index="classifier", columns="features", values="accuracy")
    return wide.reindex(columns=list(names)).dropna()


def _claim(id, claim, paper, statistic, value, low, high, method, rule, note, testable=True) -> Claim:
    """A Claim; one whose statistic or interval cannot be computed is not testable here."""
    if not (math.isfinite(value) and math.isfinite(low) and math.isfinite(high)):
        testable = False
        note = (note + " " if note else "") + "The statistic or its interval cannot be computed from this run's optima."
    return Claim(id, claim, paper, statistic, float(value), float(low), float(high), method, rule, note, testable)


def table1_claims(
    by_classifier: pd.DataFrame, chance: Mapping[str, float], siblings: pd.DataFrame, scale: str, seed: int, n_resamples: int = N_RESAMPLES
) -> list[Claim]:
    """Table 1's claims on each task, under each protocol: the ordering J&R > naive > grid, J&R
    above chance, and (paper's protocol) the scrambled control at chance. Intervals: bootstrap over
    the classifiers, paired (each resample recomputes every feature set's mean over the same
    classifiers)."""
    claims = []
    tasks = list(dict.fromkeys(by_classifier["task"]))
    nn = siblings.set_index("features")
    for protocol, (prefix, protocol_text) in PROTOCOLS.items():
        if protocol not in set(by_classifier["protocol"]):
            continue
        for task in tasks:
            key = _task_key(task)
            paper = PAPER_TABLE1[key]
            tid = TASK_IDS[key]
            level = chance[key]
            wide = _paired(by_classifier, protocol, task, (JUMP_RETRAIN, NAIVE, GRID))
            jr, naive, grid = (wide[c].to_numpy() for c in (JUMP_RETRAIN, NAIVE, GRID))
            units = len(wide)
            means = f"J&R {jr.mean():.1f}, naive {naive.mean():.1f}, grid {grid.mean():.1f} % (chance {level:.1f}) over {units} classifiers"
            note = f"{scale} Ours ({protocol}): {means}."
            if key == "weight decay" and protocol == "stratified" and JUMP_RETRAIN in nn.index:
                s = nn.loc[JUMP_RETRAIN]
                note += (
                    f" Optima come in sibling groups that differ only in weight decay: each optimum's nearest neighbour "
                    f"(standardized J&R features) is a sibling {100 * s['nn_is_sibling']:.0f} % of the time and shares its weight decay "
                    f"{100 * s['nn_same_weight_decay']:.0f} % (a random other optimum: {100 * s['random_is_sibling']:.0f} %, "
                    f"{100 * s['random_same_weight_decay']:.0f} %), so these folds test each optimum against near-duplicates "
                    f"labelled otherwise and can fall below chance; the grouped row ({PROTOCOLS['grouped'][0]}-wd) removes that."
                )

            def order(i, jr=jr, naive=naive, grid=grid):
                return min(np.mean(jr[i] - naive[i]), np.mean(naive[i] - grid[i]))

            value = order(np.arange(units)) if units else math.nan
            low, high = bootstrap_interval(units, order, seed=seed + len(claims), n_resamples=n_resamples, method="percentile")
            claims.append(_claim(
                f"{prefix}-{tid}-order",
                f"On the {task} task, J&R features beat naive sampling, which beats grid sampling ({protocol_text}).",
                f"Table 1, {key}: J&R {paper[JUMP_RETRAIN]}, naive {paper[NAIVE]}, grid {paper[GRID]} % (11 classifiers, 10-fold CV)",
                "min(J&R - naive, naive - grid): mean over classifiers of paired accuracy differences, percentage points",
                value, low, high, describe_bootstrap(units, "classifiers, paired", n_resamples, "percentile"),
                CLAIM_RULES["order"], note,
            ))

            def above(i, jr=jr, level=level):
                return np.mean(jr[i]) - level

            value = above(np.arange(units)) if units else math.nan
            low, high = bootstrap_interval(units, above, seed=seed + len(claims), n_resamples=n_resamples)
            claims.append(_claim(
                f"{prefix}-{tid}-jr",
                f"J&R features predict the {task} class above chance ({protocol_text}).",
                f"Table 1, {key}: J&R {paper[JUMP_RETRAIN]} % against chance {paper['chance']} %",
                "J&R accuracy - chance (1/#classes), mean over classifiers, percentage points",
                value, low, high, describe_bootstrap(units, "classifiers", n_resamples, "BCa"),
                CLAIM_RULES["above_chance"], note,
            ))
            if protocol != "stratified":
                continue
            control = _paired(by_classifier, protocol, task, (CONTROL,))[CONTROL].to_numpy()

            def at_chance(i, control=control, level=level):
                return abs(np.mean(control[i]) - level)

            units = len(control)
            value = at_chance(np.arange(units)) if units else math.nan
            low, high = bootstrap_interval(units, at_chance, seed=seed + len(claims), n_resamples=n_resamples, method="percentile")
            claims.append(_claim(
                f"{prefix}-{tid}-control",
                f"Scrambled J&R features (rows permuted against the labels) predict the {task} class at chance: the classifiers "
                "do not learn from the features' distribution alone.",
                f"Table 1, {key}: randomized J&R {paper[CONTROL]} % against chance {paper['chance']} %",
                "|control accuracy - chance|, mean over classifiers, percentage points",
                value, low, high, describe_bootstrap(units, "classifiers", n_resamples, "percentile"),
                CLAIM_RULES["control"], f"{scale} Ours: control {np.mean(control):.1f} % (chance {level:.1f})." if units else scale,
            ))
    return claims


def _group_bootstrap(groups: np.ndarray, statistic, seed: int, n_resamples: int) -> tuple[float, float, float]:
    """The statistic over every group's optima, and its percentile interval over resampled groups
    (each resample pools the optima of the groups drawn, repeats included)."""
    labels = np.unique(groups)
    members = [np.flatnonzero(groups == g) for g in labels]

    def over(indices):
        return statistic(np.concatenate([members[i] for i in indices]))

    value = over(np.arange(len(labels)))
    low, high = bootstrap_interval(len(labels), over, seed=seed, n_resamples=n_resamples, method="percentile")
    return value, low, high


def persistence_claims(optima: pd.DataFrame, complex: str, scale: str, seed: int, n_resamples: int = N_RESAMPLES) -> list[Claim]:
    """Fig. 3B: total persistence (H0, the table's complex) falls with weight decay and rises with
    the optimum's test loss. Intervals: bootstrap over sibling groups (optima of one configuration
    at every weight decay), the units the optima are drawn in."""
    from scipy.stats import spearmanr

    every = optima[~optima["memorization"].astype(bool)].reset_index(drop=True)
    tp = every["total_persistence_h0"].to_numpy(float)
    other = "graph" if complex == "flag" else "flag"
    tp_other = every[f"tp_{other}_h0"].to_numpy(float)
    loss = every["optimum_test_loss"].to_numpy(float)
    groups = every["sibling_group"].to_numpy()
    decays = np.sort(every["weight_decay"].unique())
    with_topology = float(np.mean(tp > 0)) if len(tp) else 0.0
    enough = with_topology >= MIN_TOPOLOGY_FRACTION
    topology_note = (
        f"{scale} {np.sum(tp > 0)} of {len(tp)} optima have a total persistence above 0 on the {complex} complex"
        + ("" if enough else f" (fewer than {MIN_TOPOLOGY_FRACTION:.0%}: the statistic would rank ties at 0; not testable)")
        + "."
    )
    by_group = every.pivot_table(index="sibling_group", columns="weight_decay", values="total_persistence_h0")
    complete = by_group.dropna()
    tp_other_by_group = every.pivot_table(index="sibling_group", columns="weight_decay", values=f"tp_{other}_h0").dropna()

    def falls(table):
        def statistic(indices):
            rows = table.to_numpy()[indices]
            return min(np.mean(rows[:, j] - rows[:, j + 1]) for j in range(rows.shape[1] - 1))
        return statistic

    units = len(complete)
    if len(decays) >= 2 and units >= 2:
        value = falls(complete)(np.arange(units))
        low, high = bootstrap_interval(units, falls(complete), seed=seed, n_resamples=n_resamples, method="percentile")
        means = ", ".join(f"{d:g}: {complete[d].mean():.3g}" for d in complete.columns)
        other_value = falls(tp_other_by_group)(np.arange(len(tp_other_by_group)))
        note = (
            f"{topology_note} Means by weight decay ({units} complete groups): {means}; "
            f"on the {other} complex the statistic is {other_value:.3g}."
        )
    else:
        value = low = high = math.nan
        note = f"{scale} Needs two weight decays and two sibling groups with every weight decay."
    claims = [_claim(
        "TP-weight-decay",
        "Total persistence (H0) around an optimum falls with the weight decay it was trained with: highest without, lowest "
        "with the largest.",
        "Fig. 3B and Sec. 4.4: optima found with weight decay 1e-3 have the lowest total persistence, those without weight "
        "decay the highest (108 WResNets; no number given)",
        "min over consecutive weight decays of the mean over sibling groups of TP(smaller) - TP(larger), H0, "
        f"{complex} complex",
        value, low, high, describe_bootstrap(units, "sibling groups", n_resamples, "percentile"),
        CLAIM_RULES["tp_weight_decay"], note, testable=enough,
    )]

    def rho(values):
        def statistic(indices):
            if np.ptp(values[indices]) == 0 or np.ptp(loss[indices]) == 0:
                return math.nan
            return spearmanr(values[indices], loss[indices]).statistic
        return statistic

    n_groups = len(np.unique(groups))
    value, low, high = _group_bootstrap(groups, rho(tp), seed + 1, n_resamples) if len(tp) >= 3 else (math.nan,) * 3
    other_rho = rho(tp_other)(np.arange(len(tp))) if len(tp) >= 3 else math.nan
    claims.append(_claim(
        "TP-test-loss",
        "Optima of higher test loss are surrounded by more topological activity: total persistence (H0) rises with the "
        "test loss at the optimum.",
        "Fig. 3B and Sec. 4.4: optima surrounded by high total persistence tend to have a higher test loss (108 WResNets; "
        "no correlation given)",
        f"Spearman rho of total persistence (H0, {complex} complex) with the test loss at the optimum",
        value, low, high, describe_bootstrap(n_groups, "sibling groups", n_resamples, "percentile"),
        CLAIM_RULES["tp_test_loss"], f"{topology_note} On the {other} complex rho = {other_rho:.3g}.", testable=enough,
    ))
    return claims


def memorizer_claim(optima: pd.DataFrame, scale: str) -> Claim:
    """The memorizer reaches (near) perfect train accuracy on its random labels; its test accuracy
    stays at chance (in the note)."""
    memorizers = optima[optima["memorization"].astype(bool)]
    paper = (
        "Sec. 4.1: a WRN28-2 trained on CIFAR-10 with completely randomized labels memorizes them (after Zhang et al.); "
        "Sec. 4.3: all networks reach ~0 train loss; Fig. 2f its J&R landscape"
    )
    claim = "A network trained on random labels memorizes them: train accuracy 1 at its optimum, test accuracy at chance."
    statistic = "train accuracy at the optimum on its own random labels (lowest over memorizers)"
    if memorizers.empty:
        return _claim("M-memorizes", claim, paper, statistic, math.nan, math.nan, math.nan, "exact (no sampling)",
                      CLAIM_RULES["memorizer"], f"{scale} No memorization sweep configured.", testable=False)
    train = float(memorizers["optimum_train_accuracy"].min())
    test = float(memorizers["optimum_test_accuracy"].max())
    note = (
        f"{scale} {len(memorizers)} memorizer(s): test accuracy {test:.3f}. The shape of its J&R landscape "
        "(Fig. 2f, like the bad optimum's) is drawn in good_bad_memorization.png, not tested."
    )
    return _claim("M-memorizes", claim, paper, statistic, train, train, train, "exact (one value per network, no sampling)",
                  CLAIM_RULES["memorizer"], note)


def loss_landscape_claims(
    optima: pd.DataFrame,
    by_classifier: pd.DataFrame,
    siblings: pd.DataFrame,
    *,
    complex: str,
    folds: int,
    repeats: int,
    seed: int,
    n_resamples: int = N_RESAMPLES,
) -> list[Claim]:
    """Every claim of the study from its tables (optima, table1_by_classifier, siblings)."""
    every = optima[~optima["memorization"].astype(bool)]
    chance = {
        "generalization": 100.0 / every["generalization_class"].nunique(),
        "weight decay": 100.0 / every["weight_decay"].nunique(),
        "data augmentation": 100.0 / every["augment"].nunique(),
    }
    scale = (
        f"Scale: {len(every)} optima in {every['sibling_group'].nunique()} sibling groups, {folds}-fold CV x {repeats} "
        "(paper: 108 WResNets on CIFAR-10, 640 samples each, 10-fold CV); the interval covers the choice of classifiers, "
        "not the draw of optima or folds."
    )
    tp_scale = f"Scale: {len(every)} optima (paper: 108 WResNets on CIFAR-10, 640 J&R samples each)."
    return [
        *table1_claims(by_classifier, chance, siblings, scale, seed, n_resamples),
        *persistence_claims(optima, complex, tp_scale, seed + 1000, n_resamples),
        memorizer_claim(optima, "Scale: digits (paper: CIFAR-10, WRN28-2)."),
    ]
