"""Study ``loss_landscape``: Horoi et al., "Exploring the Geometry and Topology of Neural Network
Loss Landscapes" (paper 002). Steps in :mod:`.steps` (one module per stage) and :mod:`.figures`;
this module registers the study and names its outputs without importing torch or matplotlib."""

from __future__ import annotations

from typing import Mapping

from .. import Study

NAME = "loss_landscape"
# One job of each per population store of an optimum sweep, under <sweep>/population_<i>/.
POPULATION_STORES = ("jump_retrain.zarr", "probes.zarr", "landscape.zarr")
TABLES = ("optima", "table1", "table1_grouped", "table1_by_classifier", "siblings", "persistence_by_weight_decay")
FIGURES = ("embedding_methods", "samplings", "good_bad_memorization", "total_persistence")


def optimum_sweeps(config: Mapping) -> list[str]:
    """The sweeps whose networks are optima: each named sweep, or every sweep of a named family,
    then the memorization sweep (if any), in config order."""
    named = config[NAME]["sweeps"]
    sweeps = [s for s, sweep in config["sweeps"].items() if s in named or sweep.get("family") in named]
    memorization = config[NAME]["memorization"]
    if memorization and memorization not in sweeps:
        sweeps.append(memorization)
    return sweeps


def populations(config: Mapping) -> list[tuple[str, int]]:
    """Every (sweep, population) of the optimum sweeps: one sampling job of each kind per pair."""
    from ...zoo import n_populations

    return [(s, p) for s in optimum_sweeps(config) for p in range(n_populations(config["sweeps"][s]))]


def example_population(config: Mapping) -> tuple[str, int]:
    """The (sweep, population) holding the example optimum of Figs. 1 and 2 (the first optimum
    when none is named)."""
    from ...zoo import sweep_paramspace

    example = config[NAME]["example"]
    for sweep in optimum_sweeps(config):
        names = list(sweep_paramspace(config["sweeps"][sweep]).instance_patterns)
        if example is None or example in names:
            index = 0 if example is None else names.index(example)
            return sweep, index // config["sweeps"][sweep]["population_size"]
    raise ValueError(f"{NAME}.example {example!r} is not a network of the optimum sweeps")


def population_path(config: Mapping, sweep: str, population, name: str) -> str:
    """``results/loss_landscape/<sweep>/population_<i>/<name>`` (wildcards allowed)."""
    population = f"{int(population):03d}" if str(population).isdigit() else population
    return f"{config['results']}/{NAME}/{sweep}/population_{population}/{name}"


def population_paths(config: Mapping, name: str) -> list[str]:
    """One ``name`` store per population of optima, in the order of :func:`populations`."""
    return [population_path(config, s, p, name) for s, p in populations(config)]


def path(config: Mapping, name: str) -> str:
    """``results/loss_landscape/<name>``."""
    return f"{config['results']}/{NAME}/{name}"


def outputs(config: Mapping) -> list[str]:
    """Every table, figure and store of the study."""
    if not config[NAME]["sweeps"]:
        return []
    targets = [path(config, f"tables/{name}.csv") for name in TABLES]
    targets += [path(config, "tables/claims.csv")]
    targets += [path(config, f"figures/{name}.png") for name in FIGURES]
    targets += [path(config, "embedding_comparison.parquet")]
    targets += [population_path(config, s, p, name) for s, p in populations(config) for name in POPULATION_STORES]
    return targets


