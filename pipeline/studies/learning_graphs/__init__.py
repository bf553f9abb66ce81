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
    """Every store, page folder, figure of every run, and the tables (the claims table among them)."""
    runs = list(config[NAME]["runs"])
    targets = []
    for run in runs:
        targets += [path(config, run, name) for name in (*STORES, "pages")]
        targets += [path(config, run, f"figures/{name}.png") for name in FIGURES]
    if runs:
        targets += [table_path(config, name) for name in (*TABLES, "claims")]
    return targets


def recorded_schedule(sweep: Mapping) -> dict:
    """What a sweep records, from its config alone (no data loaded, no torch): the dataset, the
    training-set size, the epochs, and each snapshot's position as examples seen and as an exact
    fraction of epochs (:mod:`pipeline.cadence`).

    Raises
    ------
    ValueError
        The dataset options or the cadence are invalid (the config check reports those itself).
    """
    from ... import cadence
    from ...data import training_set_size

    n_train = training_set_size(sweep["dataset"], sweep["dataset_options"])
    batch = sweep["batch_size"]
    steps = cadence.snapshot_steps(sweep["snapshot_every"], epochs=sweep["epochs"], batch_size=batch, n_train=n_train)
    return {
        "dataset": sweep["dataset"], "n_train": n_train, "epochs": sweep["epochs"],
        "epoch_slots": batch * cadence.steps_per_epoch(n_train, batch),
        "examples": cadence.examples_seen(steps, batch), "epoch_positions": cadence.snapshot_epochs(steps, batch, n_train),
    }


def _first_difference(a: str, schedule_a: dict, b: str, schedule_b: dict) -> tuple[str, str] | None:
    """(the key of sweep ``b`` to change, why) for the first way the two schedules differ."""
    if schedule_a["dataset"] != schedule_b["dataset"]:
        return "dataset", f"train on {schedule_a['dataset']!r} and {schedule_b['dataset']!r}"
    if schedule_a["n_train"] != schedule_b["n_train"]:
        return "dataset_options", f"train on {schedule_a['n_train']} and {schedule_b['n_train']} examples"
    if schedule_a["epochs"] != schedule_b["epochs"]:
        return "epochs", f"train for {schedule_a['epochs']} and {schedule_b['epochs']} epochs"
    if schedule_a["epoch_slots"] != schedule_b["epoch_slots"]:
        # examples seen = step x batch_size: then no cadence puts both at the same examples and epochs
        return "batch_size", (
            f"count {schedule_a['epoch_slots']} and {schedule_b['epoch_slots']} examples per epoch (the partial last batch "
            f"of an epoch counts as a full one), so they cannot record at the same examples and epochs: choose batch "
            f"sizes that divide the {schedule_a['n_train']} training examples"
        )
    counts = len(schedule_a["examples"]), len(schedule_b["examples"])
    if counts[0] != counts[1] or schedule_a["examples"] != schedule_b["examples"]:
        at = next((i for i, (x, y) in enumerate(zip(schedule_a["examples"], schedule_b["examples"])) if x != y), min(counts))
        where = ""
        if at < min(counts):
            where = f"; snapshot {at} comes after {schedule_a['examples'][at]} and {schedule_b['examples'][at]} examples"
        return "snapshot_every", (
            f"record {counts[0]} and {counts[1]} snapshots{where} (snapshot_every: {{examples: N}} records at the "
            "same examples seen whatever the batch size)"
        )
    # equal examples per epoch and equal examples make equal epochs; checked all the same, as the
    # quantity the run is aligned on
    if schedule_a["epoch_positions"] != schedule_b["epoch_positions"]:
        return "snapshot_every", "record at different fractions of an epoch"
    return None


def check(config: Mapping) -> list[str]:
    """Each run reads MLP classification sweeps that record weights every few steps (or every few
    examples) with their test accuracy, and the sweeps of one run record the same schedule: the
    same data, epochs and snapshot positions in examples seen and in epochs, which the run's
    trajectories and figures are aligned on."""
    from ...cadence import cadence_problem
    from ...data import DATASET_TASKS

    problems = []
    for name, run in config[NAME]["runs"].items():
        key = f"config key '{NAME}.runs.{name}"
        members = run_sweeps(config, name)
        if not members:
            problems.append(f"{key}.sweep': no sweep or sweep family named {run['sweep']!r}")
            continue
        schedules = {}
        for member in members:
            sweep = config["sweeps"][member]
            every = sweep["snapshot_every"]
            if sweep["architecture"]["name"] != "mlp" or DATASET_TASKS[sweep["dataset"]] != "classification":
                problems.append(f"{key}.sweep': sweep {member!r} is not a classification sweep of MLPs")
            elif every == "epoch" or not sweep["snapshot_metrics"]:
                problems.append(
                    f"{key}.sweep': sweep {member!r} must record weights every few steps with their accuracy "
                    "(snapshot_every: an integer or {examples: N}, snapshot_metrics: true)"
                )
            else:
                layers = [f"hidden{i + 1}" for i in range(len(sweep["architecture"]["hidden"]))] + ["output"]
                unknown = [layer for layer in run["layers"] if layer not in layers]
                if unknown:
                    problems.append(f"{key}.layers': {unknown} are not layers of sweep {member!r} ({', '.join(layers)})")
                if len(members) > 1 and cadence_problem(every, sweep["batch_size"]) is None:
                    try:
                        schedules[member] = recorded_schedule(sweep)
                    except ValueError as error:  # a bad n_samples: the training job would fail the same way
                        problems.append(f"config key 'sweeps.{member}.dataset_options': {error}")
        if len(schedules) > 1:
            first, *others = schedules
            for other in others:
                found = _first_difference(first, schedules[first], other, schedules[other])
                if found:
                    setting, why = found
                    family = config["sweeps"][other].get("family")
                    of = f" (of family {family!r}: its {setting} or variants)" if family else ""
                    problems.append(
                        f"config key 'sweeps.{other}.{setting}'{of}: run {name!r} ({NAME}.runs.{name}) aligns its sweeps on "
                        f"their snapshots, but sweeps {first!r} and {other!r} {why}"
                    )
    return problems


def jobs(config: Mapping) -> dict[str, int]:
    """Jobs per rule of a whole run: every step once per run, the two tables once."""
    runs = len(config[NAME]["runs"])
    per_run = ("extract_weight_trajectories", "build_learning_graphs", "plot_learning_graphs")
    once = ("tabulate_learning_graphs", "tabulate_learning_graphs_claims")
    return {**{rule: runs for rule in per_run}, **{rule: min(runs, 1) for rule in once}}


STUDY = Study(
    name=NAME,
    title="Mapper learning graphs of weight trajectories, with measured branching (paper 000)",
    steps={
        **{
            step: f"pipeline.studies.{NAME}.steps:{step}"
            for step in (
                "extract_weight_trajectories", "build_learning_graphs", "tabulate_learning_graphs", "tabulate_learning_graphs_claims",
            )
        },
        "plot_learning_graphs": f"pipeline.studies.{NAME}.figures:plot_learning_graphs",
    },
    outputs=outputs,
    check=check,
    jobs=jobs,
)
