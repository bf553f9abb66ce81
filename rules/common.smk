# Shared helpers: config validation, paths, and the command that runs one pipeline step.
import json
import os
import shlex
import sys

from snakemake.exceptions import WorkflowError
from snakemake.settings.types import DeploymentMethod

sys.path.insert(0, workflow.basedir)

from pathlib import Path  # noqa: E402

from pipeline import zoo  # noqa: E402
from pipeline.network_manifold import FIGURES as NM_FIGURES  # noqa: E402
from pipeline.network_manifold import STORES as NM_STORES  # noqa: E402
from pipeline.network_manifold import TABLES as NM_TABLES  # noqa: E402
from pipeline.config import ConfigError, validate_config  # noqa: E402

try:
    _validated = validate_config(dict(config))
except ConfigError as error:
    raise WorkflowError(str(error)) from None
config.clear()
config.update(_validated)

RESULTS = config["results"]
# Every rule runs its step in the interpreter that runs Snakemake (the project's .venv), or in
# the rule's conda environment (envs/pipeline.yaml) under --software-deployment-method conda.
USES_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
PYTHON = "python" if USES_CONDA else shlex.quote(sys.executable)
CONDA_ENV = "../envs/pipeline.yaml"
# Settings that say where and how a step runs, not what it computes. They reach the step on the
# command line rather than through params, so changing them re-runs nothing.
RUNTIME = json.dumps(
    {
        "data_root": config["data"]["root"],
        "download": config["data"]["download"],
        "device": config["compute"]["device"],
    }
)
# The Dask cluster of the Dask-parallel steps (compute.dask): also where/how, not what.
DASK_RUNTIME = json.dumps({"dask": config["compute"]["dask"]})

def _local_nvidia_gpu():
    # Read from the driver rather than torch.cuda, whose import costs seconds at every start.
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    gpus = Path("/proc/driver/nvidia/gpus")
    return gpus.is_dir() and any(gpus.iterdir())


# Training jobs ask for a GPU when they will train on one. With device auto that is judged on
# the host running Snakemake: on a cluster whose login node has no GPU, set compute.device: cuda.
TRAINS_ON_GPU = config["compute"]["device"] == "cuda" or (config["compute"]["device"] == "auto" and _local_nvidia_gpu())


wildcard_constraints:
    sweep="|".join(config["sweeps"]) or "NO_SWEEPS",
    population=r"\d{3}",


def step_args(**kwargs):
    """Keyword arguments of a step as one JSON object (quoted with :q in the shell command).

    Every rule has two such params: `settings`, a function of the wildcards alone, which Snakemake
    records so that a changed setting re-runs the rule; and `paths`, from its input and output,
    which Snakemake does not record (a changed input is seen as such)."""
    return json.dumps(kwargs, sort_keys=True)


def population_store(sweep, population):
    return f"{RESULTS}/zoo/{sweep}/population_{int(population):03d}.zarr"


def population_stores(sweep):
    return [population_store(sweep, p) for p in range(zoo.n_populations(config["sweeps"][sweep]))]


def training_settings(sweep):
    """A sweep's config less what says where and how it runs (resources, job split): a change
    of those must not re-run a training."""
    return {k: v for k, v in config["sweeps"][sweep].items() if k not in ("mem_mb", "runtime", "population_size")}


def init_store(wildcards):
    """The store holding the network a fine-tuning sweep starts from (none for other sweeps)."""
    source = zoo.source_network(config, wildcards.sweep)
    return population_store(source[0], source[1]) if source else []


def init_member(wildcards):
    """That network's index within its store."""
    source = zoo.source_network(config, wildcards.sweep)
    return source[2] if source else 0


def sweep_metrics(sweep):
    return f"{RESULTS}/zoo/{sweep}/metrics.parquet"


def all_targets():
    """The default target: every output of every configured sweep and study.

    The stores in between are targets too: Snakemake re-creates a missing file only when a target
    needs it, and a store that went missing (deleted, or moved aside as corrupted) must be re-made
    along with what was computed from it."""
    targets = [sweep_metrics(sweep) for sweep in config["sweeps"]]
    targets += [store for sweep in config["sweeps"] for store in population_stores(sweep)]
    manifold = config["network_manifold"]["sweeps"]
    if manifold:
        base = f"{RESULTS}/network_manifold"
        targets += [f"{base}/tables/{name}.csv" for name in NM_TABLES]
        targets += [f"{base}/{s}/figures/{name}.png" for s in manifold for name in NM_FIGURES]
        targets += [f"{base}/{s}/suggestion.csv" for s in manifold]
        targets += [f"{base}/{s}/{name}" for s in manifold for name in NM_STORES]
    return targets
