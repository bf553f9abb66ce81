"""Benchmark: peak memory of extract_layer_activations before and after it streamed (issue 17).

Trains one population of the paper's MNIST experiment (config/paper.yaml, mlp_mnist_deep: 10 MLPs
784-128-64(x5)-10, ReLU, 8 snapshot thresholds) for one epoch on the MNIST stand-in (60,000 +
10,000 synthetic images of MNIST's shape, pipeline.data.stand_in_pixels) with thresholds low
enough that every network reaches all 8, as the paper's run would. Then extracts the activations
of the paper's batch (2,000 images x 5 draws) twice, each in a child process of its own: with the
step as it was at ``--old`` (git archive of that commit's package: every network's activations
held at once, the input batch stored per network and threshold) and with the working tree's
(streamed one network at a time, the input once per draw). Prints each one's peak resident memory
(ru_maxrss), time and store size, their ratio, and the working tree's mem_mb for the paper
config's experiments; checks that the two stores hold the same activations.

    .venv/bin/python benchmarks/activation_extraction_memory.py [--size 2000] [--draws 5] [--old COMMIT]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run by `make benchmark` (benchmarks/run_all.py) under this environment.
BENCHMARK_ENV = {}

REPOSITORY = Path(__file__).resolve().parents[1]
# the last commit whose extraction held every network at once and stored layer 0 per item
OLD_COMMIT = "0a54b87"
THRESHOLDS = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08]


def write_population(folder: Path) -> str:
    """The paper's MNIST population, trained one epoch on the stand-in (a child of its own)."""
    import torch

    from pipeline import store, zoo
    from pipeline.config import load_config, validate_config

    paper = load_config(REPOSITORY / "config/paper.yaml")["sweeps"]["mlp_mnist_deep"]
    sweep = {
        "dataset": "mnist", "dataset_options": {"stand_in": {"train": 60000, "test": 10000}},
        "architecture": {"name": "mlp", "hidden": paper["architecture"]["hidden"]}, "optimizer": "adam",
        "grid": {"lr": [0.001], "momentum": [0.9], "init_seed": paper["grid"]["init_seed"]},
        "epochs": 1, "batch_size": 128, "population_size": paper["population_size"],
        "snapshot_thresholds": THRESHOLDS, "threshold_every": 100,
    }
    config = validate_config({"sweeps": {"mlp_mnist_deep": sweep}})
    path = folder / "population_000.zarr"
    zoo.train_population_job(zoo.population_spec(config, "mlp_mnist_deep", 0), path, progress=False, threads=torch.get_num_threads())
    reached = store.read_thresholds(str(path))["step"]
    if (reached < 0).any():
        raise SystemExit(f"{int((reached < 0).sum())} (network, threshold) pairs not reached; lower THRESHOLDS")
    return str(path)


def extract(package: str, population: str, output: str, size: int, draws: int) -> None:
    """Run one extraction with the package under ``package``; print seconds and peak bytes."""
    sys.path.insert(0, package)
    import torch

    from pipeline.studies.activation_landscapes.steps import extract_layer_activations

    batch = {"lattice_fraction": None, "size": size, "draws": draws, "seed": 0, "label": None}
    start = time.perf_counter()
    extract_layer_activations([population], output, batch=batch, threads=torch.get_num_threads())
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))


def child(*args: str) -> dict:
    # Each run in a child of its own, started by a parent that never grew: Linux keeps a
    # process's peak RSS across fork and exec.
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=REPOSITORY)
    if done.returncode:
        raise SystemExit(f"{args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def same_activations(old: str, new: str, draws: int) -> None:
    """The two layouts hold the same values: layer 0 of every (sample, threshold) is the batch of
    the sample's draw; every other layer is equal item by item (first and last networks)."""
    import numpy as np
    import zarr

    a, b = zarr.open_group(old, mode="r"), zarr.open_group(new, mode="r")
    samples, thresholds = b["draw"].shape[0], len(b.attrs["thresholds"])
    for n in (0, 1, samples - 1):
        d = int(b["draw"][n])
        for t in range(thresholds):
            if not np.array_equal(a["layers/0"][n, t], b["inputs"][d]):
                raise SystemExit(f"input layer differs at sample {n}, threshold {t}")
            for i in range(1, len(b.attrs["layers"])):
                if not np.array_equal(a[f"layers/{i}"][n, t], b[f"layers/{i}"][n, t], equal_nan=True):
                    raise SystemExit(f"layer {i} differs at sample {n}, threshold {t}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2000, help="images per batch (paper.yaml: 2000)")
    parser.add_argument("--draws", type=int, default=5, help="batch draws (paper.yaml: 5)")
    parser.add_argument("--old", default=OLD_COMMIT, help="commit of the extraction measured as 'before'")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        population = child("--write", tmp)["population"]
        print(f"population store (10 MLPs 784-128-64(x5)-10, 8 thresholds): trained in {time.perf_counter() - start:.0f} s")
        old_package = folder / "old"
        old_package.mkdir()
        archive = subprocess.run(
            ["git", "archive", options.old, "pipeline", "config/schema"], cwd=REPOSITORY, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(old_package)], input=archive.stdout, check=True)
        runs = {}
        for label, package in (("before", str(old_package)), ("after", str(REPOSITORY))):
            output = folder / f"{label}.zarr"
            runs[label] = {**child("--extract", package, population, str(output), str(options.size), str(options.draws)),
                           "store": folder_bytes(output)}
        same_activations(str(folder / "before.zarr"), str(folder / "after.zarr"), options.draws)
    print(f"extract_layer_activations, {options.size} images x {options.draws} draws, 10 networks x 8 thresholds:")
    for label, commit in (("before", options.old), ("after", "working tree")):
        run = runs[label]
        print(f"  {label:<7} ({commit:>12}): peak RSS {run['peak'] / 1e6:7.0f} MB, {run['seconds']:5.1f} s, "
              f"store {run['store'] / 1e6:6.0f} MB")
    print(f"  peak RSS before / after: {runs['before']['peak'] / runs['after']['peak']:.1f}x (same activations: checked)")
    from pipeline.config import load_config
    from pipeline.studies import activation_landscapes as al

    paper = load_config(REPOSITORY / "config/paper.yaml")
    for experiment in paper["activation_landscapes"]["experiments"]:
        terms = al.extraction_memory(paper, experiment)
        print(f"  paper.yaml {experiment}: mem_mb {al.extraction_mem_mb(paper, experiment)}, runtime "
              f"{al.extraction_runtime_min(paper, experiment)} min; " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in terms.items()))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--write":
        print(json.dumps({"population": write_population(Path(sys.argv[2]))}))
    elif len(sys.argv) > 1 and sys.argv[1] == "--extract":
        extract(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    else:
        main()
