"""Benchmark: peak memory of extract_representations against the size of the sweep's weights.

Writes synthetic finished population stores (random ResNet-9 weights on digits, as the paper's
ResNet-9 zoo but with fewer networks), then runs the network_manifold step that reads every
network's final weights, in a child process, and prints its peak resident memory beside the total
size of the weights and the size of one population. The step must hold about one population at a
time, not the sweep.

    .venv/bin/python benchmarks/representations_memory.py [--populations 6] [--size 25] [--width 64]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run by `make benchmark` (benchmarks/run_all.py) under this environment.
BENCHMARK_ENV = {}


def write_sweep(folder: Path, populations: int, size: int, width: int) -> tuple[list[str], str, int]:
    import numpy as np
    import pandas as pd

    from pipeline import store
    from pipeline.models import build_model

    architecture = {"name": "resnet9", "width": width}
    model = build_model(architecture, (1, 8, 8), 10)
    shapes = {k: tuple(v.shape) for k, v in model.named_parameters()}
    buffers = {k: (tuple(v.shape), str(v.dtype).replace("torch.", "")) for k, v in model.named_buffers()}
    rng = np.random.default_rng(0)
    paths, rows = [], []
    for p in range(populations):
        members = [{"member": p * size + i, "network": f"n{p * size + i}"} for i in range(size)]
        spec = {"sweep": "synthetic", "population": p, "dataset": "digits", "dataset_options": {},
                "architecture": architecture, "members": members}
        path = folder / f"population_{p:03d}.zarr"
        root = store.create_population_store(store.partial_path(path), spec, shapes, buffers, 1, 1)
        params = {k: rng.normal(scale=0.05, size=(size, *s)).astype(np.float32) for k, s in shapes.items()}
        state = {k: np.stack([v.numpy()] * size) for k, v in model.state_dict().items() if k in buffers}
        store.finalize_store(root, path, params, state)
        paths.append(str(path))
        rows += [{"member": m["member"], "test_accuracy": 0.5} for m in members]
    metrics = folder / "metrics.parquet"
    store.write_table(pd.DataFrame(rows), metrics)
    bytes_per_network = sum(int(np.prod(s)) for s in shapes.values()) * 4
    return paths, str(metrics), bytes_per_network


def child(paths: list[str], metrics: str, output: str) -> None:
    from pipeline.studies.network_manifold.steps import extract_representations

    start = time.perf_counter()
    extract_representations(paths, metrics, output, layer="penultimate", n_points=100, eval_seed=0, threads=2)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{time.perf_counter() - start:.1f} {peak_kb * 1024}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--populations", type=int, default=6)
    parser.add_argument("--size", type=int, default=25, help="networks per population (paper.yaml: 25)")
    parser.add_argument("--width", type=int, default=64, help="ResNet-9 width (paper.yaml: 64)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # Written by a child of its own: Linux keeps a process's peak RSS across fork and exec,
        # so the measured child must be started by a parent that never grew.
        written = subprocess.run(
            [sys.executable, __file__, "--write", tmp, str(options.populations), str(options.size), str(options.width)],
            capture_output=True, text=True, check=True,
        )
        per_network = int(written.stdout.split()[-1])
        paths = [str(folder / f"population_{p:03d}.zarr") for p in range(options.populations)]
        metrics = str(folder / "metrics.parquet")
        done = subprocess.run(
            [sys.executable, __file__, "--child", metrics, str(folder / "representations.zarr"), *paths],
            capture_output=True, text=True, check=True,
        )
        seconds, peak = done.stdout.split()[-2:]
    networks = options.populations * options.size
    total, population = networks * per_network, options.size * per_network
    print(f"{networks} ResNet-9 (width {options.width}) in {options.populations} populations of {options.size}")
    print(f"weights of the sweep      : {total / 1e6:8.0f} MB")
    print(f"weights of one population : {population / 1e6:8.0f} MB")
    print(f"extract_representations   : {int(peak) / 1e6:8.0f} MB peak resident ({float(seconds):.1f} s), "
          f"{int(peak) / total:.2f} x the sweep's weights")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[4:], sys.argv[2], sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "--write":
        print(write_sweep(Path(sys.argv[2]), *map(int, sys.argv[3:6]))[2])
    else:
        main()
