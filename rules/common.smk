# Shared by every rule: the validated config, the step command, paths, resources, the targets.
# Nothing here names a study: studies are found through pipeline.studies.registered().
import json
import logging
import os
import shlex
import sys

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger as snakemake_logger
from snakemake_interface_logger_plugins.common import LogEvent
from snakemake.settings.types import DeploymentMethod

sys.path.insert(0, workflow.basedir)

from pipeline import plan, run_summary, zoo  # noqa: E402
from pipeline.__main__ import RUNTIME_VARIABLE  # noqa: E402
from pipeline.config import ConfigError, check_results_folder, record_config, validate_config  # noqa: E402
from pipeline.data import TORCHVISION_SIZES, missing_torchvision_files  # noqa: E402
from pipeline.studies import registered  # noqa: E402

try:
    _validated = validate_config(dict(config))
except ConfigError as error:
    raise WorkflowError(str(error)) from None
config.clear()
config.update(_validated)

RESULTS = config["results"]
STUDIES = registered()
# Every rule runs its step in the interpreter that runs Snakemake (the project's .venv), or in
# the rule's conda environment (envs/pipeline.yaml) under --software-deployment-method conda.
CONDA_ENV = "../envs/pipeline.yaml"
_USES_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
# The interpreter and the where/how settings reach the step command through the environment,
# not params: they say where and how a step runs, not what it computes, so changing them (moving
# the data, switching to a GPU or a Dask cluster) must re-run nothing. A SLURM job's Snakemake
# parses this file again and sets them there too.
os.environ["PIPELINE_PYTHON"] = "python" if _USES_CONDA else shlex.quote(sys.executable)
# Only the prepare_datasets job may download (download_datasets): a training or analysis step
# never does, so no job on a compute node needs the network and no two jobs race to one folder.
os.environ[RUNTIME_VARIABLE] = json.dumps(
    {
        "data_root": config["data"]["root"],
        "download_datasets": config["data"]["download"],
        # each sweep's device (its own, else compute.device), read by a step for the sweep it runs
        "device": {
            "default": config["compute"]["device"],
            "sweeps": {name: sweep["device"] for name, sweep in config["sweeps"].items() if sweep["device"]},
        },
        "dask_cluster": config["compute"]["dask"],
    }
)


def sweep_device(sweep):
    """A sweep's device: its own, else compute.device. From the config alone, never from the host
    running Snakemake (a cluster's login node has no GPU; its compute nodes may)."""
    return config["sweeps"][sweep]["device"] or config["compute"]["device"]


ANALYSIS_THREADS = config["compute"]["analysis_threads"]
TRAIN_THREADS = config["compute"]["train_threads"]


# ---------------------------------------------------------------------------------- datasets
def _torchvision_datasets():
    """The torchvision datasets the sweeps train on: name -> the stand-in sizes, or None where
    some sweep needs the real files."""
    used = {}
    for sweep in config["sweeps"].values():
        if sweep["dataset"] in TORCHVISION_SIZES:
            stand_in = sweep["dataset_options"]["stand_in"]
            used[sweep["dataset"]] = None if stand_in is None else used.get(sweep["dataset"], stand_in)
    return used


TORCHVISION_DATASETS = _torchvision_datasets()
# With downloading off, an absent dataset stops the workflow here, before any job: the files a
# training job would look for are named, rather than found missing hours into a run.
if not config["data"]["download"]:
    _missing = {
        name: missing_torchvision_files(name, config["data"]["root"])
        for name, stand_in in TORCHVISION_DATASETS.items() if stand_in is None
    }
    _missing = {name: files for name, files in _missing.items() if files}
    if _missing:
        raise WorkflowError(
            "data.download is false and these datasets are absent: "
            + "; ".join(f"{name}: missing {', '.join(files)}" for name, files in _missing.items())
            + ". Place the torchvision files there, set data.download: true (prepare_datasets then "
            "downloads them once, before any training), or set data.stand_in: true to rehearse."
        )


