"""The claims of Abel et al. (paper 003) beside this run's evidence (``pipeline.claims``).

Each headline claim of the paper becomes one or more :class:`pipeline.claims.Claim` rows per
sweep (architecture): Table 1 (diffusion puts the best networks closest), the correlation of
accuracy with each characterization of a representation (over all networks and over the
networks above chance), the graph-Fourier ordering of the signals, and the suggested network.
The verdict rules below were fixed before any number was looked at; no verdict is typed.

The diffusion-based claims depend on the kernel's bandwidth: the paper's sigma = 0.5 on raw
activations (``bandwidth: absolute``) leaves P the identity to rounding for many trained
networks, whose operators then coincide. So Table 1, the entropy and the DSMI are reported with
both bandwidths, the configured one (read from the pipeline's stores) and the other one
(computed here from the same representations and ``sigma``).

Table 1 is a statistic of PHATE embeddings: it is computed over ``claims_phate_seeds`` PHATE seeds
(the first being ``phate_seed``, the embedding of the pipeline) and averaged; its interval is a
bootstrap over networks of that seed average, on the embeddings held fixed (a resample draws
networks, the top N are the N best draws, pairs of copies of one network are left out).
"""

from __future__ import annotations

import math
from typing import Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

from ...claims import Claim, Rule, bootstrap_interval, describe_bootstrap
from ...kernels import diffusion, embedding, graphs
from ...kernels import distances as distance_kernels

# --------------------------------------------------------------------- rules (fixed beforehand)
CLAIM_RULES = {
    # diffusion's normalized top-N distance minus the smallest of the other kinds' (< 0: closest)
    "table1": Rule(0.0, "below"),
    # signed r^2 of accuracy against a characterization: strong and positive as the paper reports
    # (its r^2 0.64-0.92); partly: a positive correlation (whole interval above 0)
    "r2": Rule(0.5, "above", partly=0.0),
    # GFT: the rougher of accuracy and learning rate over the smoother of weight decay and momentum
    # (< 1: both "low-frequency" signals are smoother than both "high-frequency" ones)
    "gft": Rule(1.0, "below"),
    # the suggested network beats or ties this fraction of its sweep: within the top 15 % (the top
    # 30 of 200 it is drawn from); partly: above the median
    "suggestion": Rule(0.85, "above", partly=0.5),
}
# A network is "above chance" when its test accuracy exceeds ABOVE_CHANCE times the chance level
# 1 / (number of classes); networks that never learned sit at about 1 / classes.
ABOVE_CHANCE = 2.0
# Below this many networks (units of the bootstrap) a row is "not testable at this scale": too few
# networks for a correlation, a top-N group or a graph of networks to mean what the paper's 200 do.
MIN_NETWORKS = 20
# P counts as "the identity to 1 %" when the mean of its diagonal exceeds this.
NEAR_IDENTITY = 0.99
OTHER_KINDS = ("distance", "knn", "weights")
ARCHITECTURE_NAMES = {"mlp": "MLP", "cnn": "CNN", "resnet9": "ResNet-9"}
BANDWIDTH_LABEL = {"absolute": "abs", "median": "median"}

PAPER_TABLE1 = {  # Table 1 (MLPs on MNIST); weights: Appendix B
    10: {"diffusion": 0.0790, "distance": 0.2349, "knn": 0.1788, "weights": 0.3721},
    20: {"diffusion": 0.1347, "distance": 0.4449, "knn": 0.2257, "weights": 0.5316},
    30: {"diffusion": 0.1373, "distance": 0.4751, "knn": 0.3312, "weights": 0.5504},
}
PAPER_R2 = {  # section 5.2: (ResNet, CNN, MLP)
    "centroid_distance": "r^2 = 0.89 ResNet, 0.74 CNN, 0.89 MLP (section 5.2, class structure)",
    "within_class_variance": "r^2 = 0.84 ResNet, 0.64 CNN, 0.91 MLP (section 5.2, average class variance)",
    "ari": "r^2 = 0.92 ResNet, 0.71 CNN, 0.89 MLP (section 5.2, ARI against the labels)",
    "entropy": "DSE increases with test accuracy, all three architectures (Fig. 7; no r^2 given; t = 0)",
    "dsmi": "DSMI higher for accurate networks, all three architectures (Fig. 13, App. D; no r^2 given)",
}
CHARACTERIZATION_TEXT = {
    "centroid_distance": "class-centroid distance",
    "within_class_variance": "within-class spread",
    "ari": "ARI of the Ward clusters",
    "entropy": "diffusion spectral entropy",
    "dsmi": "DSMI",
}
PAPER_GFT = (
    "App. D: accuracy and learning rate low-frequency, momentum and weight decay high-frequency; "
    "its quadratic forms (acc / lr / wd / momentum) 1335.4 / 800.3 / 388.1 / 1525.5 ResNets (Fig. 14), "
    "891.8 / 688.5 / 384.1 / 1497.5 CNNs (Fig. 15): by these weight decay is the smoothest"
)
PAPER_SUGGESTION = "97.04 % test accuracy of the MLP trained with the suggested hyperparameters (section 5.1.1; the sweep's best not given)"


