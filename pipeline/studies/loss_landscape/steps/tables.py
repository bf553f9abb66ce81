"""Stage 4, the tables (steps ``tabulate_loss_landscape`` and ``tabulate_loss_landscape_claims``):
one row per optimum (its hyperparameters, metrics and total persistence), Table 1 (can a
classifier tell the optima's generalization, weight decay or augmentation from each sampling's
losses? :mod:`pipeline.kernels.classification`) under the paper's stratified folds and under folds
that keep sibling optima together, how often an optimum's nearest neighbour is a sibling, total
persistence by weight decay, and the claims table."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .... import store, zoo
from ....kernels import persistence as ph
from ....kernels.classification import accuracy_summary, cross_validated_accuracy, nearest_neighbour_siblings, quantile_classes
from ....tables import write_result_table
from .. import claims as study_claims

METRICS = store.METRIC_NAMES  # train_loss, train_accuracy, test_loss, test_accuracy

FEATURE_SETS = {  # name in the table: which features, scrambled
    study_claims.CONTROL: ("jump_retrain", True),
    study_claims.GRID: ("grid", False),
    study_claims.NAIVE: ("naive", False),
    study_claims.JUMP_RETRAIN: ("jump_retrain", False),
    "Total persistence of the J&R loss filtration (H0, H1)": ("total_persistence", False),
    "Optimum alone, train loss and accuracy": ("optimum", False),
}
# the grouped protocol refits only the paper's three samplings (a cross-validation of every feature
# set under both protocols doubled the step's ~50 s of CPU in the default run)
PROTOCOL_FEATURE_SETS = {
    "stratified": tuple(FEATURE_SETS),
    "grouped": (study_claims.GRID, study_claims.NAIVE, study_claims.JUMP_RETRAIN),
}
TASKS = {"generalization": "generalization", "weight decay": "weight_decay", "data augmentation": "augment"}


def sibling_groups(table: pd.DataFrame) -> np.ndarray:
    """Group index of each optimum: optima of the same sweep that share every grid
    hyperparameter but the weight decay are siblings (the default's triplets: same batch size,
    augmentation, learning rate and initialization, weight decay 0, 1e-4, 1e-3)."""
    keys = ["sweep", *[k for k in zoo.GRID_KEYS if k != "weight_decay" and k in table.columns]]
    return table.groupby(keys, sort=True, dropna=False).ngroup().to_numpy()


def _optimum_rows(population_store, jump_retrain, probes, landscape_store, memorization, complex_index):
    """Each optimum of one population store: its table row and its features (one array per
    feature set of :data:`FEATURE_SETS`)."""
    spec = store.open_population(population_store).attrs["spec"]
    jr_spec = store.open_population(jump_retrain).attrs["spec"]
    jr_metrics = store.read_snapshot_metrics(jump_retrain)
    total = store.read_array(landscape_store, "total_persistence")  # [optimum, complex, dim]
    rows, features = [], []
    for o, member in enumerate(spec["members"]):
        arch = spec["architecture"]
        row = {
            "sweep": spec["sweep"], "network": member["network"], "architecture": arch["name"],
            **{k: v for k, v in arch.items() if k != "name" and not isinstance(v, (list, dict))},
            "widths": str(arch.get("channels", arch.get("hidden", ""))),
            "batch_size": spec["training"]["batch_size"], "augment": bool(spec["training"]["augment"]),
            **{k: member[k] for k in zoo.GRID_KEYS},
            "memorization": spec["sweep"] == memorization,
            **{f"optimum_{name}": float(store.read_array(probes, f"optimum/{name}")[o]) for name in METRICS},
            "total_persistence_h0": float(total[o, complex_index, 0]), "total_persistence_h1": float(total[o, complex_index, 1]),
        }
        for c, complex_name in enumerate(ph.COMPLEXES):
            row[f"tp_{complex_name}_h0"], row[f"tp_{complex_name}_h1"] = float(total[o, c, 0]), float(total[o, c, 1])
        rows.append(row)
        members = [m["member"] for m in jr_spec["members"] if m["optimum"] == o]
        retrained = np.concatenate([jr_metrics[name][members, 1:].ravel() for name in ("train_loss", "train_accuracy")])
        probed = {
            s: np.concatenate([store.read_array(probes, f"{s}/{name}")[o] for name in ("train_loss", "train_accuracy")])
            for s in ("grid", "naive")
        }
        features.append({
            "jump_retrain": retrained,
            **probed,
            "total_persistence": total[o, complex_index],
            "optimum": np.array([row["optimum_train_loss"], row["optimum_train_accuracy"]]),
        })
    return rows, features


def _table1(features, labels, tasks, protocols, classifiers, threads):
    """Table 1 under each protocol (a frame each: the chance row, then one row per feature set,
    mean and standard error over classifiers, in percent) and its per-classifier long form."""
    # every (protocol, feature set, task) cross-validation is independent: one process each,
    # `threads` at a time, each with one BLAS thread (the fits are tiny: under Snakemake's
    # OMP_NUM_THREADS = the rule's threads, two-thread BLAS in each of two workers made the step
    # 4.7x slower, measured)
    from joblib import Parallel, delayed, parallel_config

    jobs = [(protocol, name, task) for protocol in protocols for name in PROTOCOL_FEATURE_SETS[protocol] for task in tasks]
    with parallel_config(backend="loky", inner_max_num_threads=1):
        results = Parallel(n_jobs=threads)(
            delayed(cross_validated_accuracy)(
                np.stack([f[FEATURE_SETS[name][0]] for f in features]), labels[tasks[task]], scramble=FEATURE_SETS[name][1],
                groups=protocols[protocol], **classifiers,
            )
            for protocol, name, task in jobs
        )
    accuracies = dict(zip(jobs, results))
    summaries, long = {}, []
    for protocol in protocols:
        chance = {"features": "Theoretical random (1/#classes)"}
        for task, key in tasks.items():
            chance[f"{task} mean"], chance[f"{task} se"] = 100.0 / len(np.unique(labels[key])), float("nan")
        summary = [chance]
        for name in PROTOCOL_FEATURE_SETS[protocol]:
            row = {"features": name}
            for task in tasks:
                accuracy = accuracies[(protocol, name, task)]
                cell = accuracy_summary(accuracy)
                row[f"{task} mean"], row[f"{task} se"], row[f"{task} classifiers"] = cell["mean"], cell["se"], cell["classifiers"]
                long += [
                    {"protocol": protocol, "features": name, "task": task, "classifier": c, "accuracy": 100.0 * a}
                    for c, a in accuracy.items()
                ]
            summary.append(row)
        summaries[protocol] = pd.DataFrame(summary)
    return summaries, pd.DataFrame(long)


def _persistence_by_weight_decay(every: pd.DataFrame) -> pd.DataFrame:
    """Total persistence (and test loss) by weight decay, then Spearman's rho against weight decay
    and test loss over every classified optimum."""
    from scipy.stats import spearmanr

    by_wd = []
    for wd, group in every.groupby("weight_decay"):
        by_wd.append({
            "weight_decay": str(wd), "optima": len(group),
            "tp_h0_mean": group["total_persistence_h0"].mean(), "tp_h0_se": group["total_persistence_h0"].sem(),
            "tp_h1_mean": group["total_persistence_h1"].mean(), "tp_h1_se": group["total_persistence_h1"].sem(),
            "test_loss_mean": group["optimum_test_loss"].mean(),
        })
    by_wd.append({
        "weight_decay": "all (Spearman rho)", "optima": len(every),
        "rho_tp_h0_weight_decay": spearmanr(every["total_persistence_h0"], every["weight_decay"]).statistic,
        "rho_tp_h0_test_loss": spearmanr(every["total_persistence_h0"], every["optimum_test_loss"]).statistic,
        "rho_tp_h1_test_loss": spearmanr(every["total_persistence_h1"], every["optimum_test_loss"]).statistic,
    })
    return pd.DataFrame(by_wd)


def tabulate_loss_landscape(
    population_stores: Sequence[str],
    jump_retrains: Sequence[str],
    probes: Sequence[str],
    landscapes: Sequence[str],
    optima: str,
    table1: str,
    table1_grouped: str,
    table1_by_classifier: str,
    siblings: str,
    persistence_by_weight_decay: str,
    *,
    memorization: str | None,
    complex: str,
    generalization_classes: int,
    classifiers: Mapping,
    threads: int = 1,
) -> dict[str, pd.DataFrame]:
    """The optima table, Table 1 (11 classifiers on three tasks from each feature set, mean and
    standard error over classifiers) under the paper's stratified folds and under folds that keep
    sibling optima together (:func:`sibling_groups`), their per-classifier long form, how often
    each optimum's nearest neighbour is a sibling, and total persistence by weight decay. The
    memorization optima are left out of the classification tasks."""
    if not len({len(population_stores), len(jump_retrains), len(probes), len(landscapes)}) == 1:
        raise ValueError("one jump-and-retrain, probes and landscape store per population store")
    complex_index = ph.COMPLEXES.index(complex)
    rows, features = [], []
    for sources in zip(population_stores, jump_retrains, probes, landscapes):
        r, f = _optimum_rows(*sources, memorization, complex_index)
        rows += r
        features += f
    table = pd.DataFrame(rows)
    classified = ~table["memorization"].to_numpy()
    labels = {
        "generalization": quantile_classes(table.loc[classified, "optimum_test_loss"].to_numpy(), generalization_classes),
        "weight_decay": pd.factorize(table.loc[classified, "weight_decay"], sort=True)[0],
        "augment": table.loc[classified, "augment"].astype(int).to_numpy(),
    }
    table["generalization_class"] = -1
    table.loc[classified, "generalization_class"] = labels["generalization"]
    table["sibling_group"] = -1
    groups = sibling_groups(table[classified])
    table.loc[classified, "sibling_group"] = groups
    chosen = [f for f, keep in zip(features, classified) if keep]
    tasks = {
        (f"{generalization_classes}-class generalization" if key == "generalization" else task): key for task, key in TASKS.items()
    }
    summaries, long = _table1(chosen, labels, tasks, {"stratified": None, "grouped": groups}, classifiers, threads)
    weight_decay = table.loc[classified, "weight_decay"].to_numpy()
    near = pd.DataFrame([
        {"features": name, **nearest_neighbour_siblings(np.stack([f[FEATURE_SETS[name][0]] for f in chosen]), groups, weight_decay)}
        for name, (_, scrambled) in FEATURE_SETS.items()
        if not scrambled
    ])
    tables = {
        "optima": (table, optima), "table1": (summaries["stratified"], table1), "table1_grouped": (summaries["grouped"], table1_grouped),
        "table1_by_classifier": (long, table1_by_classifier), "siblings": (near, siblings),
        "persistence_by_weight_decay": (_persistence_by_weight_decay(table[classified]), persistence_by_weight_decay),
    }
    for frame, path in tables.values():
        write_result_table(frame, path)
    return {name: frame for name, (frame, _) in tables.items()}


def tabulate_loss_landscape_claims(
    optima_table: str, table1_by_classifier: str, siblings: str, claims: str, *, complex: str, classifiers: Mapping
) -> pd.DataFrame:
    """The study's claims table (``claims.{csv,md,html}``) from its tables: Table 1 under both
    protocols, total persistence by weight decay and against test loss, the memorizer
    (:mod:`..claims`; every bootstrap seeded from ``classifiers.seed``)."""
    from ....claims import claims_frame, write_claims_table

    found = study_claims.loss_landscape_claims(
        pd.read_csv(optima_table), pd.read_csv(table1_by_classifier), pd.read_csv(siblings),
        complex=complex, folds=classifiers["folds"], repeats=classifiers["repeats"], seed=classifiers["seed"],
    )
    write_claims_table(found, claims)
    return claims_frame(found)