def prepared_dataset(wildcards):
    """The record of the sweep's torchvision dataset: training waits for prepare_datasets.
    ancient(): re-preparing (a deleted record) must not re-run finished training."""
    name = config["sweeps"][wildcards.sweep]["dataset"]
    return ancient(f"{RESULTS}/data/{name}.json") if name in TORCHVISION_DATASETS else []


# Declared, so that Snakemake passes them on to jobs it submits elsewhere (SLURM).
envvars:
    "PIPELINE_PYTHON",
    RUNTIME_VARIABLE,



wildcard_constraints:
    sweep="|".join(config["sweeps"]) or "NO_SWEEPS",
    population=r"\d{3}",
    dataset="|".join(TORCHVISION_DATASETS) or "NO_DATASETS",


def step(name=None):
    """The one command of every rule: the step named like the rule, ``{rule}``, which Snakemake
    fills with the rule's own name (so that no rule restates it; the Snakefile writes the name into
    each rule's recorded command), with its paths (params.paths, the named inputs and outputs)
    apart from its settings (params.settings, recorded). Every placeholder is quoted (:q), an
    integer Snakemake computes ({threads}) or the rule's name, an identifier. ``name``: a step of
    another name (no rule needs one today)."""
    return (
        f"$PIPELINE_PYTHON -m pipeline {name or '{rule}'} --args {{params.paths:q}} --settings {{params.settings:q}}"
        " --threads {threads} > {log:q} 2>&1"
    )


def step_args(**kwargs):
    """A step's settings as one JSON object (params.settings, quoted with :q in STEP).

    Settings must be a function of the wildcards alone: Snakemake records such params, so that a
    changed setting re-runs the rule (a params entry that depends on input or output is never
    recorded, and changing it would re-run nothing)."""
    return json.dumps(kwargs, sort_keys=True)


def study_settings(study, *keys, **more):
    """The keys of a study's config block as a step's settings (the schema filled their defaults)."""
    return step_args(**{key: config[study][key] for key in keys}, **more)


# ---------------------------------------------------------------------------------- figures
def figure_settings():
    """The figures' resolution and formats (config key figures), among a plotting step's settings:
    recorded, so that changing them re-runs the plotting jobs and nothing else."""
    return {"dpi": config["figures"]["dpi"], "formats": config["figures"]["formats"]}


def figure_outputs(folder, names, study, subcategory=None, labels=None):
    """A plotting rule's named outputs (pipeline.figures.figure_outputs): each figure's PNG
    ``<folder>/<name>.png`` under its name, in the report (caption report/<study>/<name>.rst), and
    each other format of figures.formats beside it, ``<folder>/<name>.<format>``, named
    ``<name>_<format>`` (plain outputs: the report shows the PNGs)."""
    outputs = {}
    for name in names:
        outputs[name] = report(
            f"{folder}/{name}.png",
            caption=f"report/{study}/{name}.rst",
            category=study,
            **({"subcategory": subcategory} if subcategory else {}),
            labels={**(labels or {}), "figure": name},
        )
        for fmt in config["figures"]["formats"]:
            if fmt != "png":
                outputs[f"{name}_{fmt}"] = f"{folder}/{name}.{fmt}"
    return outputs


def _plain(files):
    if isinstance(files, str):
        return files
    files = list(files)
    return files or None


def step_paths(wildcards, input, output):
    """A step's paths as one JSON object (params.paths): the rule's named inputs and outputs, by
    name (a list input stays a list, an absent optional input is null). Not recorded."""
    named = {name: _plain(files) for name, files in {**dict(input.items()), **dict(output.items())}.items()}
    return json.dumps(named, sort_keys=True)


def logs(rule, *wildcards):
    """A rule's log file, under results/ (so that results on scratch keep their logs beside them)."""
    return os.path.join(RESULTS, "logs", rule, *(wildcards or ("all",))) + ".log"


def benchmarks(rule, *wildcards):
    """A rule's Snakemake benchmark file (time and memory of each job), under results/."""
    return os.path.join(RESULTS, "benchmarks", rule, *(wildcards or ("all",))) + ".tsv"


def sweep_networks(sweep):
    return zoo.sweep_size(config["sweeps"][sweep])


