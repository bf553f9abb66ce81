"""Stress test: the exact decomposition and its cell complex tile the box at the paper's scale
(``pipeline.kernels.relu_complex``, issue 17).

Items, each decomposed as the study's step does (:func:`rc.tiled_complex` over the data's bounding
box widened by 10 % on each side, ``box_margin``):

(a) random 2-32-32 ReLU MLPs built by the project's own model code (``pipeline.models``) with the
    architectures of ``config/paper.yaml``: N(0, 3^2) weights (``relu_moons``, ``relu_circles``,
    boxes of moons and circles) and He's initialization (``relu_regression``, box of
    regression2d). Their biases start at 0, so every line passes through the origin; the same nets
    with biases drawn from N(0, s^2), s in {1e-6, 1e-3, 0.1}, stand for the first steps of training
    (near-concurrent lines: the failures of issue 17).
(b) every recorded step of the paper's ``relu_moons`` and ``relu_circles`` sweeps trained at a
    rehearsal length (``--epochs``, a few hundred instead of 10,000) through the project's training
    code (``pipeline.config.load_config``, ``pipeline.zoo.population_spec`` /
    ``train_population_job``).

Per item: the tiling checks (areas sum to the box's area within 1e-9 of it, V - E + F = 1, every
edge in at most two faces (``cell_complex`` raises otherwise)) and the tolerance that gave them.
Prints, per family, the items, failures, the worst area error and how many needed a tighter
tolerance; ``--verbose`` prints every item. Exits 1 when any item fails.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/relu_complex_stress.py            (~9 min, 2,028 items)
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/relu_complex_stress.py --scale 5 --epochs 1000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pipeline.kernels import relu_complex as rc

# Run by `make benchmark` (benchmarks/run_all.py) under this environment: one thread (its targets
# are one core's).
BENCHMARK_ENV = {"OMP_NUM_THREADS": "1"}

PAPER = Path(__file__).resolve().parents[1] / "config/paper.yaml"
BIAS_SCALES = (0.0, 1e-6, 1e-3, 0.1)


def check_item(weights, biases, box) -> dict:
    """Decompose one net; the tiling checks, or the reason it failed."""
    area = (box[1] - box[0]) * (box[3] - box[2])
    try:
        regions, complex_, tol = rc.tiled_complex(weights, biases, box)
    except ValueError as error:
        return {"ok": False, "reason": str(error)}
    faces_per_edge = np.max(np.sum(complex_.edge_faces >= 0, axis=1)) if len(complex_.edges) else 0
    area_error = abs(regions.areas().sum() - area) / area
    euler = complex_.euler_characteristic()
    return {
        "ok": bool(area_error <= 1e-9 and euler == 1 and faces_per_edge <= 2), "regions": len(regions),
        "area_error": float(area_error), "euler": int(euler), "faces_per_edge": int(faces_per_edge), "tol": tol,
        "reason": "" if area_error <= 1e-9 else f"areas off by {area_error:.2e} of the box",
    }


def parameters(model) -> tuple[list, list]:
    layers = [m for m in model.layers]
    return [m.weight.detach().double().numpy() for m in layers], [m.bias.detach().double().numpy() for m in layers]


def sweep_box(config, sweep: str) -> list[float]:
    from pipeline import zoo
    from pipeline.studies.relu_complex.steps import data_box

    data = zoo.load_spec_dataset(zoo.population_spec(config, sweep, 0), "data")
    points = np.concatenate([data.x_train.numpy(), data.x_test.numpy()]).astype(np.float64)
    return data_box(points, config["relu_complex"]["box_margin"])


def random_items(config, nets_per_family: int):
    """(family, weights, biases, box) for each random net."""
    import torch

    from pipeline.models import build_model

    for sweep in ("relu_moons", "relu_circles", "relu_regression"):
        box = sweep_box(config, sweep)
        outputs = 1 if sweep == "relu_regression" else 2
        for seed in range(nets_per_family):
            torch.manual_seed(seed)
            weights, biases = parameters(build_model(config["sweeps"][sweep]["architecture"], (2,), outputs))
            rng = np.random.default_rng(seed)
            for scale in BIAS_SCALES:
                shifted = [b + rng.normal(0.0, scale, b.shape) for b in biases] if scale else biases
                yield f"random {sweep} init, biases N(0, {scale:g}^2)", weights, shifted, box


def trained_items(config, epochs: int, folder: Path):
    """(family, weights, biases, box) at every recorded step of the paper's grokking sweeps."""
    from pipeline import store, zoo
    from pipeline.studies.relu_complex.steps import _network_parameters

    for sweep in ("relu_moons", "relu_circles"):
        box = sweep_box(config, sweep)
        started = time.perf_counter()
        paths = []
        for population in range(zoo.n_populations(config["sweeps"][sweep])):
            spec = zoo.population_spec(config, sweep, population)
            paths.append(zoo.train_population_job(spec, folder / f"{sweep}_{population}.zarr", progress=False))
        print(f"    trained {sweep} for {epochs} epochs in {time.perf_counter() - started:.1f} s", flush=True)
        for path in paths:
            population = store.open_population(path)
            steps = np.asarray(population["snapshot_step"][...])
            layers = len(population.attrs["spec"]["architecture"]["hidden"]) + 1
            for member, info in enumerate(population.attrs["spec"]["members"]):
                for snapshot, step in enumerate(steps):
                    weights, biases = _network_parameters(population["params"], member, snapshot, layers)
                    yield f"trained {sweep} ({epochs} epochs), every recorded step", weights, biases, box


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=1, help="multiply the random nets (default 1: 1,920 of them)")
    parser.add_argument("--epochs", type=int, default=500, help="rehearsal length of the trained sweeps (the paper: 10,000)")
    parser.add_argument("--verbose", action="store_true", help="print every item's checks")
    args = parser.parse_args()
    if args.scale < 1 or args.epochs < 1:
        parser.error("--scale and --epochs must be at least 1")
    from pipeline.config import load_config

    config = load_config(PAPER, overrides={"sweeps": {s: {"epochs": args.epochs} for s in ("relu_moons", "relu_circles")}})
    started = time.perf_counter()
    families: dict[str, list] = {}
    with tempfile.TemporaryDirectory() as folder:
        items = [random_items(config, 160 * args.scale), trained_items(config, args.epochs, Path(folder))]
        for generator in items:
            for k, (family, weights, biases, box) in enumerate(generator):
                found = check_item(weights, biases, box)
                families.setdefault(family, []).append(found)
                if args.verbose or not found["ok"]:
                    state = "ok" if found["ok"] else f"FAILED: {found['reason']}"
                    detail = (
                        f"{found['regions']} regions, area error {found['area_error']:.1e}, V - E + F = {found['euler']}, "
                        f"<= {found['faces_per_edge']} faces per edge, tol {found['tol']:g}" if "regions" in found else ""
                    )
                    print(f"    {family} #{len(families[family]) - 1}: {detail} {state}", flush=True)
    total = sum(len(v) for v in families.values())
    failures = sum(not f["ok"] for v in families.values() for f in v)
    print(f"{'family':<58} {'items':>6} {'failed':>6} {'regions':>11} {'max area err':>12} {'V-E+F=1':>8} {'tighter tol':>11}")
    for family, found in families.items():
        done = [f for f in found if "regions" in f]
        regions = [f["regions"] for f in done]
        print(
            f"{family:<58} {len(found):>6} {sum(not f['ok'] for f in found):>6} "
            f"{min(regions, default=0):>5}-{max(regions, default=0):<5} {max((f['area_error'] for f in done), default=0):>12.1e} "
            f"{sum(f['euler'] == 1 for f in done):>8} {sum(f['tol'] < rc.TOLERANCE for f in done):>11}"
        )
    print(f"items decomposed: {total}, failures: {failures}, {time.perf_counter() - started:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
