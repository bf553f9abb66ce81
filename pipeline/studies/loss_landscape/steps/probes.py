"""Stage 2, grid and naive samplings (step ``sample_probes``) around every optimum of a population
store:

- grid: a 3-D grid along three filter-normalized directions;
- naive: random filter-normalized directions times the step sizes.

Grid and naive points are evaluated as populations (many parameter vectors through one vectorized
forward pass) in eval mode with the optimum's BatchNorm statistics (their directions leave every
BatchNorm parameter at the optimum).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from .... import store, zoo
from ....kernels import directions as directions_kernel
from ....parallel import device_of

log = logging.getLogger(__name__)

METRICS = store.METRIC_NAMES  # train_loss, train_accuracy, test_loss, test_accuracy


def probe_coordinates(grid_points_per_axis: int, grid_extent: float, naive_directions: int, step_sizes: Sequence[float]):
    """Grid coefficients ``[g, 3]`` and naive (direction index, step size) pairs ``[K x S, 2]``."""
    grid = directions_kernel.grid_coordinates(grid_points_per_axis, grid_extent, 3)
    naive = np.array([(j, s) for j in range(naive_directions) for s in step_sizes], dtype=np.float64)
    return grid, naive


def images_per_pass(points: int) -> int:
    """Inputs per vectorized forward pass when ``points`` parameter vectors are evaluated at once:
    about 4,096 point-inputs, so that a pass's activations stay in cache (measured on the digits
    CNN: 64 points x 64 images took half the time per point of 64 x 1,024)."""
    return max(32, 4096 // max(1, points))


def _evaluate_points(evaluate, weights, buffers, directions, coefficients, batch):
    """Evaluate the points ``weights + coefficients @ directions`` ``batch`` at a time (each a
    population), with the optimum's buffers."""
    results = {name: [] for name in METRICS}
    for start in range(0, len(coefficients), batch):
        chosen = coefficients[start : start + batch]
        points = directions_kernel.combine(weights, directions, chosen)
        point_buffers = {name: np.repeat(value[None], len(chosen), axis=0) for name, value in buffers.items()}
        for name, values in evaluate(points, point_buffers).items():
            results[name].append(values)
    return {name: np.concatenate(values) for name, values in results.items()}


def _probe_optimum(evaluate, weights, state, grid, naive_directions, step_sizes, probe_seed, probe_batch) -> dict:
    """Every metric of the optimum itself, of its grid points and of its naive points, and each
    sampling's basis Gram (the optimum and its directions): ``{"<sampling>/<name>": array}``."""
    shapes = {name: value.shape for name, value in weights.items()}

    def direction(seed):
        return directions_kernel.filter_normalize(directions_kernel.random_direction(shapes, seed), weights)

    grid_seeds = [probe_seed + i for i in range(3)]
    naive_seeds = [probe_seed + 3 + j for j in range(naive_directions)]
    results = {"optimum": evaluate({n: v[None] for n, v in weights.items()}, {n: v[None] for n, v in state.items()})}
    results["grid"] = _evaluate_points(evaluate, weights, state, [direction(s) for s in grid_seeds], grid, probe_batch)
    # naive: a batch of directions at a time, each at every step size (never all directions in memory)
    per_batch = max(1, probe_batch // len(step_sizes))
    naive_results = {name: [] for name in METRICS}
    for first in range(0, naive_directions, per_batch):
        chosen = list(range(first, min(naive_directions, first + per_batch)))
        coefficients = np.zeros((len(chosen) * len(step_sizes), len(chosen)))
        for row, (j, step) in enumerate((j, s) for j in range(len(chosen)) for s in step_sizes):
            coefficients[row, j] = step
        part = _evaluate_points(evaluate, weights, state, [direction(naive_seeds[j]) for j in chosen], coefficients, probe_batch)
        for name in METRICS:
            naive_results[name].append(part[name])
    results["naive"] = {name: np.concatenate(v) for name, v in naive_results.items()}
    out = {f"{sampling}/{name}": value for sampling, values in results.items() for name, value in values.items()}
    out["grid/basis_gram"] = directions_kernel.basis_gram(weights, grid_seeds)
    out["naive/basis_gram"] = directions_kernel.basis_gram(weights, naive_seeds)
    return out


def sample_probes(
    population_store: str,
    probes: str,
    *,
    grid_points_per_axis: int,
    grid_extent: float,
    naive_directions: int,
    step_sizes: Sequence[float],
    probe_seed: int,
    probe_batch: int,
    data_root: str = "data",
    device: str = "auto",
    threads: int = 1,
) -> Path:
    """Grid and naive samplings around every optimum of a population store, and the optimum itself:
    train and test loss and accuracy of every point, evaluated as populations; plus each sampling's
    basis Gram (the optimum and its directions), from which the samples' cosine distances follow."""
    import torch

    from ....models import build_model
    from ....train import evaluate_members, member_targets, population_forward, select_device

    torch.set_num_threads(threads)
    spec = store.open_population(population_store).attrs["spec"]
    params, buffers = store.read_final_params(population_store)
    data = zoo.load_spec_dataset(spec, data_root)
    dev = select_device(device_of(device, spec["sweep"]))
    base = build_model(spec["architecture"], data.input_shape, data.num_outputs).to("meta")
    # the optima's own arithmetic: a landscape in another precision is another landscape
    forward = population_forward(base, dev, precision=zoo.spec_precision(spec))
    targets = member_targets(data, zoo.members_of(spec), spec["training"]["seed"]).to(dev)
    x_train, x_test, y_test = data.x_train.to(dev), data.x_test.to(dev), data.y_test.to(dev)
    grid, naive = probe_coordinates(grid_points_per_axis, grid_extent, naive_directions, step_sizes)
    classification = data.task == "classification"
    k = len(spec["members"])
    arrays = {}

    for o in range(k):

        def evaluate(points, point_buffers):
            p = {n: torch.as_tensor(v, device=dev) for n, v in points.items()}
            b = {n: torch.as_tensor(v, device=dev) for n, v in point_buffers.items()}
            images = images_per_pass(len(next(iter(p.values()))))
            train = evaluate_members(forward, base, p, b, x_train, targets[o], classification, images)
            test = evaluate_members(forward, base, p, b, x_test, y_test, classification, images)
            return dict(zip(METRICS, (*train, *test)))

        weights = {name: value[o] for name, value in params.items()}
        state = {name: value[o] for name, value in buffers.items()}
        found = _probe_optimum(evaluate, weights, state, grid, naive_directions, step_sizes, probe_seed, probe_batch)
        for name, value in found.items():
            arrays.setdefault(name, []).append(value)
        log.info("optimum %d/%d: %d grid and %d naive points evaluated", o + 1, k, len(grid), len(naive))

    arrays = {name: np.stack(values) for name, values in arrays.items()}
    for name in METRICS:
        arrays[f"optimum/{name}"] = arrays[f"optimum/{name}"][:, 0]  # one point per optimum
    arrays["grid/coordinates"] = grid
    arrays["naive/coordinates"] = naive
    attrs = {"optima": [m["network"] for m in spec["members"]], "optima_spec_hash": store.spec_hash(spec)}
    return store.write_array_store(probes, arrays, attrs)