def check(config: Mapping) -> list[str]:
    """Named sweeps (or families) exist and are classification sweeps; the memorization sweep
    exists and has random labels; the example is a network of an optimum sweep; each sampling
    gives PHATE enough items; the cross-validation has enough optima per class to stratify."""
    from ...data import DATASET_TASKS
    from ...kernels.embedding import PHATE_MIN_ITEMS
    from ...zoo import sweep_paramspace, sweep_size

    block, sweeps = config[NAME], config["sweeps"]
    problems = []
    for index, name in enumerate(block["sweeps"]):
        members = [s for s, sweep in sweeps.items() if s == name or sweep.get("family") == name]
        if not members:
            problems.append(f"config key '{NAME}.sweeps[{index}]': no sweep or sweep family named {name!r}")
        elif any(DATASET_TASKS[sweeps[s]["dataset"]] != "classification" for s in members):
            problems.append(f"config key '{NAME}.sweeps[{index}]': {name!r} is not a classification sweep")
    memorization = block["memorization"]
    if memorization and memorization not in sweeps:
        problems.append(f"config key '{NAME}.memorization': no sweep named {memorization!r}")
    elif memorization and 1.0 not in sweeps[memorization]["grid"]["label_noise"]:
        problems.append(f"config key '{NAME}.memorization': sweep {memorization!r} has no network on random labels (label_noise 1.0)")
    if problems or not block["sweeps"]:
        return problems
    networks = [n for s in optimum_sweeps(config) for n in sweep_paramspace(sweeps[s]).instance_patterns]
    if block["example"] is not None and block["example"] not in networks:
        problems.append(f"config key '{NAME}.example': {block['example']!r} is not a network of the optimum sweeps")
    # each optimum's three samplings are embedded by PHATE apart: each must give it enough items
    # (the optimum, then the samples), or the embedding step fails after all the sampling
    samples = {
        "jump-and-retrain (the optimum + seeds x step_sizes x (retrain.epochs + 1))":
            (1 + len(block["seeds"]) * len(block["step_sizes"]) * (block["retrain"]["epochs"] + 1), "seeds"),
        "naive (the optimum + naive_directions x step_sizes)":
            (1 + block["naive_directions"] * len(block["step_sizes"]), "naive_directions"),
    }
    for sampling, (items, key) in samples.items():
        if items < PHATE_MIN_ITEMS:
            problems.append(
                f"config key '{NAME}.{key}': the {sampling} sampling gives {items} items per optimum; "
                f"its PHATE embedding needs at least {PHATE_MIN_ITEMS}"
            )
    total = sum(sweep_size(sweeps[s]) for s in optimum_sweeps(config) if s != memorization)
    smallest = total // block["generalization_classes"]
    if block["classifiers"]["folds"] > smallest:
        problems.append(
            f"config key '{NAME}.classifiers.folds': {block['classifiers']['folds']} folds need at least that many optima "
            f"per class; {total} optima in {block['generalization_classes']} generalization classes give {smallest}"
        )
    return problems


def jump_retrain_spec_of(config: Mapping, sweep: str, population: int) -> dict:
    """The population spec of the jump-and-retrain job of one store of optima (what it trains:
    every optimum x seed x step size), from the config alone."""
    from ...zoo import population_spec
    from .steps.jump_retrain import jump_retrain_spec

    settings = config[NAME]
    return jump_retrain_spec(population_spec(config, sweep, population), settings["seeds"], settings["step_sizes"], settings["retrain"])


def probe_points(config: Mapping) -> int:
    """Grid and naive points sampled around each optimum (the optimum itself aside)."""
    settings = config[NAME]
    return settings["grid_points_per_axis"] ** 3 + settings["naive_directions"] * len(settings["step_sizes"])


def networks_trained_at_once(config: Mapping, sweep: str) -> int:
    """Jump-and-retrain retrains every seed x step size of each optimum of a store in one population."""
    if sweep not in optimum_sweeps(config):
        return 1
    return len(config[NAME]["seeds"]) * len(config[NAME]["step_sizes"])


def jobs(config: Mapping) -> dict[str, int]:
    """Jobs per rule of a whole run: the three samplings once per population of optima, the
    comparison, tables and figures once."""
    stores = len(populations(config)) if config[NAME]["sweeps"] else 0
    once = ("compare_embeddings", "tabulate_loss_landscape", "tabulate_loss_landscape_claims", "plot_loss_landscape")
    return {
        **{rule: stores for rule in ("sample_jump_retrain", "sample_probes", "embed_landscape")},
        **{rule: min(stores, 1) for rule in once},
    }


STUDY = Study(
    name=NAME,
    networks_trained_at_once=networks_trained_at_once,
    title="Horoi et al., geometry and topology of loss landscapes (paper 002)",
    # each step in the module of its stage (steps/__init__.py lists them)
    steps={
        "sample_jump_retrain": f"pipeline.studies.{NAME}.steps.jump_retrain:sample_jump_retrain",
        "sample_probes": f"pipeline.studies.{NAME}.steps.probes:sample_probes",
        "embed_landscape": f"pipeline.studies.{NAME}.steps.embed:embed_landscape",
        "compare_embeddings": f"pipeline.studies.{NAME}.steps.embedding_methods:compare_embeddings",
        "tabulate_loss_landscape": f"pipeline.studies.{NAME}.steps.tables:tabulate_loss_landscape",
        "tabulate_loss_landscape_claims": f"pipeline.studies.{NAME}.steps.tables:tabulate_loss_landscape_claims",
        "plot_loss_landscape": f"pipeline.studies.{NAME}.figures:plot_loss_landscape",
    },
    outputs=outputs,
    check=check,
    jobs=jobs,
)
