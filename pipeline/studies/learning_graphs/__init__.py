"""Study ``learning_graphs``: Gabella's "Topology of Learning in Artificial Neural Networks"
(paper 000), Mapper graphs of the weight trajectories of MLP layers, and the branchings measured
on them. Steps in :mod:`.steps` and :mod:`.figures`; this module registers the study and names its
outputs without importing torch or matplotlib."""

from __future__ import annotations

from typing import Mapping

from .. import Study

NAME = "learning_graphs"
STORES = ("trajectories.zarr", "graphs.zarr")
TABLES = ("branchings", "branch_counts")
# per run: Figs. 3/5 (PCA and learning graphs per layer), 4, 6, 7, 8
FIGURES = ("layers", "digit_over_training", "pca_lens", "learning_surface", "norms_and_accuracy")


def path(config: Mapping, run: str, name: str) -> str:
    """``results/learning_graphs/<run>/<name>`` (the run may be a wildcard)."""
    return f"{config['results']}/{NAME}/{run}/{name}"


def table_path(config: Mapping, name: str, extension: str = "csv") -> str:
    """``results/learning_graphs/tables/<name>.<extension>`` (the tables span every run)."""
    return f"{config['results']}/{NAME}/tables/{name}.{extension}"


def run_sweeps(config: Mapping, run: str) -> list[str]:
    """The sweeps a run reads: its named sweep, or every sweep of the family of that name."""
    named = config[NAME]["runs"][run]["sweep"]
    return [s for s, sweep in config["sweeps"].items() if s == named or sweep.get("family") == named]


def outputs(config: Mapping) -> list[str]:
    """Every store, page folder, figure of every run, and the tables."""
    runs = list(config[NAME]["runs"])
    targets = []
    for run in runs:
        targets += [path(config, run, name) for name in (*STORES, "pages")]
        targets += [path(config, run, f"figures/{name}.png") for name in FIGURES]
    if runs:
        targets += [table_path(config, name) for name in TABLES]
    return targets


def check(config: Mapping) -> list[str]:
    """Each run reads MLP classification sweeps that record weights every few steps with their
    test accuracy."""
    from ...data import DATASET_TASKS

    problems = []
    for name, run in config[NAME]["runs"].items():
        key = f"config key '{NAME}.runs.{name}"
        members = run_sweeps(config, name)
        if not members:
            problems.append(f"{key}.sweep': no sweep or sweep family named {run['sweep']!r}")
            continue
        for member in members:
            sweep = config["sweeps"][member]
            if sweep["architecture"]["name"] != "mlp" or DATASET_TASKS[sweep["dataset"]] != "classification":
                problems.append(f"{key}.sweep': sweep {member!r} is not a classification sweep of MLPs")
            elif not isinstance(sweep["snapshot_every"], int) or not sweep["snapshot_metrics"]:
                problems.append(
                    f"{key}.sweep': sweep {member!r} must record weights every few steps with their accuracy "
                    "(snapshot_every: an integer, snapshot_metrics: true)"
                )
            else:
                layers = [f"hidden{i + 1}" for i in range(len(sweep["architecture"]["hidden"]))] + ["output"]
                unknown = [layer for layer in run["layers"] if layer not in layers]
                if unknown:
                    problems.append(f"{key}.layers': {unknown} are not layers of sweep {member!r} ({', '.join(layers)})")
    return problems


STUDY = Study(
    name=NAME,
    title="Mapper learning graphs of weight trajectories, with measured branching (paper 000)",
    steps={
        **{
            step: f"pipeline.studies.{NAME}.steps:{step}"
            for step in ("extract_weight_trajectories", "build_learning_graphs", "tabulate_learning_graphs")
        },
        "plot_learning_graphs": f"pipeline.studies.{NAME}.figures:plot_learning_graphs",
    },
    outputs=outputs,
    check=check,
)