def networks_read(wildcards, sweeps=None):
    """The networks a job reads: those of its ``{sweep}`` wildcard, or of ``sweeps`` (a list, or a
    function of the wildcards, for a job without that wildcard; None: every sweep)."""
    if "sweep" in wildcards.keys():
        chosen = [wildcards.sweep]
    elif callable(sweeps):
        chosen = sweeps(wildcards)
    else:
        chosen = list(sweeps if sweeps is not None else config["sweeps"])
    return sum(sweep_networks(s) for s in chosen)


# ---------------------------------------------------------------------------------- resources
# Every job's mem_mb, runtime and GPUs come from its estimate (pipeline.plan), the same one that
# `python -m pipeline plan` bills: no constants. A retried job (the profile's retries: a job that
# ran out of time or memory) asks for twice as much, then three times.
PLAN_FIGURES = plan.Figures.from_config(config)


def estimated(estimate_of, sweep_overrides=False, resumable=False):
    """A rule's resources from ``estimate_of(wildcards) -> pipeline.plan.Estimate``, computed once
    per job: the requests (mem_mb and runtime growing with the attempt, gpu) and the estimate itself
    (estimate_s, estimate_mb, estimate_gpu_mb, storage_mb), which the plan reads from a dry run.
    With ``sweep_overrides``, a sweep's own mem_mb or runtime (when set) replaces the request. A
    ``resumable`` job (its step continues from what a killed attempt saved) asks for at most
    compute.plan.max_runtime_min, the same at every attempt: a longer one runs as several."""
    known = {}

    def values(wildcards):
        key = tuple(sorted(wildcards.items()))
        if key not in known:
            known[key] = plan.resources(estimate_of(wildcards), PLAN_FIGURES, resumable=resumable)
            if sweep_overrides:
                sweep = config["sweeps"][wildcards.sweep]
                known[key].update({name: sweep[name] for name in ("mem_mb", "runtime") if sweep[name] is not None})
        return known[key]

    def resource(name):
        if name == "mem_mb" or (name == "runtime" and not resumable):
            return lambda wildcards, attempt: values(wildcards)[name] * attempt
        return lambda wildcards: values(wildcards)[name]

    return {name: resource(name) for name in plan.RESOURCES}


def analysed(rule, sweeps=None):
    """Resources of an analysis job: its rule's measured unit costs x the networks it reads
    (networks_read)."""
    return estimated(lambda wildcards: plan.analysis_estimate(rule, networks_read(wildcards, sweeps), PLAN_FIGURES))


def trained(spec_of):
    """Resources of a training-type job: the estimate of the population spec ``spec_of(wildcards)``
    trained on its sweep's device (``auto`` asks for no GPU, so it is estimated on the CPU)."""

    def estimate(wildcards):
        spec = spec_of(wildcards)
        work = plan.training_work(spec, sweep_device(wildcards.sweep), TRAIN_THREADS)
        return plan.training_estimate(work, PLAN_FIGURES, gpus=config["compute"]["gpus_per_training_job"])

    # training resumes from its last checkpoint (a snapshot's state)
    return estimated(estimate, sweep_overrides=True, resumable=True)


# ---------------------------------------------------------------------------------- training
def population_store(sweep, population):
    return f"{RESULTS}/zoo/{sweep}/population_{int(population):03d}.zarr"


def population_stores(sweep):
    return [population_store(sweep, p) for p in range(zoo.n_populations(config["sweeps"][sweep]))]


def sweeps_stores(sweeps):
    """Every population store of these sweeps."""
    return [store for sweep in sweeps for store in population_stores(sweep)]


def sweep_metrics(sweep):
    return f"{RESULTS}/zoo/{sweep}/metrics.parquet"


def sweep_settings(sweep):
    """A sweep's config less what says where and how it runs (resources, job split, device): a
    change of those must not re-run a training."""
    return {k: v for k, v in config["sweeps"][sweep].items() if k not in ("mem_mb", "runtime", "population_size", "device")}


