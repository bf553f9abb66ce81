"""Benchmark: the loss-landscape study's three costly kernels, each beside its naive counterpart.

(a) jump and retrain of one optimum (4 seeds x 4 step sizes, N epochs) as one vectorized
    population vs one retraining at a time with the same engine; the same final weights (1e-6)
    are required; target >= 10x on 2 CPU cores;
(b) grid and naive evaluation of 640 points as populations vs one point at a time (target >= 10x),
    and a 41 x 41 2-D grid of a digits MLP (target < 10 s on 2 cores);
(a) and (b) for the default config's optima (a small CNN) and for a digits MLP;
(c) the streamed cosine Gram (Dask over parameter slabs of a Zarr store, as the pipeline reads it)
    vs the Gram of the same vectors in memory: equal to 1e-10, and the peak memory of each
    (target: streamed peak <= 1/8 of the data).

    .venv/bin/python benchmarks/loss_landscape.py [--threads 2] [--epochs 2] [--samples 161]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from measure import measured

from pipeline import store, zoo
from pipeline.config import validate_config
from pipeline.kernels import directions as directions_kernel
from pipeline.kernels import distances
from pipeline.parallel import dask_client
from pipeline.studies.loss_landscape import steps

# Run by `make benchmark` (benchmarks/run_all.py) under this environment.
BENCHMARK_ENV = {}

CNN = {"name": "cnn", "channels": [8, 16], "hidden": 32}  # the default config's optima
MLP = {"name": "mlp", "hidden": [50, 20]}


def train_optimum(folder: Path, architecture: dict) -> str:
    config = validate_config({"sweeps": {"s": {
        "dataset": "digits", "architecture": architecture, "grid": {"lr": [0.05], "momentum": [0.9]},
        "epochs": 3, "batch_size": 32, "population_size": 1,
    }}})
    path = folder / f"optimum_{architecture['name']}.zarr"
    zoo.train_population_job(zoo.population_spec(config, "s", 0), path, progress=False, threads=torch.get_num_threads())
    return str(path)


def jump_and_retrain(optimum: str, folder: Path, epochs: int, threads: int) -> None:
    """(a): the 16 retrainings of one optimum together, then each alone."""
    from pipeline.data import load_dataset
    from pipeline.train import population_from_states

    spec = store.open_population(optimum).attrs["spec"]
    retrain = {"epochs": epochs, "lr": 0.01, "momentum": None, "weight_decay": None}
    jr_spec = steps.jump_retrain_spec(spec, [0, 1, 2, 3], [0.25, 0.5, 0.75, 1.0], retrain)
    params, buffers = store.read_final_params(optimum)
    data = load_dataset("digits")

    def run(members, name):
        one = {**jr_spec, "members": [{**m, "member": i} for i, m in enumerate(members)]}
        start = population_from_states(
            spec["architecture"], data.input_shape, 10, steps.jump_states(params, one["members"]),
            {k: v[[m["optimum"] for m in members]] for k, v in buffers.items()},
        )
        began = time.perf_counter()
        path = zoo.run_population(one, folder / f"{spec['architecture']['name']}_{name}", data, start, threads=threads, progress=False)
        return time.perf_counter() - began, store.read_final_params(path)[0]

    together_seconds, together = run(jr_spec["members"], "together.zarr")
    alone_seconds, worst = 0.0, 0.0
    for i, member in enumerate(jr_spec["members"]):
        seconds, alone = run([member], f"alone_{i}.zarr")
        alone_seconds += seconds
        worst = max(worst, max(float(np.max(np.abs(together[k][i] - alone[k][0]))) for k in alone))
    n = len(jr_spec["members"])
    print(f"(a) {spec['architecture']['name']}: {n} retrainings x {epochs} epochs (with per-epoch evaluation of the whole sets)")
    print(f"    one at a time       : {alone_seconds:8.2f} s")
    print(f"    as one population   : {together_seconds:8.2f} s")
    print(f"    ratio               : {alone_seconds / together_seconds:8.1f} x   (target >= 10 x)")
    print(f"    max |difference|    : {worst:.2e}   (must be <= 1e-6)")
    assert worst <= 1e-6


def probe_evaluation(optimum: str, threads: int) -> None:
    """(b): 640 naive points evaluated as populations vs one at a time; a 41 x 41 MLP grid."""
    from pipeline.data import load_dataset
    from pipeline.models import build_model
    from pipeline.train import evaluate_members, population_forward

    spec = store.open_population(optimum).attrs["spec"]
    params, _ = store.read_final_params(optimum)
    data = load_dataset("digits")
    weights = {k: v[0] for k, v in params.items()}
    base = build_model(spec["architecture"], data.input_shape, 10).to("meta")
    forward = population_forward(base, torch.device("cpu"), precision="fp32")
    shapes = {k: v.shape for k, v in weights.items()}
    directions = [directions_kernel.filter_normalize(directions_kernel.random_direction(shapes, s), weights) for s in range(160)]

    def evaluate(coefficients, batch, dirs):
        losses = []
        for start in range(0, len(coefficients), batch):
            points = directions_kernel.combine(weights, dirs, coefficients[start : start + batch])
            p = {k: torch.as_tensor(v) for k, v in points.items()}
            images = steps.images_per_pass(len(coefficients[start : start + batch]))
            losses.append(evaluate_members(forward, base, p, {}, data.x_train, data.y_train, True, images)[0])
        return np.concatenate(losses)

    coefficients = np.zeros((640, 160))
    for row in range(640):
        coefficients[row, row // 4] = (0.25, 0.5, 0.75, 1.0)[row % 4]
    began = time.perf_counter()
    together = evaluate(coefficients, 64, directions)
    together_seconds = time.perf_counter() - began
    began = time.perf_counter()
    alone = evaluate(coefficients, 1, directions)
    alone_seconds = time.perf_counter() - began
    print(f"(b) {spec['architecture']['name']}: 640 naive points, train loss on {len(data.x_train)} digits")
    print(f"    one at a time       : {alone_seconds:8.2f} s")
    print(f"    populations of 64   : {together_seconds:8.2f} s")
    print(f"    ratio               : {alone_seconds / together_seconds:8.1f} x   (target >= 10 x)")
    print(f"    max relative diff   : {np.max(np.abs(together - alone) / np.abs(alone)):.2e}")


def mlp_grid(folder: Path, threads: int) -> None:
    from pipeline.data import load_dataset
    from pipeline.models import build_model
    from pipeline.train import evaluate_members, population_forward

    optimum = train_optimum(folder, copy.deepcopy(MLP))
    params, _ = store.read_final_params(optimum)
    weights = {k: v[0] for k, v in params.items()}
    data = load_dataset("digits")
    began = time.perf_counter()
    shapes = {k: v.shape for k, v in weights.items()}
    dirs = [directions_kernel.filter_normalize(directions_kernel.random_direction(shapes, s), weights) for s in (0, 1)]
    axis = np.linspace(-1, 1, 41)
    coefficients = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
    base = build_model(MLP, data.input_shape, 10).to("meta")
    forward = population_forward(base, torch.device("cpu"), precision="fp32")
    losses = []
    for start in range(0, len(coefficients), 64):
        points = directions_kernel.combine(weights, dirs, coefficients[start : start + 64])
        p = {k: torch.as_tensor(v) for k, v in points.items()}
        losses.append(evaluate_members(forward, base, p, {}, data.x_train, data.y_train, True, steps.images_per_pass(64))[0])
    seconds = time.perf_counter() - began
    print(f"    41 x 41 grid, MLP   : {seconds:8.2f} s   ({len(np.concatenate(losses))} points; target < 10 s)")



def streamed_gram(folder: Path, samples: int, threads: int) -> None:
    """(c): Gram of `samples` WResNet28-2 parameter vectors: streamed from a store vs in memory."""
    from pipeline.models import build_model

    model = build_model({"name": "wide_resnet", "depth": 28, "width": 2}, (3, 32, 32), 10)
    shapes = {k: tuple(v.shape) for k, v in model.named_parameters()}
    features = sum(int(np.prod(s)) for s in shapes.values())
    per_member = 10
    members = -(-samples // per_member)
    spec = {"sweep": "synthetic", "population": 0, "members": [{"member": i} for i in range(members)]}
    path = folder / "jump_retrain.zarr"
    root = store.create_population_store(store.partial_path(path), spec, shapes, {}, per_member, 1)
    rng = np.random.default_rng(0)
    base = {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}
    for snapshot in range(per_member):
        store.write_snapshot(root, snapshot, snapshot, {
            k: (v[None] + 0.1 * rng.normal(size=(members, *v.shape))).astype(np.float32) for k, v in base.items()
        }, {})
    store.finalize_store(root, path, {k: np.repeat(v[None], members, 0) for k, v in base.items()}, {})
    rows = members * per_member
    data_bytes = rows * features * 4
    print(f"(c) WResNet28-2: {rows} parameter vectors of {features:,} (data {data_bytes / 1e9:.2f} GB in float32), {threads} threads")

    def streamed():
        with dask_client(threads=threads):
            return distances.gram_matrix(store.parameter_matrix([(path, "snapshots", list(range(members)))]))

    def in_memory():
        matrix = np.asarray(store.parameter_matrix([(path, "snapshots", list(range(members)))]).compute(scheduler="threads"))
        x = matrix.astype(np.float64)
        return x @ x.T

    a, seconds_a, peak_a = measured(streamed)
    b, seconds_b, peak_b = measured(in_memory)
    relative = float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
    print(f"    streamed (Dask)     : {seconds_a:8.2f} s   peak {peak_a / 1e6:8.1f} MB = 1/{data_bytes / peak_a:.1f} of the data")
    print(f"    in memory (NumPy)   : {seconds_b:8.2f} s   peak {peak_b / 1e6:8.1f} MB")
    print(f"    max relative diff   : {relative:.2e}   (must be <= 1e-10); target: streamed peak <= 1/8 of the data")
    assert relative <= 1e-10
    cosine = distances.cosine_distances_from_gram(a)
    assert np.all(np.isfinite(cosine))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2, help="retraining epochs of (a)")
    parser.add_argument("--samples", type=int, default=160, help="parameter vectors of (c), rounded up to 10s")
    parser.add_argument("--skip", nargs="*", default=[], choices=["a", "b", "c"])
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for architecture in (CNN, MLP):
            if "a" not in options.skip or "b" not in options.skip:
                optimum = train_optimum(folder, copy.deepcopy(architecture))
            if "a" not in options.skip:
                jump_and_retrain(optimum, folder, options.epochs, options.threads)
            if "b" not in options.skip:
                probe_evaluation(optimum, options.threads)
        if "b" not in options.skip:
            mlp_grid(folder, options.threads)
        if "c" not in options.skip:
            streamed_gram(folder, options.samples, options.threads)


if __name__ == "__main__":
    main()
