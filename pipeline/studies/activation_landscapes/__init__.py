"""Study ``activation_landscapes``: persistence landscapes of every layer's activations over
training ("Activation landscapes", paper 004). Steps in :mod:`.steps` and :mod:`.figures`; this
module registers the study and names its outputs without importing torch or matplotlib."""

from __future__ import annotations

import math
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


# Input features of the data sets not loaded through torchvision (whose images' sizes are in
# pipeline.data.TORCHVISION_SIZES), and classes of those with more than two: a rule's resources
# follow from the config, without loading data or importing torch.
_INPUT_FEATURES = {"digits": 64, "moons": 2, "circles": 2, "disks9": 2, "rings9": 2, "spheres9": 3, "regression2d": 2}
_CLASSES = {"digits": 10, "mnist": 10, "fashion_mnist": 10, "cifar10": 10}
# extract_layer_activations' resident memory beyond what extraction_memory counts: the
# interpreter with torch, Dask, zarr and pandas imported (795 MB measured), and a margin
EXTRACTION_BASE_MB = 1000
# Loading a torchvision data set (or generating its stand-in) holds up to ~3x its float32 size
# (uint8 or generated pixels, the float copy, the normalized copy): 2.8x measured for MNIST's
# stand-in; the forward pass holds each layer's per-batch pieces and their concatenation (2x).
_DATASET_FACTOR, _FORWARD_FACTOR = 3, 2
# Throughput at which the step writes compressed, checksummed float32 chunks, counted low for a
# shared file system (one core measured ~100 MB/s on local disk)
_WRITE_BYTES_PER_MINUTE = 20e6 * 60


def batch_points(config: Mapping, experiment: str) -> int:
    """The points of an experiment's input batch: its ``size``, or (at most: a kept ``label``
    drops the other class) its ``lattice_fraction`` of the lattice data set's points."""
    from ...data import _DISKS9_POINTS

    batch = config[NAME]["experiments"][experiment]["batch"]
    if batch["lattice_fraction"] is None:
        return batch["size"]
    options = config["sweeps"][experiment_sweeps(config, experiment)[0]].get("dataset_options") or {}
    return int(round(batch["lattice_fraction"] * (options.get("n_samples") or _DISKS9_POINTS)))


def extraction_memory(config: Mapping, experiment: str) -> dict[str, int]:
    """The bytes ``extract_layer_activations`` holds at once for an experiment, term by term.

    The step streams one network at a time, so no term it holds grows with the number of
    networks; only ``written`` does.

    Parameters
    ----------
    config : mapping
        A validated config.
    experiment : str
        A key of ``activation_landscapes.experiments``.

    Returns
    -------
    dict
        ``activations``: one sample's slab, points x features summed over the layers after the
        input x thresholds, float32 (one network on one draw of the batch at every threshold);
        ``inputs``: the input layer, draws x points x input features; ``dataset``: the whole data
        set as float32, from which the batches are drawn; ``parameters``: every threshold snapshot
        of one population (read at once); ``written``: the whole store (for the runtime).
    """
    from ...data import TORCHVISION_SIZES, training_set_size
    from ...zoo import sweep_size

    settings = config[NAME]["experiments"][experiment]
    sweeps = experiment_sweeps(config, experiment)
    sweep = config["sweeps"][sweeps[0]]
    name, options = sweep["dataset"], sweep.get("dataset_options") or {}
    batch = settings["batch"]
    if name in TORCHVISION_SIZES:
        shape, train, test = TORCHVISION_SIZES[name]
        stand_in = options.get("stand_in") or {}
        in_features = int(math.prod(shape))
        dataset_points = (stand_in.get("train") or train) + (stand_in.get("test") or test)
    else:
        in_features = _INPUT_FEATURES[name]
        # the whole set is at most twice the training set (test_fraction < 1/2 in every config)
        dataset_points = 2 * training_set_size(name, options)
    points = batch_points(config, experiment)
    architecture = sweep["architecture"]
    widths = [in_features, *architecture["hidden"], _CLASSES.get(name, 2)]
    n_params = sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
    thresholds = len(sweep["snapshot_thresholds"])
    draws = batch["draws"]
    networks = sum(sweep_size(config["sweeps"][s]) for s in sweeps)
    per_sample = points * sum(widths[1:]) * thresholds * 4
    return {
        "activations": per_sample,
        "inputs": draws * points * in_features * 4,
        "dataset": dataset_points * in_features * 4,
        "parameters": sweep["population_size"] * thresholds * n_params * 4,
        "written": networks * draws * per_sample,
    }


