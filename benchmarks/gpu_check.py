"""The GPU check: every paper architecture's population trained on CUDA in each precision, beside
CPU float32 and beside the plan's prediction (issue 18, item 6). About 4 minutes on one H100/H200.

    .venv/bin/python benchmarks/gpu_check.py [--seconds 6] [--json gpu_check.json]
    .venv/bin/python benchmarks/gpu_check.py --device cpu --seconds 0.5      # the script itself, anywhere

For each distinct architecture of config/paper.yaml's cuda sweeps, at the sweep's batch size and
its population size (after the GPU-memory split of pipeline.config), on seeded stand-in data of
the dataset's shape:

- **equality**: 3 steps of a 2-member population at batch 16 on the device in each precision
  against the same steps on the CPU in float32: the largest difference of any parameter,
  relative to that parameter's largest magnitude, must stay within the precision's tolerance
  (:data:`TOLERANCE`: float32 reorders sums, TF32 keeps 10 mantissa bits, bf16 7);
- **throughput**: steps per second and training images per second, timed over as many steps as
  fit in ``--seconds`` (after warm-up steps, synchronized), and the peak memory the device
  allocated (``torch.cuda.max_memory_allocated``);
- **ops per step** dispatched (a ``TorchDispatchMode`` over one step's difference);
- **the plan's prediction** of the step time (pipeline.plan.gpu_step_seconds: FLOPs at
  compute.plan.gpu_tflops, or ops x gpu_op_us) and of the peak memory, with their ratios.

Prints one Markdown table; with ``--json`` also writes the rows. Exit status 1 when an equality
check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from pipeline import plan, zoo
from pipeline.config import load_config
from pipeline.data import dataset_geometry, load_dataset
from pipeline.plan.profiles import OpCounter
from pipeline.train import Member, PopulationTrainer, TrainingSettings, initial_population

REPO = Path(__file__).resolve().parents[1]
PRECISIONS = ("fp32", "tf32", "bf16")
# largest |difference| / largest |value| of a parameter after 3 steps, against CPU float32
TOLERANCE = {"fp32": 1e-4, "tf32": 1e-2, "bf16": 5e-2}


def architectures(config, sweeps=None) -> list[dict]:
    """One entry per distinct (architecture, input shape) of the config's cuda sweeps (or of the
    named ``sweeps``)."""
    seen, chosen = set(), []
    for name, sweep in config["sweeps"].items():
        if (name not in sweeps) if sweeps else (sweep["device"] or config["compute"]["device"]) != "cuda":
            continue
        geometry = dataset_geometry(sweep["dataset"], sweep["dataset_options"])
        key = plan.profile_key(sweep["architecture"], geometry["input_shape"], geometry["outputs"])
        if key in seen:
            continue
        seen.add(key)
        chosen.append({"sweep": name, "spec": zoo.population_spec(config, name, 0), "geometry": geometry})
    return chosen


def stand_in(dataset: str, n: int):
    if dataset in ("mnist", "fashion_mnist", "cifar10"):
        return load_dataset(dataset, stand_in={"train": max(n, 20), "test": 20})
    return load_dataset(dataset)


def trainer_for(spec, data, members: int, batch: int, steps: int, precision: str, device: str) -> PopulationTrainer:
    population = [
        Member(lr=m["lr"], momentum=m["momentum"], weight_decay=m["weight_decay"], init_seed=m["init_seed"], label_noise=0.0)
        for m in (spec["members"] * members)[:members]
    ]
    settings = TrainingSettings(
        epochs=1, batch_size=batch, optimizer=spec["training"]["optimizer"], augment=spec["training"]["augment"],
        precision=precision, snapshot_every="epoch",
    )
    n = batch * steps
    subset = type(data)(data.name, data.x_train[:n], data.y_train[:n], data.x_test, data.y_test, data.task, data.num_classes)
    base, params, buffers = initial_population(spec["architecture"], data.input_shape, data.num_outputs, population)
    return PopulationTrainer(base, params, buffers, population, subset, settings, device=device)


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def equality(spec, data, precision: str, device: str) -> float:
    """Largest relative parameter difference after 3 steps: ``device`` in ``precision`` against CPU fp32."""
    reference = trainer_for(spec, data, 2, 16, 3, "fp32", "cpu")
    reference.run(progress=False)
    checked = trainer_for(spec, data, 2, 16, 3, precision, device)
    checked.run(progress=False)
    worst = 0.0
    for name, value in reference.numpy_params().items():
        other = checked.numpy_params()[name]
        scale = max(float(abs(value).max()), 1e-12)
        worst = max(worst, float(abs(other - value).max()) / scale)
    return worst


def timed(spec, data, members: int, batch: int, precision: str, device: str, seconds: float) -> dict:
    """Steps per second (differencing a short and a long run: set-up and the epoch's evaluation
    cancel), peak allocated memory, and ops per step."""
    def run(steps):
        trainer = trainer_for(spec, data, members, batch, steps, precision, device)
        synchronize(device)
        start = time.perf_counter()
        trainer.run(progress=False)
        synchronize(device)
        return time.perf_counter() - start

    run(3)  # warm-up: kernels chosen, caches filled
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    short = run(2)
    per_step = max(run(6) - short, 1e-9) / 4
    steps = max(6, min(400, int(seconds / per_step)))
    long = run(steps)
    per_step = max(long - short, 1e-9) / (steps - 2)
    peak = torch.cuda.max_memory_allocated() / 1e6 if device == "cuda" else float("nan")
    counts = []
    for steps_counted in (2, 3):
        trainer = trainer_for(spec, data, members, batch, steps_counted, precision, device)
        counter = OpCounter()
        with counter:
            trainer.run(progress=False)
        counts.append(sum(counter.ops.values()))
    return {"steps": steps, "step_ms": per_step * 1e3, "images_per_s": members * batch / per_step, "peak_mb": peak,
            "ops_per_step": counts[1] - counts[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seconds", type=float, default=6.0, help="timed seconds per architecture and precision")
    parser.add_argument("--configfile", nargs="+", default=[str(REPO / "config/paper.yaml")])
    parser.add_argument("--members", type=int, help="population size (default: each sweep's)")
    parser.add_argument("--sweeps", nargs="+", help="these sweeps' architectures (default: every cuda sweep's)")
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    if options.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device here (run it with --device cpu to check the script itself)")
    config = load_config(*options.configfile)
    figures = plan.Figures.from_config(config)
    start = time.perf_counter()
    rows, failed = [], False
    device_name = torch.cuda.get_device_name() if options.device == "cuda" else "cpu"
    print(f"# GPU check on {device_name}, torch {torch.__version__}\n")
    print("| architecture | members x batch | precision | step ms | plan ms | ratio | images/s | peak MB | plan MB | ratio "
          "| ops/step | plan ops | vs CPU fp32 | tol |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for entry in architectures(config, options.sweeps):
        spec, geometry = entry["spec"], entry["geometry"]
        members = options.members or len(spec["members"])
        batch = spec["training"]["batch_size"]
        data = stand_in(spec["dataset"], batch * 400)
        profile = plan.network_profile(spec["architecture"], geometry["input_shape"], geometry["outputs"], spec["training"]["precision"])
        label = f"{spec['architecture']['name']} ({entry['sweep']})"
        for precision in PRECISIONS:
            difference = equality(spec, data, precision, options.device)
            measured = timed(spec, data, members, batch, precision, options.device, options.seconds)
            predicted_ms = plan.gpu_step_seconds(profile, members, batch, precision, figures) * 1e3
            work = plan.TrainingWork(
                architecture=spec["architecture"], dataset=spec["dataset"],
                dataset_options={**spec["dataset_options"], "stand_in": {"train": len(data.x_train), "test": len(data.x_test)}},
                members=members, batch_size=batch, steps=1, examples=batch, eval_examples=0, snapshots=0, device="cuda",
                precision=precision, threads=1, optimizer=spec["training"]["optimizer"],
            )
            predicted_mb = plan.training_estimate(work, figures).gpu_mb - 500  # less the CUDA context
            ok = difference <= TOLERANCE[precision]
            failed |= not ok
            row = {"architecture": label, "members": members, "batch": batch, "precision": precision, **measured,
                   "plan_step_ms": predicted_ms, "plan_peak_mb": predicted_mb, "plan_ops": profile["step_ops"],
                   "difference": difference, "tolerance": TOLERANCE[precision], "ok": ok}
            rows.append(row)
            print(f"| {label} | {members} x {batch} | {precision} | {measured['step_ms']:.2f} | {predicted_ms:.2f} | "
                  f"{predicted_ms / measured['step_ms']:.2f} | {measured['images_per_s']:,.0f} | {measured['peak_mb']:,.0f} | "
                  f"{predicted_mb:,.0f} | {predicted_mb / measured['peak_mb']:.2f} | {measured['ops_per_step']} | "
                  f"{profile['step_ops']} | {difference:.1e} | {TOLERANCE[precision]:.0e}{'' if ok else ' FAILED'} |",
                  flush=True)
    print(f"\n{len(rows)} checks in {time.perf_counter() - start:.0f} s; plan figures: {dict(figures.gpu_tflops)} TFLOP/s, "
          f"{figures.gpu_op_us:g} us/op")
    if options.json:
        options.json.write_text(json.dumps({"device": device_name, "torch": torch.__version__, "rows": rows}, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