# ------------------------------------------------------------------------------ statistics
def signed_r2(x: np.ndarray, y: np.ndarray) -> float:
    """``sign(r) r^2`` of the Pearson correlation (NaN for fewer than 3 points or a constant)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    x, y = x - x.mean(), y - y.mean()
    r = float(x @ y) / math.sqrt(float(x @ x) * float(y @ y))
    return math.copysign(r * r, r)


def _signed_r2_of_finite(x: np.ndarray, y: np.ndarray) -> float:
    # signed_r2 of finite values, without the checks (a bootstrap calls it thousands of times)
    x, y = x - x.mean(), y - y.mean()
    sxx, syy = float(x @ x), float(y @ y)
    if len(x) < 3 or sxx == 0 or syy == 0:
        return math.nan
    r = float(x @ y) / math.sqrt(sxx * syy)
    return math.copysign(r * r, r)


def top_counts(counts: np.ndarray, order: np.ndarray, top: int) -> np.ndarray:
    """The multiplicities of the ``top`` best draws of a resample: ``counts`` per network, networks
    ranked best first by ``order``; the last network reached may enter with part of its copies."""
    ranked = counts[order]
    before = np.cumsum(ranked) - ranked
    taken = np.clip(top - before, 0, ranked)
    out = np.zeros_like(counts)
    out[order] = taken
    return out


def mean_pair_distance(distances: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Mean distance over pairs of draws of distinct networks (``counts`` per network), for a stack
    ``[K, m, m]`` of distance matrices with a zero diagonal: ``c^T D c / ((sum c)^2 - sum c^2)``."""
    counts = np.asarray(counts, dtype=np.float64)
    pairs = counts.sum() ** 2 - np.sum(counts**2)
    if pairs <= 0:
        return np.full(distances.shape[0], np.nan)
    drawn = np.flatnonzero(counts)
    c = counts[drawn]
    if len(drawn) < distances.shape[1] // 2:  # few networks: their block only
        block = distances[:, drawn[:, None], drawn[None, :]]
        return (block.reshape(-1, len(drawn)) @ c).reshape(len(distances), -1) @ c / pairs
    k, m = distances.shape[:2]
    return (distances.reshape(k * m, m) @ counts).reshape(k, m) @ counts / pairs


