"""The learning-graphs paper's headline claims, how each is measured, and the rule that gives its
verdict (fixed here before the numbers were seen; :mod:`pipeline.claims`). No torch or
matplotlib.

- Branch counts (Gabella §3.1, Fig. 3: zero initialization ends with 10 output branches, "one
  for each of the 10 digits", and "only 12 distinct branches" in the hidden layer of 100 neurons;
  §3.2, Fig. 5: tiny initialization, "a tree with 10 distinctive branches"). Our count is the
  branches at the end of the learning graph's main piece, the one spanning the longest stretch of
  training (:meth:`pipeline.kernels.mapper.Branching.connected_branches`), every branching lasting
  ``min_branch_snapshots`` counted, at the default cover; the statistic is its distance from the
  paper's count, and its interval the range of that distance over the cover settings of the
  stability grid (one network: there is nothing to resample over networks). The graph's pieces
  are reported apart, never as branches.
- Branchings at accuracy jumps (§3.1: "This first branching triggers a steep increase in the
  model's accuracy"; §3.2, Fig. 8: the output layer branches around epoch 28 while accuracy
  jumps from 10 % to about 40 %). Over every analysed network's output layer: the fraction of its
  significant branchings within ``COINCIDENCE_SNAPSHOTS`` recorded steps of an accuracy jump (a
  rise of test accuracy of at least ``JUMP_MIN`` between consecutive recorded steps), minus the
  fraction expected were the branchings placed uniformly at random over the recorded span (the
  share of the span within that window of a jump); bootstrap over networks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ...claims import Claim, Rule, bootstrap_interval, describe_bootstrap

# the paper's counts (§3.1, §3.2)
PAPER_COUNTS = {"zero-output-branches": 10, "zero-hidden-branches": 12, "tiny-output-branches": 10}
# Verdict rules. Counts: the distance |ours - paper| within 1 branch over the whole cover grid:
# reproduced; within less than half the paper's count: partly. Coincidence: more branchings at
# jumps than chance places there (the whole interval above 0).
CLAIM_RULES = {
    "zero-output-branches": Rule(1.5, "below", partly=5.0),
    "zero-hidden-branches": Rule(1.5, "below", partly=6.0),
    "tiny-output-branches": Rule(1.5, "below", partly=5.0),
    "branchings-at-jumps": Rule(0.0, "above"),
}
# an accuracy jump: test accuracy rising by at least this between two consecutive recorded steps
JUMP_MIN = 0.05
# a branching coincides with a jump within this many recorded steps, either side
COINCIDENCE_SNAPSHOTS = 3
N_RESAMPLES = 2000


@dataclass(frozen=True)
class CountItem:
    """One layer of one network, as the count claims read it."""

    lasting: int  # connected branches, every branching lasting min_branch_snapshots
    connected: int  # connected branches, significant branchings
    pieces: int
    detached: int  # significant branchings in other pieces
    previous: int  # pieces + branchings, the count before issue 19
    grid: np.ndarray  # lasting connected branches at each cover setting
    grid_settings: np.ndarray  # [g, 2] cubes, overlap
    main_holds_start: bool = True


def count_claim(claim_id: str, claim: str, paper: str, item: CountItem | None, *, missing: str, scale: str) -> Claim:
    """A branch-count claim: ``|lasting - paper|`` and its range over the cover grid."""
    target = PAPER_COUNTS[claim_id]
    statistic = f"|connected branches - {target}|: branches at the end of the graph's main (longest-lived) piece, default cover"
    if item is None:
        return Claim(claim_id, claim, paper, statistic, math.nan, math.nan, math.nan, "none", CLAIM_RULES[claim_id],
                     scale_note=missing, testable=False)
    distances = np.abs(np.append(item.grid, item.lasting) - target)
    cubes = sorted({int(c) for c in item.grid_settings[:, 0]})
    overlaps = sorted({float(o) for o in item.grid_settings[:, 1]})
    method = (
        f"range over the {len(item.grid)} cover settings of the stability grid (cubes {cubes} x overlap {overlaps}); "
        "one network, so no resampling over networks"
    )
    note = (
        f"ours: {item.lasting} connected branches (grid {int(item.grid.min())}-{int(item.grid.max())}; "
        f"{item.connected} with only the bootstrap-significant branchings); the graph has {item.pieces} "
        f"piece{'s' * (item.pieces != 1)}, with {item.detached} significant branching{'s' * (item.detached != 1)} "
        f"outside the main piece{'' if item.main_holds_start else ', which does not hold the start (its piece stops early)'}; "
        f"the count before issue 19 (pieces + branchings): {item.previous}. {scale}"
    )
    return Claim(claim_id, claim, paper, statistic, float(abs(item.lasting - target)), float(distances.min()),
                 float(distances.max()), method, CLAIM_RULES[claim_id], scale_note=note)


def jump_epochs(epochs: np.ndarray, accuracy: np.ndarray, minimum: float = JUMP_MIN) -> np.ndarray:
    """The epochs at which test accuracy is recorded after rising by at least ``minimum`` since
    the previous recorded step."""
    rises = np.diff(np.asarray(accuracy, dtype=np.float64))
    return np.asarray(epochs, dtype=np.float64)[1:][rises >= minimum]


def window_share(jumps: np.ndarray, start: float, end: float, window: float) -> float:
    """The share of ``[start, end]`` within ``window`` of one of ``jumps`` (the chance that a
    point placed uniformly on the span falls near a jump)."""
    if end <= start:
        raise ValueError(f"the recorded span must have positive length, got [{start}, {end}]")
    intervals = sorted((max(start, j - window), min(end, j + window)) for j in jumps)
    covered, reach = 0.0, start
    for low, high in intervals:
        low = max(low, reach)
        if high > low:
            covered += high - low
            reach = high
    return covered / (end - start)


@dataclass(frozen=True)
class NetworkCoincidence:
    """One network's output layer: its significant branchings, how many fall near a jump, and
    the chance share of the span near a jump."""

    branchings: int
    coinciding: int
    chance: float


def network_coincidence(splits: np.ndarray, epochs: np.ndarray, accuracy: np.ndarray, window: float) -> NetworkCoincidence:
    """:class:`NetworkCoincidence` of split epochs ``splits`` against ``accuracy`` over ``epochs``."""
    splits = np.asarray(splits, dtype=np.float64).ravel()
    jumps = jump_epochs(epochs, accuracy)
    near = np.array([np.any(np.abs(jumps - s) <= window) for s in splits], dtype=bool) if len(jumps) else np.zeros(len(splits), bool)
    return NetworkCoincidence(len(splits), int(near.sum()), window_share(jumps, float(epochs[0]), float(epochs[-1]), window))


def excess_coincidence(networks: Sequence[NetworkCoincidence]) -> float:
    """The pooled fraction of branchings near a jump minus the fraction chance puts there."""
    total = sum(n.branchings for n in networks)
    if total == 0:
        return math.nan
    return (sum(n.coinciding for n in networks) - sum(n.branchings * n.chance for n in networks)) / total


def coincidence_claim(networks: Sequence[NetworkCoincidence], *, seed: int, scale: str) -> Claim:
    """The branchings-at-jumps claim over networks (bootstrap over the networks that branch)."""
    claim_id = "branchings-at-jumps"
    units = [n for n in networks if n.branchings > 0]
    value = excess_coincidence(units)
    statistic = (
        f"share of output-layer significant branchings within {COINCIDENCE_SNAPSHOTS} recorded steps of an accuracy jump "
        f"(test accuracy +{JUMP_MIN:g} or more between recorded steps), minus the share chance puts there"
    )
    observed = sum(n.coinciding for n in units) / max(1, sum(n.branchings for n in units))
    chance = observed - value if units else math.nan
    note = (
        f"{sum(n.branchings for n in units)} significant branchings of {len(units)} of {len(networks)} networks; "
        f"observed share {observed:.2f}, chance {chance:.2f}. {scale}"
    )
    if len(units) < 2:
        return Claim(claim_id, "The output layer's branchings coincide with jumps of the test accuracy.", PAPER_COINCIDENCE,
                     statistic, value, math.nan, math.nan, "none: fewer than 2 networks branch", CLAIM_RULES[claim_id],
                     scale_note=note + " Fewer than 2 networks branch: nothing to resample.", testable=False)
    low, high = bootstrap_interval(len(units), lambda idx: excess_coincidence([units[i] for i in idx]), seed=seed,
                                   n_resamples=N_RESAMPLES)
    testable = math.isfinite(low) and math.isfinite(high)
    return Claim(
        claim_id, "The output layer's branchings coincide with jumps of the test accuracy.", PAPER_COINCIDENCE, statistic,
        value, low, high, describe_bootstrap(len(units), "networks with a significant output-layer branching", N_RESAMPLES),
        CLAIM_RULES[claim_id], scale_note=note, testable=testable,
    )


PAPER_COINCIDENCE = (
    "§3.1 (Fig. 3, zero init): 'This first branching triggers a steep increase in the model's accuracy'; §3.2 (Fig. 8, "
    "tiny init): the output layer branches around epoch 28 while accuracy jumps from 10 % to about 40 %"
)
PAPER_TEXT = {
    "zero-output-branches": (
        "Zero initialization: the output layer's learning graph branches until there are 10 branches, one per digit.",
        "§3.1, Fig. 3 (bottom right): 10 branches ('as many branches as output neurons, one for each of the 10 digits')",
    ),
    "zero-hidden-branches": (
        "Zero initialization: the hidden layer (100 neurons) ends with only 12 distinct branches.",
        "§3.1, Fig. 3 (bottom left): 12 branches after 50 epochs",
    ),
    "tiny-output-branches": (
        "Tiny initialization (sigma 1e-6): the output layer develops a tree with 10 distinctive branches.",
        "§3.2, Fig. 5 (bottom right): 10 branches, 'associated with the 10 digit classes'",
    ),
}