def init_store(wildcards):
    """The store holding the network a fine-tuning sweep starts from (none for other sweeps)."""
    source = zoo.source_network(config, wildcards.sweep)
    return population_store(source[0], source[1]) if source else []


def init_member(wildcards):
    """That network's index within its store."""
    source = zoo.source_network(config, wildcards.sweep)
    return source[2] if source else 0


def one_network(spec):
    """A population spec of its first member alone."""
    return {**spec, "members": spec["members"][:1]}


# A training job's resources: its population's estimate (trained()).
TRAINING_RESOURCES = trained(lambda wildcards: zoo.population_spec(config, wildcards.sweep, int(wildcards.population)))


def unknown_study(wildcards):
    """Input of unknown_study_target, which catches a study target naming no study. It stops the
    DAG with the study targets that exist (Snakemake alone would say only "No rule to produce")."""
    raise WorkflowError(
        f"unknown study target study_{wildcards.name}; the study targets are: "
        + ", ".join(f"study_{name}" for name in STUDIES)
    )


def study_targets(study):
    """A study's outputs (``study.outputs(config)``, which names each figure by its PNG) with each
    figure's other formats (figures.formats) beside its PNG: Snakemake re-makes a missing file only
    when a target asks for it, so a PDF deleted on its own, or a format added later, is made too."""
    extra = [fmt for fmt in config["figures"]["formats"] if fmt != "png"]
    targets = []
    for path in study.outputs(config):
        targets.append(path)
        if path.endswith(".png") and "/figures/" in path:
            targets += [f"{path[:-4]}.{fmt}" for fmt in extra]
    return targets


def all_targets():
    """The default target: every sweep's stores and metrics table, and every study's outputs.

    The stores in between are targets too: Snakemake re-creates a missing file only when a target
    needs it, and a store that went missing (deleted, or moved aside as corrupted) must be re-made
    along with what was computed from it."""
    targets = [sweep_metrics(sweep) for sweep in config["sweeps"]]
    targets += [store for sweep in config["sweeps"] for store in population_stores(sweep)]
    for study in STUDIES.values():
        targets += study_targets(study)
    if claims_tables():
        targets.append(f"{RESULTS}/claims.html")
    return targets


def claims_tables():
    """Every study's claims table among its outputs (``results/<study>/tables/claims.csv``), for
    the page that gathers them (pipeline.claims)."""
    return [
        path for name, study in STUDIES.items() for path in study.outputs(config) if path == f"{RESULTS}/{name}/tables/claims.csv"
    ]


# ---------------------------------------------------------------------------------- the run's end
class _BriefTargetRules(logging.Filter):
    """Snakemake prints a target rule's every input twice (its input and the reason it runs):
    over 10,000 characters for rule ``all`` at the end of a run. A count says the same."""

    def filter(self, record):
        if getattr(record, "event", None) == LogEvent.JOB_INFO and getattr(record, "rule_name", "") in TARGET_RULES:
            n = len(getattr(record, "input", []))
            record.input = [f"the {n} final outputs of the run ({RESULTS}/)"]
            record.reason = "the end of the run: it gathers the final outputs"
        return True


TARGET_RULES = {"all", *(f"study_{name}" for name in STUDIES)}
# One filter, this parse's (a process that parses the workflow again replaces the former one).
for _filter in [f for f in snakemake_logger.filters if type(f).__name__ == "_BriefTargetRules"]:
    snakemake_logger.removeFilter(_filter)
snakemake_logger.addFilter(_BriefTargetRules())


# A results folder made with other settings is refused before any job (unless the config accepts
# the change); then the folder records this run's settings (pipeline.config, <results>/config.yaml).
# At the start of a real run only: a dry run shows what a changed setting would re-run.
onstart:
    try:
        check_results_folder(config)
    except ConfigError as error:
        raise WorkflowError(str(error)) from None
    record_config(config)


# Where the results are, or which job failed and how its log ends (pipeline.run_summary).
onsuccess:
    print(run_summary.results_summary(RESULTS, STUDIES, [os.path.relpath(path) for path in workflow.overwrite_configfiles]))


onerror:
    print(run_summary.failure_summary(log))
