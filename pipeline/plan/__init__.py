"""The bill before the run: what each job of the workflow will cost, from the config alone.

One estimate per job, used twice: the rules' ``resources`` (``mem_mb``, ``runtime``, ``gpu``: what
a job asks SLURM for, :func:`requests`) and ``python -m pipeline plan`` (the bill: GPU- and
CPU-hours, peak memory, storage, the critical path; :mod:`.report`). The two cannot disagree.

Where an estimate comes from:

- a **training-type job** (a population trained, retrained or evaluated) from its work, counted
  from the config (:class:`TrainingWork`): members x examples x the architecture's FLOPs per
  example, optimizer steps x the ops one step dispatches x a per-op host cost, activation bytes
  per example x batch x members (:mod:`.profiles` measures the per-example figures with torch's
  counters; :data:`PROFILES_FILE` keeps them so that Snakemake need not import torch to plan);
- an **analysis job** from its rule's measured unit costs (:data:`UNIT_COSTS_FILE`: seconds and
  MB per unit of work, a unit being the networks the job reads, fitted on a finished default run
  by ``benchmarks/unit_costs.py``);
- the **device figures** (:class:`Figures`: achieved FLOP/s, host cost per op, process start-up)
  from the config's ``compute.plan`` block, each stated there with where it was measured, each
  overridable.

This module imports no torch: Snakemake evaluates it for every job each time it starts.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..cadence import snapshot_steps, steps_per_epoch
from ..data import dataset_geometry

PROFILES_FILE = Path(__file__).with_name("network_profiles.json")
UNIT_COSTS_FILE = Path(__file__).with_name("unit_costs.json")
MB = 1e6


@dataclass(frozen=True)
class Figures:
    """Device figures of the estimates (config ``compute.plan``; its schema says what each is)."""

    cpu_speed: float
    gpu_tflops: Mapping[str, float]
    gpu_op_us: float
    gpu_memory_gb: float
    startup_s: float
    base_mb: float
    torch_mb: float
    store_mb_per_s: float
    runtime_margin: float
    memory_margin: float
    max_runtime_min: int | None

    @classmethod
    def from_config(cls, config: Mapping) -> "Figures":
        return cls(**config["compute"]["plan"])


@dataclass(frozen=True)
class TrainingWork:
    """A population's training (or forward-only evaluation), counted from the config.

    ``examples`` is the training examples one member sees over the job (epochs x training set);
    ``steps`` the optimizer steps; ``eval_examples`` the examples evaluated per member without
    gradients (test set each epoch, snapshot and threshold evaluations, probes); ``snapshots``
    the parameter snapshots written.
    """

    architecture: Mapping
    dataset: str
    dataset_options: Mapping
    members: int
    batch_size: int
    steps: int
    examples: int
    eval_examples: int
    snapshots: int
    device: str
    precision: str
    threads: int
    optimizer: str = "sgd"
    snapshot_bytes: int = 4


@dataclass(frozen=True)
class Estimate:
    """One job's predicted wall time, peak host memory (RSS), peak GPU memory and bytes written."""

    seconds: float
    host_mb: float
    gpu_mb: float = 0.0
    storage_mb: float = 0.0
    gpus: int = 0
    # an analysis job's units of work (the networks it reads), by which its rule's costs were fitted
    units: float = 0.0


# ----------------------------------------------------------------------------- profiles
@functools.cache
def _profile_table() -> dict:
    return json.loads(PROFILES_FILE.read_text()) if PROFILES_FILE.exists() else {}


def profile_key(architecture: Mapping, input_shape, outputs: int, precision: str = "fp32") -> str:
    """The key of a profile in the table: the architecture, input shape, outputs and precision as JSON."""
    return json.dumps(
        {"architecture": dict(architecture), "input_shape": list(input_shape), "outputs": outputs, "precision": precision}, sort_keys=True
    )


def network_profile(architecture: Mapping, input_shape, outputs: int, precision: str = "fp32") -> dict:
    """The architecture's per-example costs in ``precision`` (:func:`.profiles.network_profile`),
    from the table when it holds them, else measured now (which imports torch)."""
    key = profile_key(architecture, input_shape, outputs, precision)
    table = _profile_table()
    if key not in table:
        from .profiles import network_profile as measure

        table[key] = measure(architecture, input_shape, outputs, precision)
    return table[key]