class Table1Resampler:
    """Normalized top-N PHATE distances of every embedding of one sweep for a resample of networks.

    ``embeddings`` maps a name to ``[S, m, 2]`` coordinates (S PHATE seeds); a resample (network
    indices) gives, per name and N, the seed average of the normalized mean pairwise distance of
    the N best draws (pairs of copies of one network left out; with no repeats this is exactly
    :func:`pipeline.kernels.distances.normalized_top_distance`). Results are cached per resample,
    so the claims of one sweep (every N and bandwidth, bootstrapped with one seed: the same
    resamples) share them.
    """

    def __init__(self, embeddings: Mapping[str, np.ndarray], accuracy: np.ndarray, top: Sequence[int]):
        from scipy.spatial.distance import pdist, squareform

        self.names = list(embeddings)
        self.seeds = next(iter(embeddings.values())).shape[0]
        stack = [squareform(pdist(coords)) for name in self.names for coords in embeddings[name]]
        self.distances = np.stack(stack)  # [names * seeds, m, m]
        self.order = distance_kernels.rank_descending(accuracy)
        self.m = len(accuracy)
        self.top = [n for n in top if n < self.m]
        self._cache: dict[bytes, dict] = {}

    def values(self, indices: np.ndarray) -> dict:
        key = np.asarray(indices, dtype=np.int64).tobytes()
        if key not in self._cache:
            counts = np.bincount(indices, minlength=self.m)
            overall = mean_pair_distance(self.distances, counts)
            result = {}
            for n in self.top:
                ratio = mean_pair_distance(self.distances, top_counts(counts, self.order, n)) / overall
                per_name = ratio.reshape(len(self.names), self.seeds)
                result[n] = {name: per_name[i] for i, name in enumerate(self.names)}
                result[n]["mean"] = dict(zip(self.names, per_name.mean(axis=1)))
            self._cache[key] = result
        return self._cache[key]

    def difference(self, indices: np.ndarray, top: int, diffusion_name: str) -> float:
        """Seed-averaged diffusion value minus the smallest seed-averaged other kind's."""
        mean = self.values(indices)[top]["mean"]
        return float(mean[diffusion_name] - min(mean[k] for k in OTHER_KINDS))


def gft_contributions(distances: np.ndarray, signals: Mapping[str, np.ndarray], knn: int) -> dict[str, np.ndarray]:
    """Each network's share of each signal's graph quadratic form on the graph of the networks'
    diffusion distances (:func:`pipeline.kernels.graphs.affinity_from_distances`, z-scored signals
    as :func:`pipeline.kernels.graphs.laplacian_smoothness`): ``q_i = 1/2 sum_j W_ij (s_i - s_j)^2``,
    whose sum over the networks is the quadratic form."""
    affinity = graphs.affinity_from_distances(distances, knn)
    out = {}
    for name, values in signals.items():
        v = np.asarray(values, dtype=np.float64)
        v = v - v.mean()
        if v.std() > 0:
            v = v / v.std()
        out[name] = 0.5 * np.sum(affinity * (v[:, None] - v[None, :]) ** 2, axis=1)
    return out


def gft_ratio(contributions: Mapping[str, np.ndarray], indices: np.ndarray | None = None) -> float:
    """max(quadratic form of accuracy, of lr) / min(of weight decay, of momentum), from the networks'
    contributions (all networks, or the drawn ``indices``: the graph held fixed)."""
    s = {name: float(np.sum(q if indices is None else q[indices])) for name, q in contributions.items()}
    rough = min(s["weight_decay"], s["momentum"])
    return max(s["test_accuracy"], s["lr"]) / rough if rough > 0 else math.nan


LOG_SCALED = ("lr", "weight_decay")  # hyperparameters whose GFT signal is their log10


def gft_signals(features: pd.DataFrame) -> dict[str, np.ndarray]:
    out = {}
    for signal in ("test_accuracy", "lr", "weight_decay", "momentum"):
        values = features[signal].to_numpy(np.float64)
        out[signal] = graphs.log_signal(values) if signal in LOG_SCALED else values
    return out


# --------------------------------------------------------------- the other bandwidth, computed
def operators_with(activations: np.ndarray, sigma: float, bandwidth: str) -> np.ndarray:
    """Diffusion operators ``[m, n, n]`` of every network with the given bandwidth."""
    out = np.empty((activations.shape[0], activations.shape[1], activations.shape[1]))
    for i, points in enumerate(activations):
        points = np.asarray(points, dtype=np.float64)
        out[i] = diffusion.diffusion_operator(points, diffusion.kernel_bandwidth(points, sigma, bandwidth))
    return out


