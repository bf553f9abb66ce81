"""Can a set of features tell classes apart? Cross-validated accuracy of a fixed, untuned set of
classifiers (the loss-landscape paper's Table 1), its folds, its summary over classifiers, and the
nearest-neighbour facts that explain what the folds leak.

Pure functions on arrays: features ``[n, d]`` (one row per item), labels ``[n]``, optional groups
``[n]`` (items that must stay on the same side of every split).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from . import _checks


def _features_and_labels(features, labels, groups=None):
    """``features`` as a 2-D array with one row per label (and per group), else ValueError."""
    x = np.asarray(features)
    y = np.asarray(labels)
    if x.ndim != 2:
        raise ValueError(f"features must be a 2-D array [items, features], got shape {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"labels must be 1-D with one label per row of features ({len(x)}), got shape {y.shape}")
    if len(np.unique(y)) < 2:
        raise ValueError("labels must hold at least two classes")
    if groups is not None and np.shape(groups) != y.shape:
        raise ValueError(f"groups must be 1-D with one group per label ({len(y)}), got shape {np.shape(groups)}")
    return x, y


def classifier_set(seed: int) -> dict:
    """The 11 classifiers of Table 1, each behind a StandardScaler, untuned, as the paper stresses.

    scikit-learn's classic classifier comparison plus logistic regression. QDA takes Ledoit-Wolf
    shrinkage of its covariances: with more features than items per class (640 losses of ~20
    optima) the plain estimate is singular and scikit-learn refuses to fit; a fold it still cannot
    fit is left out of its mean (:func:`cross_validated_accuracy`).

    Parameters
    ----------
    seed : int
        ``random_state`` of every classifier that takes one.

    Returns
    -------
    dict
        Name -> unfitted scikit-learn pipeline, in the table's order.
    """
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
    from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier
    from sklearn.gaussian_process import GaussianProcessClassifier
    from sklearn.gaussian_process.kernels import RBF
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    seed = _checks.integer_in(seed, 0, 2**32 - 1, "seed")
    models = {
        "nearest neighbors": KNeighborsClassifier(3),
        "linear SVM": SVC(kernel="linear", C=0.025, random_state=seed),
        "RBF SVM": SVC(gamma=2, C=1, random_state=seed),
        "Gaussian process": GaussianProcessClassifier(1.0 * RBF(1.0), random_state=seed),
        "decision tree": DecisionTreeClassifier(max_depth=5, random_state=seed),
        "random forest": RandomForestClassifier(max_depth=5, n_estimators=10, max_features=1, random_state=seed),
        "neural net": MLPClassifier(alpha=1, max_iter=1000, random_state=seed),
        "AdaBoost": AdaBoostClassifier(random_state=seed),
        "naive Bayes": GaussianNB(),
        "QDA": QuadraticDiscriminantAnalysis(solver="eigen", shrinkage="auto"),
        "logistic regression": LogisticRegression(max_iter=1000),
    }
    return {name: make_pipeline(StandardScaler(), model) for name, model in models.items()}


def fold_splits(labels: np.ndarray, groups: np.ndarray | None, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) indices of a shuffled cross-validation.

    Parameters
    ----------
    labels : np.ndarray
        ``[n]`` class labels; every class needs at least ``folds`` items without ``groups``.
    groups : np.ndarray or None
        ``[n]`` group of each item. None: the paper's stratified ``folds`` folds over items
        (``StratifiedKFold``). Given: folds that keep every group whole, stratified as far as the
        groups allow (``StratifiedGroupKFold``, ``min(folds, groups)`` folds).
    folds : int
        At least 2.
    seed : int
        The shuffle's ``random_state``.

    Returns
    -------
    list of (np.ndarray, np.ndarray)
        Every item is in exactly one test fold.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if groups is not None and np.shape(groups) != labels.shape:
        raise ValueError(f"groups must be 1-D with one group per label ({len(labels)}), got shape {np.shape(groups)}")
    folds = _checks.integer_in(folds, 2, max(2, len(labels)), "folds")
    index = np.zeros((len(labels), 1))
    if groups is None:
        return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(index, labels))
    n_splits = min(folds, len(np.unique(groups)))
    return list(StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(index, labels, groups))


def cross_validated_accuracy(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    folds: int,
    repeats: int,
    seed: int,
    scramble: bool = False,
    groups: np.ndarray | None = None,
) -> dict:
    """Mean accuracy of each classifier of :func:`classifier_set` over ``repeats`` cross-validations.

    Parameters
    ----------
    features : np.ndarray
        ``[n, d]``, one row per item.
    labels : np.ndarray
        ``[n]`` class labels (at least two classes).
    folds : int
        Folds of each cross-validation (:func:`fold_splits`).
    repeats : int
        Cross-validations, at least 1; repetition ``r`` shuffles its folds and seeds its
        classifiers with ``seed + r``.
    seed : int
        The first repetition's seed.
    scramble : bool
        Each repetition first permutes the rows of ``features`` (a permutation seeded by
        ``[seed, repeat]``), breaking their link to the labels: the control of Table 1.
    groups : np.ndarray, optional
        ``[n]``: folds keep every group whole (no item is tested with a member of its group in
        the training folds); else the paper's stratified folds over items.

    Returns
    -------
    dict
        Classifier name -> mean accuracy in [0, 1] over its folds and repetitions. A fold a
        classifier cannot fit (QDA on a class whose features are collinear) scores NaN and is left
        out of that classifier's mean; a classifier that fits no fold is left out.
    """
    import warnings

    from sklearn.model_selection import cross_val_score

    features, labels = _features_and_labels(features, labels, groups)
    repeats = _checks.integer_in(repeats, 1, 10**6, "repeats")
    scores = {}
    for repeat in range(repeats):
        rng = np.random.default_rng([seed, repeat])
        x = features[rng.permutation(len(features))] if scramble else features
        splits = fold_splits(labels, groups, folds, seed + repeat)
        n_splits = len(splits)
        for name, model in classifier_set(seed + repeat).items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # collinear QDA, unconverged nets: untuned, as in the paper
                try:
                    fold_scores = cross_val_score(model, x, labels, cv=splits, error_score=np.nan)
                except ValueError:  # scikit-learn's "all the fits failed"
                    fold_scores = np.full(n_splits, np.nan)
                scores.setdefault(name, []).extend(fold_scores)
    return {name: float(np.nanmean(values)) for name, values in scores.items() if np.isfinite(values).any()}


def accuracy_summary(accuracy: Mapping[str, float]) -> dict:
    """One cell pair of Table 1: the mean and standard error, over classifiers, of each
    classifier's mean accuracy, in percent.

    Parameters
    ----------
    accuracy : mapping
        Classifier name -> accuracy in [0, 1] (:func:`cross_validated_accuracy`); empty where
        every classifier failed every fold.

    Returns
    -------
    dict
        ``mean`` and ``se`` (sample standard deviation / sqrt(count); NaN for one classifier), in
        percent, and ``classifiers``, the count (NaN, NaN, 0 when empty).
    """
    values = 100.0 * np.array(list(accuracy.values()), dtype=np.float64)
    if values.size == 0:  # every classifier failed every fold: an empty cell, not an error
        return {"mean": float("nan"), "se": float("nan"), "classifiers": 0}
    se = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")
    return {"mean": float(values.mean()), "se": se, "classifiers": len(values)}


def quantile_classes(values: np.ndarray, classes: int) -> np.ndarray:
    """Quantile classes of ``values``: 0 = the lowest ~1/classes, and so on.

    Parameters
    ----------
    values : np.ndarray
        ``[n]`` finite values (the test loss at each optimum), ``n >= classes``.
    classes : int
        At least 2.

    Returns
    -------
    np.ndarray
        ``[n]`` int class of each value; class sizes equal to within one (ties by order).
    """
    import pandas as pd

    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or not np.all(np.isfinite(values)):
        raise ValueError("values must be a 1-D array of finite numbers")
    classes = _checks.integer_in(classes, 2, max(2, len(values)), "classes")
    ranks = pd.Series(values).rank(method="first").to_numpy()
    return pd.qcut(ranks, classes, labels=False).astype(int)


def nearest_neighbour_siblings(features: np.ndarray, groups: np.ndarray, weight_decay: np.ndarray) -> dict:
    """How often each item's nearest other item is in its group, and how often it shares its
    ``weight_decay``; beside the fractions a random other item would give.

    Parameters
    ----------
    features : np.ndarray
        ``[n, d]``, ``n >= 2``; standardized per column (as the scaled nearest-neighbour
        classifier sees them) before Euclidean distances are taken.
    groups : np.ndarray
        ``[n]`` group of each item (sibling optima).
    weight_decay : np.ndarray
        ``[n]`` a second label compared the same way.

    Returns
    -------
    dict
        ``optima``, ``sibling_groups`` (counts), ``nn_is_sibling``, ``nn_same_weight_decay``
        (fractions over items; distance ties go to the first in row order),
        ``random_is_sibling``, ``random_same_weight_decay`` (the expected fractions for a uniformly
        random other item).
    """
    from sklearn.preprocessing import StandardScaler

    groups, weight_decay = np.asarray(groups), np.asarray(weight_decay)
    x = np.asarray(features)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"features must be a 2-D array with at least two rows, got shape {x.shape}")
    if groups.shape != (len(x),) or weight_decay.shape != (len(x),):
        raise ValueError(f"groups and weight_decay must be 1-D with one entry per row of features ({len(x)})")
    x = StandardScaler().fit_transform(x)
    distances = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    nearest = distances.argmin(axis=1)  # ties: the first in table order
    n = len(groups)
    others = n - 1
    return {
        "optima": n,
        "sibling_groups": len(np.unique(groups)),
        "nn_is_sibling": float(np.mean(groups[nearest] == groups)),
        "nn_same_weight_decay": float(np.mean(weight_decay[nearest] == weight_decay)),
        "random_is_sibling": float(np.mean([(np.sum(groups == g) - 1) / others for g in groups])),
        "random_same_weight_decay": float(np.mean([(np.sum(weight_decay == w) - 1) / others for w in weight_decay])),
    }