def extraction_mem_mb(config: Mapping, experiment: str) -> int:
    """``mem_mb`` of ``extract_layer_activations``: :data:`EXTRACTION_BASE_MB` + 2 x activations
    (the forward pass's pieces and their concatenation) + 2 x inputs (as tensors and as the stored
    array) + 3 x dataset (while it loads) + parameters, in MB, rounded up."""
    terms = extraction_memory(config, experiment)
    held = (
        _FORWARD_FACTOR * terms["activations"] + 2 * terms["inputs"] + _DATASET_FACTOR * terms["dataset"] + terms["parameters"]
    )
    return EXTRACTION_BASE_MB + math.ceil(held / 1e6)


def extraction_runtime_min(config: Mapping, experiment: str) -> int:
    """``runtime`` (minutes) of ``extract_layer_activations``: 5 + the store's size at 20 MB/s."""
    return 5 + math.ceil(extraction_memory(config, experiment)["written"] / _WRITE_BYTES_PER_MINUTE)


# compute_layer_landscapes: the interpreter with Dask and gudhi (~200 MB measured) and a margin;
# each of its threads holds one item, whose distance matrix, its copies and gudhi's Rips
# filtration peaked at 7.2-8.2 x points^2 float64 (2,000 points local homology, 4,060 points plain)
LANDSCAPES_BASE_MB = 1000
_ITEM_MATRICES = 9


def landscapes_mem_mb(config: Mapping, experiment: str, threads: int) -> int:
    """``mem_mb`` of ``compute_layer_landscapes``: :data:`LANDSCAPES_BASE_MB` + threads x
    9 x points^2 x 8 bytes (one item per thread), in MB, rounded up. It does not grow with the
    networks: results go to the store as they arrive."""
    points = batch_points(config, experiment)
    return LANDSCAPES_BASE_MB + threads * math.ceil(_ITEM_MATRICES * points**2 * 8 / 1e6)


# compute_layer_landscapes: CPU seconds of one item of 4,000 points (two at once on two cores:
# 12.5 s each, docs/performance.md), scaled by points^2 (the distance matrix and the Rips edges)
LANDSCAPE_ITEM_SECONDS, LANDSCAPE_ITEM_POINTS = 25.0, 4000


def landscape_items(config: Mapping, experiment: str) -> int:
    """The (sample, threshold, layer) items of an experiment's landscapes, at most: every network
    x draw x threshold x layer after the input, and the input layer once per draw (items whose
    activations coincide are computed once, so fewer run)."""
    from ...zoo import sweep_size

    sweeps = experiment_sweeps(config, experiment)
    sweep = config["sweeps"][sweeps[0]]
    networks = sum(sweep_size(config["sweeps"][s]) for s in sweeps)
    draws = config[NAME]["experiments"][experiment]["batch"]["draws"]
    layers = len(sweep["architecture"]["hidden"]) + 1
    return networks * draws * len(sweep["snapshot_thresholds"]) * layers + draws


def landscapes_cpu_seconds(config: Mapping, experiment: str) -> float:
    """CPU seconds of an experiment's landscapes: :func:`landscape_items` x the measured seconds
    of an item, scaled by the batch's points squared."""
    scale = (batch_points(config, experiment) / LANDSCAPE_ITEM_POINTS) ** 2
    return landscape_items(config, experiment) * LANDSCAPE_ITEM_SECONDS * scale


def claims_path(config: Mapping, extension: str = "csv") -> str:
    """``results/activation_landscapes/tables/claims.<extension>``: the paper's claims beside every
    experiment's evidence."""
    return f"{config['results']}/{NAME}/tables/claims.{extension}"


def outputs(config: Mapping) -> list[str]:
    """Every store, table and figure of every experiment, and the claims table (when any)."""
    targets = []
    for experiment in config[NAME]["experiments"]:
        targets += [path(config, experiment, name) for name in STORES]
        targets += [path(config, experiment, f"tables/{name}.csv") for name in TABLES]
        targets += [path(config, experiment, f"figures/{name}.png") for name in FIGURES]
    if config[NAME]["experiments"]:
        targets.append(claims_path(config))
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


def jobs(config: Mapping) -> dict[str, int]:
    """Jobs per rule of a whole run: every step once per experiment, the claims once."""
    experiments = len(config[NAME]["experiments"])
    per_experiment = (
        "extract_layer_activations", "compute_layer_landscapes", "summarize_activation_landscapes", "plot_activation_landscapes",
    )
    return {**{rule: experiments for rule in per_experiment}, "tabulate_activation_landscapes_claims": min(experiments, 1)}


STUDY = Study(
    name=NAME,
    title="Persistence landscapes of every layer's activations over training (paper 004)",
    steps={
        **{
            step: f"pipeline.studies.{NAME}.steps:{step}"
            for step in (
                "extract_layer_activations", "compute_layer_landscapes", "summarize_activation_landscapes",
                "tabulate_activation_landscapes_claims",
            )
        },
        "plot_activation_landscapes": f"pipeline.studies.{NAME}.figures:plot_activation_landscapes",
    },
    outputs=outputs,
    check=check,
    jobs=jobs,
)