# ----------------------------------------------------------------------------- training
def training_work(spec: Mapping, device: str, threads: int) -> TrainingWork:
    """The work of a population spec (:func:`pipeline.zoo.population_spec` or a study's, such as
    jump-and-retrain's): every member trained for the spec's epochs, evaluated on the test set
    after each epoch, on the training and test sets at each snapshot with ``snapshot_metrics``,
    and on the training set every ``threshold_every`` steps with thresholds."""
    training = spec["training"]
    geometry = dataset_geometry(spec["dataset"], spec["dataset_options"])
    n_train, n_test = geometry["train"], geometry["test"]
    per_epoch = steps_per_epoch(n_train, training["batch_size"])
    steps = training["epochs"] * per_epoch
    snapshots = len(
        snapshot_steps(training["snapshot_every"], epochs=training["epochs"], batch_size=training["batch_size"], n_train=n_train)
    )
    evals = training["epochs"] * n_test
    if training.get("snapshot_metrics"):
        evals += snapshots * (n_train + n_test)
    if training.get("snapshot_thresholds"):
        evals += (steps // training.get("threshold_every", 1) + 1) * n_train
    return TrainingWork(
        architecture=spec["architecture"], dataset=spec["dataset"], dataset_options=spec["dataset_options"],
        members=len(spec["members"]), batch_size=training["batch_size"], steps=steps,
        examples=training["epochs"] * n_train, eval_examples=evals, snapshots=snapshots,
        device=device, precision=training.get("precision", "fp32"), threads=threads, optimizer=training["optimizer"],
        snapshot_bytes=2 if training.get("snapshot_dtype") == "float16" else 4,
    )


def gpu_step_seconds(profile: Mapping, members: int, batch: int, precision: str, figures: Figures) -> float:
    """One training step of a population on a GPU: its arithmetic at the achieved FLOP/s of the
    precision, or the host's dispatch of its ops, whichever is longer."""
    arithmetic = members * batch * profile["train_flops"] / (figures.gpu_tflops[precision] * 1e12)
    return max(arithmetic, profile["step_ops"] * figures.gpu_op_us * 1e-6)


def training_estimate(work: TrainingWork, figures: Figures, gpus: int = 1) -> Estimate:
    """Time and memory of a :class:`TrainingWork` on its device.

    On a GPU, time is the arithmetic at the device's achieved FLOP/s or the host's op dispatch,
    whichever is longer (the host queues kernels while the device runs them); on a CPU, the
    architecture's measured seconds per step and per example on one core, over the job's threads
    and the config's relative CPU speed; plus process start-up and writing the snapshots. Memory: the
    stacked parameters with gradients and optimizer slots (4 or 5 copies), the saved activations
    of one minibatch of every member, the dataset as float32, and the interpreter with torch.
    """
    geometry = dataset_geometry(work.dataset, work.dataset_options)
    profile = network_profile(work.architecture, geometry["input_shape"], geometry["outputs"], work.precision)
    flops = work.members * (work.examples * profile["train_flops"] + work.eval_examples * profile["forward_flops"])
    eval_batches = math.ceil(work.eval_examples / 1024)
    # an evaluation batch dispatches about the forward's share of a step's ops (a third)
    ops = work.steps * profile["step_ops"] + eval_batches * profile["step_ops"] / 3
    state_copies = 4 if work.optimizer == "sgd" else 5  # params, grads, slots, the snapshot's host copy
    weights = work.members * (profile["parameters"] + profile["buffers"]) * 4 * state_copies
    activations = work.members * min(work.batch_size, geometry["train"]) * profile["activation_bytes"]
    dataset = (geometry["train"] + geometry["test"]) * math.prod(geometry["input_shape"]) * 4
    written = work.members * work.snapshots * profile["parameters"] * work.snapshot_bytes
    io_seconds = written / (figures.store_mb_per_s * MB)
    host = figures.base_mb + figures.torch_mb + dataset / MB
    start = figures.startup_s
    if work.device == "cuda":
        arithmetic = flops / (figures.gpu_tflops[work.precision] * 1e12)
        seconds = start + max(arithmetic, ops * figures.gpu_op_us * 1e-6) + io_seconds
        gpu = (weights + 1.5 * activations + dataset) / MB + 500  # + the CUDA context
        return Estimate(seconds, host + work.members * profile["parameters"] * 4 / MB, gpu, written / MB, gpus)
    # measured per step, per training example and per evaluated example on one core of the
    # reference machine (.profiles)
    per_core = work.steps * profile["cpu_step_seconds"] + work.members * (
        work.examples * profile["cpu_example_seconds"] + work.eval_examples * profile["cpu_eval_example_seconds"]
    )
    seconds = start + per_core / (figures.cpu_speed * work.threads) + io_seconds
    return Estimate(seconds, host + (weights + 1.5 * activations) / MB, 0.0, written / MB, 0)


def evaluation_estimate(
    spec: Mapping, points: int, batch: int, device: str, threads: int, figures: Figures, gpus: int = 1
) -> Estimate:
    """Time and memory of evaluating ``points`` parameter vectors around every optimum of a
    population spec (loss-landscape probes) on its training and test sets, ``batch`` points at a
    time: forward passes only, the points' parameters (with the directions that make them) the
    only state."""
    geometry = dataset_geometry(spec["dataset"], spec["dataset_options"])
    profile = network_profile(spec["architecture"], geometry["input_shape"], geometry["outputs"], spec["training"].get("precision", "fp32"))
    evaluated = len(spec["members"]) * (points + 1)
    examples = geometry["train"] + geometry["test"]
    passes = len(spec["members"]) * math.ceil(points / batch) * math.ceil(examples * batch / 4096)
    dataset = examples * math.prod(geometry["input_shape"]) * 4
    held = 3 * batch * (profile["parameters"] + profile["buffers"]) * 4  # points, directions, their sum
    # a pass evaluates ~4,096 point-inputs (loss_landscape.steps.images_per_pass) without keeping
    # activations for a backward: about a fifth of the training's saved bytes at once (measured in
    # the rehearsal's probes of six WResNets)
    held += 0.2 * 4096 * profile["activation_bytes"]
    host = figures.base_mb + figures.torch_mb + dataset / MB
    if device == "cuda":
        rate = figures.gpu_tflops[spec["training"].get("precision", "fp32")] * 1e12
        arithmetic = evaluated * examples * profile["forward_flops"] / rate
        seconds = figures.startup_s + max(arithmetic, passes * profile["step_ops"] / 3 * figures.gpu_op_us * 1e-6)
        return Estimate(seconds, host + held / MB, (held + dataset) / MB + 500, 0.0, gpus)
    per_core = evaluated * examples * profile["cpu_eval_example_seconds"] + passes * profile["cpu_step_seconds"] / 3
    return Estimate(figures.startup_s + per_core / (figures.cpu_speed * threads), host + held / MB)


def fitting_members(spec: Mapping, budget_mb: float, figures: Figures) -> int:
    """The most members of a population like ``spec`` whose training fits ``budget_mb`` of GPU
    memory (the estimate is linear in the members: a fixed part and a part per member)."""
    def gpu_mb(members: int) -> float:
        one = {**spec, "members": spec["members"][:1] * members}
        return training_estimate(training_work(one, "cuda", 1), figures).gpu_mb

    fixed, per_member = 2 * gpu_mb(1) - gpu_mb(2), gpu_mb(2) - gpu_mb(1)
    return max(0, math.floor((budget_mb - fixed) / per_member)) if per_member > 0 else 10**9


# ----------------------------------------------------------------------------- analysis
@functools.cache
def unit_costs() -> dict:
    """Per rule: ``seconds`` and ``mb`` per job and per unit (``per_unit_seconds``, ``per_unit_mb``),
    measured (see :data:`UNIT_COSTS_FILE`)."""
    return json.loads(UNIT_COSTS_FILE.read_text())["rules"] if UNIT_COSTS_FILE.exists() else {}


def analysis_estimate(rule: str, units: float, figures: Figures, mb: float | None = None) -> Estimate:
    """An analysis job's time and memory from its rule's measured unit costs (``units``: the
    networks it reads); a rule never measured costs the start-up and the base memory. ``mb``: the
    memory from a study's own model of the job, where it has one."""
    cost = unit_costs().get(rule, {"seconds": figures.startup_s, "per_unit_seconds": 0.0, "mb": figures.base_mb, "per_unit_mb": 0.0})
    return Estimate(
        (cost["seconds"] + cost["per_unit_seconds"] * units) / figures.cpu_speed,
        mb if mb is not None else cost["mb"] + cost["per_unit_mb"] * units,
        units=units,
    )


# ----------------------------------------------------------------------------- requests
def attempts(estimate: Estimate, figures: Figures) -> int:
    """The attempts a resumable job takes when each may run ``max_runtime_min`` at most."""
    if figures.max_runtime_min is None:
        return 1
    return max(1, math.ceil(estimate.seconds * figures.runtime_margin / 60 / figures.max_runtime_min))


def requests(estimate: Estimate, figures: Figures, resumable: bool = False) -> dict[str, int]:
    """What a job asks the scheduler for: its estimate with the config's margins (time at least
    5 minutes, memory at least 1 GB: a scheduler's granularity), and its GPUs. A ``resumable``
    job asks for ``max_runtime_min`` at most (it continues in the next attempt)."""
    runtime = max(5, math.ceil(estimate.seconds * figures.runtime_margin / 60))
    if resumable and figures.max_runtime_min is not None:
        runtime = min(runtime, figures.max_runtime_min)
    return {
        "runtime": runtime,
        "mem_mb": max(1000, math.ceil(estimate.host_mb * figures.memory_margin)),
        "gpu": estimate.gpus,
    }


RESOURCES = ("runtime", "mem_mb", "gpu", "estimate_s", "estimate_mb", "estimate_gpu_mb", "storage_mb", "units", "attempts")


def resources(estimate: Estimate, figures: Figures, resumable: bool = False) -> dict[str, int]:
    """A job's Snakemake resources: :func:`requests`, and the estimate itself (``estimate_s``,
    ``estimate_mb``, ``estimate_gpu_mb``, ``storage_mb``, ``units``), which the plan reads back
    from a dry run."""
    return {
        **requests(estimate, figures, resumable),
        "estimate_s": math.ceil(estimate.seconds),
        "estimate_mb": math.ceil(estimate.host_mb),
        "estimate_gpu_mb": math.ceil(estimate.gpu_mb),
        "storage_mb": math.ceil(estimate.storage_mb),
        "units": math.ceil(estimate.units),
        # attempts needed within max_runtime_min; 0: one cannot finish it and it cannot resume
        "attempts": attempts(estimate, figures) if resumable else int(attempts(estimate, figures) == 1),
    }