def entropies(operators: np.ndarray, labels: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """DSE and DSMI of each operator (as ``characterize_networks`` computes them)."""
    dse, dsmi = [], []
    for p in operators:
        kernel = diffusion.kernel_of_operator(p)
        dse.append(diffusion.diffusion_spectral_entropy(kernel, t))
        dsmi.append(diffusion.diffusion_spectral_mutual_information(kernel, labels, t))
    return np.array(dse), np.array(dsmi)


def near_identity(operators_diagonal_mean: np.ndarray, accuracy: np.ndarray, top: int) -> tuple[int, int]:
    """How many of the ``top`` best networks have P the identity to 1 % (and ``top`` itself)."""
    best = distance_kernels.rank_descending(accuracy)[: min(top, len(accuracy))]
    return int(np.sum(operators_diagonal_mean[best] > NEAR_IDENTITY)), len(best)


# ------------------------------------------------------------------------------- the claims
def _interval(units: int, statistic, value: float, seed: int, resamples: int, method: str = "BCa"):
    if not math.isfinite(value):
        return math.nan, math.nan
    low, high = bootstrap_interval(units, statistic, seed=seed, n_resamples=resamples, method=method)
    if not (math.isfinite(low) and math.isfinite(high)):
        return value, value
    return low, high


class _Sweep(NamedTuple):
    """What every claim of one sweep names: the sweep, its architecture (key and display name,
    with its article), its size, the scale note, the configured bandwidth, and the bootstrap's
    seed and resamples."""

    sweep: str
    architecture: str
    arch: str
    a_arch: str
    m: int
    scale: str
    configured: str
    seed: int
    resamples: int


def _small(units: int) -> str:
    return f"; not testable: {units} networks, fewer than {MIN_NETWORKS}" if units < MIN_NETWORKS else ""


def _table1_paper_text(n: int, architecture: str, arch: str) -> str:
    paper = PAPER_TABLE1.get(n)
    paper_text = (
        f"MLPs on MNIST, top {n}: diffusion {paper['diffusion']:.4f}, distance {paper['distance']:.4f}, "
        f"kNN {paper['knn']:.4f} (Table 1), weights {paper['weights']:.4f} (App. B); sigma = 0.5"
        if paper
        else f"Table 1 gives top 10/20/30 only (not top {n})"
    )
    if architecture != "mlp":
        paper_text = f"not reported for {arch}s (Table 1 is MLPs only); " + paper_text
    return paper_text


def _table1_claims(
    s: _Sweep, accuracy: np.ndarray, embeddings: Mapping[str, np.ndarray], diagonal_means: Mapping[str, np.ndarray],
    top: Sequence[int],
) -> tuple[list[Claim], list[dict]]:
    """The Table 1 claims of one sweep, per bandwidth and top N, and its robustness rows per kind
    and PHATE seed."""
    m = s.m
    seeds = next(iter(embeddings.values())).shape[0]
    resampler = Table1Resampler(embeddings, accuracy, top)
    claims, rows = [], []
    everyone = np.arange(m)
    for bandwidth in ("absolute", "median"):
        label = BANDWIDTH_LABEL[bandwidth]
        name = f"diffusion_{label}"
        for n in top:
            paper_text = _table1_paper_text(n, s.architecture, s.arch)
            if n >= m:
                value, low, high, kinds_text, identity = math.nan, math.nan, math.nan, "", ""
            else:
                seed_values = resampler.values(everyone)[n]
                value = resampler.difference(everyone, n, name)
                low, high = _interval(m, lambda idx, n=n, name=name: resampler.difference(idx, n, name), value, s.seed, s.resamples)
                kinds_text = ", ".join(
                    f"{k} {np.mean(seed_values[k]):.3f}" for k in ("diffusion_" + label, *OTHER_KINDS)
                ).replace(f"diffusion_{label}", "diffusion")
                ident, total = near_identity(diagonal_means[label], accuracy, n)
                identity = f"P the identity to 1 % for {ident} of the top {total}"
                for k in (name, *OTHER_KINDS):
                    if k in OTHER_KINDS and bandwidth != "absolute":
                        continue
                    rows.append({
                        "sweep": s.sweep, "kind": k, "top": n,
                        **{f"seed_{i}": float(seed_values[k][i]) for i in range(seeds)},
                        "mean": float(np.mean(seed_values[k])), "seed_range": float(np.ptp(seed_values[k])),
                        "p_identity_in_top": ident if k == name else math.nan,
                    })
            claims.append(Claim(
                id=f"T1-{s.architecture}-top{n}-{label}",
                claim=(
                    f"Diffusion operators ({'sigma = 0.5 absolute, the paper' if bandwidth == 'absolute' else 'sigma x median distance'}) "
                    f"place the top {n} {s.arch}s closer together in PHATE than distance, kNN and weight matrices"
                ),
                paper=paper_text,
                statistic=(
                    f"diffusion minus the smallest other kind of the normalized top-{n} PHATE distance, mean over {seeds} "
                    f"PHATE seeds ({kinds_text})"
                ),
                value=value, low=low, high=high,
                interval_method=describe_bootstrap(m, "networks (embeddings fixed, copies' pairs left out)", s.resamples),
                rule=CLAIM_RULES["table1"],
                scale_note="; ".join(part for part in (
                    s.scale,
                    identity,
                    "computed here (the pipeline's bandwidth is the other)" if bandwidth != s.configured else "",
                    f"top {n} of {m} is {n / m:.0%} of the sweep" if n < m and n / m > 0.25 else "",
                    f"no top {n} below {m} networks" if n >= m else "",
                ) if part) + _small(m),
                testable=m >= MIN_NETWORKS,
            ))
    return claims, rows


def _r2_claims(
    s: _Sweep, accuracy: np.ndarray, n_classes: int, features: pd.DataFrame, alternative_entropies: Mapping[str, np.ndarray],
) -> list[Claim]:
    """The signed r^2 of test accuracy with each characterization (the diffusion-based ones with
    both bandwidths), over all networks and over those above chance."""
    m = s.m
    chance = 1.0 / n_classes
    above = np.flatnonzero(accuracy > ABOVE_CHANCE * chance)
    at_chance = m - len(above)
    everyone = np.arange(m)
    series = {key: features[key].to_numpy(np.float64) for key in CHARACTERIZATION_TEXT}
    alternative = "median" if s.configured == "absolute" else "absolute"
    variants = [(key, s.configured, series[key]) for key in CHARACTERIZATION_TEXT]
    variants += [(key, alternative, np.asarray(alternative_entropies[key], float)) for key in ("entropy", "dsmi")]
    claims = []
    for key, bandwidth, values in variants:
        diffusion_based = key in ("entropy", "dsmi")
        suffix = f"-{BANDWIDTH_LABEL[bandwidth]}" if diffusion_based else ""
        for population, members in (("all", everyone), ("above-chance", above)):
            acc, val = accuracy[members], values[members]
            finite = np.isfinite(acc) & np.isfinite(val)
            acc, val = acc[finite], val[finite]
            value = signed_r2(acc, val)
            low, high = _interval(
                len(acc), lambda idx, acc=acc, val=val: _signed_r2_of_finite(acc[idx], val[idx]), value, s.seed, s.resamples
            )
            note = f"{s.scale}; {at_chance} of {m} at chance (test accuracy <= {ABOVE_CHANCE:g} x chance, {ABOVE_CHANCE * chance:.2g})"
            if diffusion_based:
                note += f"; bandwidth {bandwidth}" + (" (computed here)" if bandwidth != s.configured else "")
            claims.append(Claim(
                id=f"R2-{s.architecture}-{key}{suffix}-{population}",
                claim=f"The {CHARACTERIZATION_TEXT[key]} of {s.a_arch}'s representation rises with its test accuracy",
                paper=PAPER_R2[key],
                statistic=(
                    f"signed r^2 (sign of Pearson r) of test accuracy and {CHARACTERIZATION_TEXT[key]}, "
                    + ("all networks" if population == "all" else "networks above chance")
                ),
                value=value, low=low, high=high,
                interval_method=describe_bootstrap(len(acc), "networks", s.resamples),
                rule=CLAIM_RULES["r2"],
                scale_note=note + _small(len(acc)),
                testable=len(acc) >= MIN_NETWORKS,
            ))
    return claims


def _gft_claim(s: _Sweep, features: pd.DataFrame, diffusion_distances: np.ndarray, gft_knn: int) -> Claim:
    m = s.m
    signals = gft_signals(features)
    contributions = gft_contributions(diffusion_distances, signals, gft_knn) if m > gft_knn else None
    value = gft_ratio(contributions) if contributions is not None else math.nan
    low, high = _interval(m, lambda idx: gft_ratio(contributions, idx), value, s.seed, s.resamples)
    return Claim(
        id=f"GFT-{s.architecture}",
        claim=(
            f"On the manifold of {s.arch}s, accuracy and learning rate are smoother (lower graph frequency) than weight decay "
            "and momentum"
        ),
        paper=PAPER_GFT,
        statistic="max(quadratic form of accuracy, of log lr) / min(of log weight decay, of momentum), z-scored signals",
        value=value, low=low, high=high,
        interval_method=describe_bootstrap(m, "networks' contributions to each quadratic form (graph held fixed)", s.resamples),
        rule=CLAIM_RULES["gft"],
        scale_note=f"{s.scale}; graph on the {s.configured}-bandwidth diffusion distances, k = {gft_knn}" + _small(m),
        testable=m >= MIN_NETWORKS,
    )


def _suggestion_claim(s: _Sweep, accuracy: np.ndarray, suggested_accuracy: float) -> Claim:
    m = s.m
    value = float(np.mean(accuracy <= suggested_accuracy)) if math.isfinite(suggested_accuracy) else math.nan
    low, high = _interval(m, lambda idx: float(np.mean(accuracy[idx] <= suggested_accuracy)), value, s.seed, s.resamples)
    return Claim(
        id=f"SUGGEST-{s.architecture}",
        claim=f"Hyperparameters drawn from the most accurate {s.arch}s give a high-performing {s.arch}",
        paper=PAPER_SUGGESTION,
        statistic=f"fraction of the sweep the suggested network beats or ties (its test accuracy {suggested_accuracy:.4f})",
        value=value, low=low, high=high,
        interval_method=describe_bootstrap(m, "networks of the sweep (the suggested network fixed)", s.resamples),
        rule=CLAIM_RULES["suggestion"],
        scale_note=f"{s.scale}; one network trained with the suggestion (first initialization seed)" + _small(m),
        testable=m >= MIN_NETWORKS,
    )


def sweep_claims(
    sweep: str,
    architecture: str,
    dataset: str,
    *,
    accuracy: np.ndarray,
    n_classes: int,
    features: pd.DataFrame,
    embeddings: Mapping[str, np.ndarray],
    diagonal_means: Mapping[str, np.ndarray],
    alternative_entropies: Mapping[str, np.ndarray],
    diffusion_distances: np.ndarray,
    suggested_accuracy: float,
    configured: str,
    top: Sequence[int],
    gft_knn: int,
    seed: int,
    resamples: int,
) -> tuple[list[Claim], list[dict]]:
    """Every claim row of one sweep, and its Table 1 rows per kind and seed (the robustness table).

    ``embeddings``: ``[S, m, 2]`` PHATE coordinates per name, names ``diffusion_abs``,
    ``diffusion_median``, ``distance``, ``knn``, ``weights``; ``diagonal_means``: the mean diagonal of
    P per network, per bandwidth label; ``alternative_entropies``: ``entropy``/``dsmi`` with the
    bandwidth that is not ``configured`` (the configured ones are in ``features``).
    """
    m = len(accuracy)
    arch = ARCHITECTURE_NAMES.get(architecture, architecture)
    s = _Sweep(
        sweep=sweep, architecture=architecture, arch=arch,
        a_arch=("an " if arch[0] in "AEIMNOU" else "a ") + arch,  # "an MLP", "a CNN", "a ResNet-9"
        m=m, scale=f"{sweep}: {m} {arch}s on {dataset} (paper: 200 per architecture, MNIST / CIFAR-10)",
        configured=configured, seed=seed, resamples=resamples,
    )
    claims, rows = _table1_claims(s, accuracy, embeddings, diagonal_means, top)
    claims += _r2_claims(s, accuracy, n_classes, features, alternative_entropies)
    claims.append(_gft_claim(s, features, diffusion_distances, gft_knn))
    claims.append(_suggestion_claim(s, accuracy, suggested_accuracy))
    return claims, rows


def phate_embeddings(distances: Mapping[str, np.ndarray], stored: Mapping[str, np.ndarray], knn: int, seeds: Sequence[int]):
    """``[S, m, 2]`` PHATE coordinates per name: the stored (pipeline's) embedding for the first
    seed where given, the others computed."""
    out = {}
    for name, matrix in distances.items():
        coords = []
        for i, s in enumerate(seeds):
            if i == 0 and name in stored:
                coords.append(np.asarray(stored[name], dtype=np.float64))
            else:
                coords.append(embedding.phate_embedding(np.asarray(matrix), knn, s))
        out[name] = np.stack(coords)
    return out
