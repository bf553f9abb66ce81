"""Study ``activation_landscapes``: persistence landscapes of every layer's activations over
training ("Activation landscapes", paper 004). Steps in :mod:`.steps` and :mod:`.figures`; this
module registers the study and names its outputs without importing torch or matplotlib."""

from __future__ import annotations

from typing import Mapping

from .. import Study

NAME = "activation_landscapes"
STORES = ("activations.zarr", "landscapes.zarr", "summary.zarr")
TABLES = ("pvalues", "complexity")
FIGURES = ("landscapes", "curves", "complexity_by_layer")


def path(config: Mapping, experiment: str, name: str) -> str:
    """``results/activation_landscapes/<experiment>/<name>`` (the experiment may be a wildcard)."""
    return f"{config['results']}/{NAME}/{experiment}/{name}"


def experiment_sweeps(config: Mapping, experiment: str) -> list[str]:
    """The sweeps an experiment reads: its named sweep, or every sweep of the family of that name
    (the paper's networks differ in initialization and in their draw of training data: a family
    with ``variants: {dataset_options.seed: [...]}``), in config order."""
    named = config[NAME]["experiments"][experiment]["sweep"]
    return [s for s, sweep in config["sweeps"].items() if s == named or sweep.get("family") == named]


def outputs(config: Mapping) -> list[str]:
    """Every store, table and figure of every experiment."""
    targets = []
    for experiment in config[NAME]["experiments"]:
        targets += [path(config, experiment, name) for name in STORES]
        targets += [path(config, experiment, f"tables/{name}.csv") for name in TABLES]
        targets += [path(config, experiment, f"figures/{name}.png") for name in FIGURES]
    return targets


def check(config: Mapping) -> list[str]:
    """Each experiment reads an MLP sweep with snapshot thresholds, shows some of its thresholds,
    and names one kind of batch that fits its data set."""
    from ...data import DATASET_TASKS, LATTICE_DATASETS

    problems = []
    for name, experiment in config[NAME]["experiments"].items():
        key = f"config key '{NAME}.experiments.{name}"
        members = experiment_sweeps(config, name)
        if not members:
            problems.append(f"{key}.sweep': no sweep or sweep family named {experiment['sweep']!r}")
            continue
        sweep = config["sweeps"][members[0]]
        if sweep["architecture"]["name"] != "mlp" or DATASET_TASKS[sweep["dataset"]] != "classification":
            problems.append(f"{key}.sweep': sweep {experiment['sweep']!r} is not a classification sweep of MLPs")
        shared = ("dataset", "architecture", "snapshot_thresholds")
        differing = [k for k in shared if any(config["sweeps"][m][k] != sweep[k] for m in members)]
        if differing:
            problems.append(f"{key}.sweep': the sweeps of family {experiment['sweep']!r} differ in {', '.join(differing)}")
        thresholds = sweep["snapshot_thresholds"]
        if not thresholds:
            problems.append(f"{key}.sweep': sweep {experiment['sweep']!r} saves no snapshot_thresholds")
        missing = [t for t in experiment["shown_thresholds"] if t not in thresholds]
        if missing:
            problems.append(f"{key}.shown_thresholds': {missing} are not among the sweep's snapshot_thresholds {thresholds}")
        batch = experiment["batch"]
        if (batch["lattice_fraction"] is None) == (batch["size"] is None):
            problems.append(f"{key}.batch': give exactly one of lattice_fraction and size")
        elif batch["lattice_fraction"] is not None and batch["draws"] != 1:
            problems.append(f"{key}.batch.draws': a lattice batch is one fixed set of points; draws must be 1")
        elif batch["lattice_fraction"] is not None and sweep["dataset"] not in LATTICE_DATASETS:
            problems.append(
                f"{key}.batch.lattice_fraction': {sweep['dataset']!r} is not a lattice data set ({', '.join(LATTICE_DATASETS)})"
            )
    return problems


STUDY = Study(
    name=NAME,
    title="Persistence landscapes of every layer's activations over training (paper 004)",
    steps={
        **{
            step: f"pipeline.studies.{NAME}.steps:{step}"
            for step in ("extract_layer_activations", "compute_layer_landscapes", "summarize_activation_landscapes")
        },
        "plot_activation_landscapes": f"pipeline.studies.{NAME}.figures:plot_activation_landscapes",
    },
    outputs=outputs,
    check=check,
)
