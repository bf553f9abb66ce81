"""Study ``relu_complex``: "Topological Signatures of ReLU Neural Network Activation Patterns"
(paper 001). The exact polyhedral decomposition of a box of the input plane by small ReLU MLPs at
every recorded step of training: the Fiedler partitions of its dual graph against the network's
decision (classification), and the Betti numbers of its cell complex under random filtrations
against spikes of the training loss. Steps in :mod:`.steps` and :mod:`.figures`; this module
registers the study and names its outputs without importing torch or matplotlib."""

from __future__ import annotations

from typing import Mapping

from .. import Study

NAME = "relu_complex"
TABLES = ("partitions", "loss_spikes", "weightings")
# per sweep: the complex's topology against the training loss, Betti curves of the filtration
TOPOLOGY_FIGURES = ("topology_vs_loss", "betti_curves")
# per classification sweep, also: Fiedler partitions over the decomposition, agreement over training
CLASSIFICATION_FIGURES = ("fiedler_partitions", "agreement") + TOPOLOGY_FIGURES
# per classification network, what the table step stores of kernels.series.detect_grokking in
# <sweep>/events.zarr (beside the loss spikes of every sweep) for the figures to draw
GROKKING_EVENTS = ("fit", "generalize", "fit_step", "generalize_step", "test_at_fit", "rise", "delay_steps", "grokked")


def path(config: Mapping, sweep: str, name: str) -> str:
    """``results/relu_complex/<sweep>/<name>`` (the sweep may be a wildcard)."""
    return f"{config['results']}/{NAME}/{sweep}/{name}"


def table_path(config: Mapping, name: str, extension: str = "csv") -> str:
    """``results/relu_complex/tables/<name>.<extension>`` (the tables span every sweep)."""
    return f"{config['results']}/{NAME}/tables/{name}.{extension}"


def classification_sweeps(config: Mapping) -> list[str]:
    """The sweeps whose Fiedler partitions are drawn (``relu_complex.classification``)."""
    return list(config[NAME]["classification"])


def all_sweeps(config: Mapping) -> list[str]:
    """Every sweep the study analyses: the classification sweeps, then the regression ones."""
    return classification_sweeps(config) + list(config[NAME]["regression"])


def outputs(config: Mapping) -> list[str]:
    """Each sweep's store and figures, the tables, and the claims table (which the foundation's
    ``gather_claims`` finds by its path, ``results/relu_complex/tables/claims.csv``)."""
    sweeps = all_sweeps(config)
    targets = [path(config, sweep, "complexes.zarr") for sweep in sweeps]
    for sweep in sweeps:
        names = CLASSIFICATION_FIGURES if sweep in classification_sweeps(config) else TOPOLOGY_FIGURES
        targets += [path(config, sweep, f"figures/{name}.png") for name in names]
    if sweeps:
        targets += [table_path(config, name) for name in TABLES + ("claims",)]
    return targets


def check(config: Mapping) -> list[str]:
    """Each sweep trains ReLU MLPs on 2-D inputs of the task its list states (binary labels for
    classification), recording weights every few steps with their loss, without label noise."""
    from ...data import DATASET_TASKS
    from ...sweeps import sweeps_named_in

    problems = sweeps_named_in(config, NAME, "classification", task="classification")
    problems += sweeps_named_in(config, NAME, "regression", task="regression")
    two_d = {"moons", "circles", "regression2d"}
    for key in ("classification", "regression"):
        for index, name in enumerate(config[NAME][key]):
            sweep = config["sweeps"].get(name)
            if sweep is None or DATASET_TASKS[sweep["dataset"]] != key:
                continue
            where = f"config key '{NAME}.{key}[{index}]'"
            architecture = sweep["architecture"]
            if sweep["dataset"] not in two_d:
                problems.append(
                    f"{where}: sweep {name!r} trains on {sweep['dataset']!r}; "
                    f"the decomposition needs 2-D inputs ({', '.join(sorted(two_d))})"
                )
            if architecture["name"] != "mlp" or architecture["activation"] != "relu" or not architecture["bias"]:
                problems.append(f"{where}: sweep {name!r} must train ReLU MLPs with biases")
            if not isinstance(sweep["snapshot_every"], int) or not sweep["snapshot_metrics"]:
                problems.append(
                    f"{where}: sweep {name!r} must record weights every few steps with their loss "
                    "(snapshot_every: an integer, snapshot_metrics: true)"
                )
            if any(noise > 0 for noise in sweep["grid"]["label_noise"]):
                problems.append(f"{where}: sweep {name!r} has label noise; the partitions are scored against the dataset's labels")
    return problems


def jobs(config: Mapping) -> dict[str, int]:
    """Jobs per rule of a whole run: one decomposition and one figure job per sweep (the
    classification and the regression figures apart), the tables once."""
    sweeps, classification = len(all_sweeps(config)), len(classification_sweeps(config))
    return {
        "analyse_relu_complexes": sweeps,
        "plot_relu_classification": classification,
        "plot_relu_regression": sweeps - classification,
        **{rule: min(sweeps, 1) for rule in ("tabulate_relu_complex", "tabulate_relu_complex_claims")},
    }


STUDY = Study(
    name=NAME,
    title="Exact ReLU decompositions: dual-graph Fiedler partitions and cell-complex Betti numbers (paper 001)",
    steps={
        **{step: f"pipeline.studies.{NAME}.steps:{step}" for step in ("analyse_relu_complexes", "tabulate_relu_complex")},
        "tabulate_relu_complex_claims": f"pipeline.studies.{NAME}.claims:tabulate_relu_complex_claims",
        **{step: f"pipeline.studies.{NAME}.figures:{step}" for step in ("plot_relu_classification", "plot_relu_regression")},
    },
    outputs=outputs,
    check=check,
    jobs=jobs,
)
