"""Benchmark: the exact decomposition of a box by a ReLU MLP (``pipeline.kernels.relu_complex``).

(a) Regions per second of the vectorized kernel on random 2-w-w-1 nets (w = 8 ... 384, the last
    with ~110k regions),
    beside a plain Python polygon-clipping loop (one region and one line at a time) on the same
    nets while it stays under a few seconds; targets: a 2-32-32 net's complex in <= 0.1 s on one
    core (>= 20k regions/s), >= 3x the naive clipping.
(b) An independent oracle on the small nets: the activation patterns found by a depth-first search
    over neurons in which each partial pattern is kept only if a linear program finds a point of
    the box strictly inside it (scipy's HiGHS). The region sets must be equal.
(c) What grid sampling (the public tool's way) misses on the same nets: 70 x 70 (its default),
    100 x 100 and 1000 x 1000 grids over the box.
(d) How many spurious adjacencies the Hamming-distance-1 rule adds: pairs of regions whose patterns
    differ in one neuron but share no edge, against the dual graph of shared edges.

(e) The study's analysis step (``analyse_relu_complexes``) on one sweep of the default config,
    trained here in a temporary folder (or read from ``--stores``): its wall time with the local
    Dask cluster as one thread, as two threads of one process, and as two single-threaded
    processes (``compute.dask.gil_bound``), alternated, side by side, with the ratios, and a check
    that every run stores the same arrays.

    .venv/bin/python benchmarks/relu_complex.py       (run with one thread: OMP_NUM_THREADS=1)
    .venv/bin/python benchmarks/relu_complex.py --step [--sweep relu_moons] [--repeats 2] [--stores DIR]
                                                      ((e) only; give it two cores)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from pipeline.kernels import relu_complex as rc

# Run by `make benchmark` (benchmarks/run_all.py) under this environment: one thread (its targets
# are one core's).
BENCHMARK_ENV = {"OMP_NUM_THREADS": "1"}

BOX = (-1.0, 1.0, -1.0, 1.0)


def network(width: int, seed: int):
    rng = np.random.default_rng(seed)
    widths = [2, width, width, 1]
    weights = [rng.normal(size=(b, a)) / np.sqrt(a) for a, b in zip(widths[:-1], widths[1:])]
    biases = [rng.normal(size=b) * 0.5 for b in widths[1:]]
    return weights, biases


def naive_clipping(weights, biases, box):
    """One region and one line at a time with Python lists: the regions' patterns."""
    polygons = [([tuple(p) for p in rc.box_polygon(box)], (), weights[0], biases[0])]
    for layer in range(len(weights) - 1):
        done = []
        for poly, pattern, a_rows, c_rows in polygons:
            pieces = [(poly, pattern)]
            for j in range(len(c_rows)):
                a, c = a_rows[j], c_rows[j]
                next_pieces = []
                for piece, bits in pieces:
                    values = [a[0] * x + a[1] * y + c for x, y in piece]
                    if all(v >= -1e-12 for v in values) or all(v <= 1e-12 for v in values):
                        next_pieces.append((piece, bits + (sum(values) > 0,)))
                        continue
                    plus, minus = [], []
                    for i, (p, v) in enumerate(zip(piece, values)):
                        q, w = piece[(i + 1) % len(piece)], values[(i + 1) % len(piece)]
                        (plus if v >= 0 else minus).append(p)
                        if v * w < 0:
                            t = v / (v - w)
                            cut = (p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1]))
                            plus.append(cut), minus.append(cut)
                    next_pieces += [(plus, bits + (True,)), (minus, bits + (False,))]
                pieces = next_pieces
            for piece, bits in pieces:
                on = np.array(bits[len(pattern):], dtype=float)
                a_next = weights[layer + 1] @ (on[:, None] * a_rows)
                c_next = weights[layer + 1] @ (on * c_rows) + biases[layer + 1]
                done.append((piece, bits, a_next, c_next))
        polygons = done
    return [bits for _, bits, _, _ in polygons]


def oracle_patterns(weights, biases, box):
    """Depth-first search over neurons with an LP feasibility test (interior point with slack)."""
    from scipy.optimize import linprog

    xmin, xmax, ymin, ymax = box
    found = []

    def feasible(rows, offsets):
        # maximize t subject to sign_j (a_j . x + c_j) >= t, x in the box, t <= 1
        a_ub = np.hstack([-rows, np.ones((len(rows), 1))])
        result = linprog([0, 0, -1], A_ub=a_ub, b_ub=offsets, bounds=[(xmin, xmax), (ymin, ymax), (None, 1)], method="highs")
        return result.status == 0 and -result.fun > 1e-9

    def search(layer, j, A, c, rows, offsets, bits, on):
        if layer == len(weights) - 1:
            found.append(tuple(bits))
            return
        if j == A.shape[0]:
            on = np.array(on, dtype=float)
            search(layer + 1, 0, weights[layer + 1] @ (on[:, None] * A), weights[layer + 1] @ (on * c) + biases[layer + 1],
                   rows, offsets, bits, [])
            return
        for sign in (1.0, -1.0):
            new_rows = np.vstack([rows, sign * A[j]]) if len(rows) else (sign * A[j])[None]
            new_offsets = np.append(offsets, sign * c[j])
            if feasible(new_rows, new_offsets):
                search(layer, j + 1, A, c, new_rows, new_offsets, bits + [sign > 0], on + [sign > 0])

    search(0, 0, weights[0], biases[0], np.zeros((0, 2)), np.zeros(0), [], [])
    return found


def main():
    print("(a) exact decomposition of [-1, 1]^2, random 2-w-w-1 nets, one core")
    for width in (8, 16, 32, 64, 128, 384):
        weights, biases = network(width, width)
        best = min(_timed(lambda: rc.decompose(weights, biases, BOX))[1] for _ in range(3 if width <= 128 else 1))
        regions = rc.decompose(weights, biases, BOX)
        complex_time = _timed(lambda: rc.cell_complex(regions))[1]
        rate = len(regions) / best
        line = f"    w = {width:3d}: {len(regions):6d} regions in {best:7.4f} s = {rate:8.0f} regions/s; cell complex {complex_time:6.3f} s"
        if width <= 32:
            naive, naive_time = _timed(lambda: naive_clipping(weights, biases, BOX))
            assert {tuple(map(bool, p)) for p in naive} == {tuple(p) for p in regions.patterns}
            line += f"; naive clipping {naive_time:6.3f} s ({len(naive) / naive_time:6.0f} regions/s): {naive_time / best:5.1f}x"
        print(line)
    print("(b) the LP oracle's region sets (equal required)")
    for width in (4, 8):
        weights, biases = network(width, width)
        exact = {tuple(p) for p in rc.decompose(weights, biases, BOX).patterns}
        oracle, oracle_time = _timed(lambda: set(oracle_patterns(weights, biases, BOX)))
        verdict = "equal" if exact == oracle else "DIFFERENT"
        print(f"    w = {width}: kernel {len(exact)} regions, oracle {len(oracle)} ({oracle_time:.1f} s): {verdict}")
    print("(c) regions a grid misses, (d) spurious Hamming-1 adjacencies")
    for width in (8, 16, 32, 64):
        weights, biases = network(width, width)
        regions = rc.decompose(weights, biases, BOX)
        exact = {p.tobytes() for p in regions.patterns}
        misses = []
        for n in (70, 100, 1000):
            axis = np.linspace(-1, 1, n)
            grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
            found = {p.tobytes() for p in np.unique(rc.activation_patterns(weights, biases, grid), axis=0)}
            assert found <= exact
            misses.append(f"{n}^2 misses {len(exact - found):5d} ({(len(exact) - len(found)) / len(exact):4.0%})")
        complex_ = rc.cell_complex(regions)
        dual = {tuple(sorted(e)) for e in complex_.face_region[complex_.dual_graph()].tolist()}  # as region pairs
        patterns = regions.patterns.astype(np.int8)
        hamming = (patterns[:, None, :] != patterns[None, :, :]).sum(axis=2) if len(patterns) <= 4000 else None
        if hamming is not None:
            one = {(i, j) for i, j in zip(*np.nonzero(np.triu(hamming == 1)))}
            spurious, missed = len(one - dual), len(dual - one)
            ham = f"Hamming-1 pairs {len(one)}, shared edges {len(dual)}: {spurious} spurious, {missed} adjacencies it misses"
        else:
            ham = "(too many regions for the all-pairs Hamming check)"
        print(f"    w = {width:2d}: {len(exact):5d} regions; " + "; ".join(misses) + f"; {ham}")


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


# (e): the local cluster's ways of running the step, as (label, threads, compute.dask.gil_bound)
CLUSTER_WAYS = (("1 thread", 1, "threads"), ("2 threads", 2, "threads"), ("2 processes", 2, "processes"))


def step_populations(sweep: str, folder: Path) -> list[str]:
    """The population stores of ``sweep`` of config/config.yaml, trained into ``folder`` unless
    they are there already (the training is not timed)."""
    from pipeline import zoo
    from pipeline.config import load_config

    config = load_config("config/config.yaml")
    paths = []
    for population in range(zoo.n_populations(config["sweeps"][sweep])):
        path = folder / f"{sweep}_{population:03d}.zarr"
        if not path.exists():
            start = time.perf_counter()
            zoo.train_population_job(zoo.population_spec(config, sweep, population), path, progress=False)
            print(f"    trained {path.name} in {time.perf_counter() - start:.1f} s (not timed below)")
        paths.append(str(path))
    return paths


def compare_clusters(sweep: str, repeats: int, stores: str | None) -> None:
    """(e) analyse_relu_complexes on one default sweep, each way of CLUSTER_WAYS in turn."""
    from pipeline import store
    from pipeline.config import load_config
    from pipeline.studies.relu_complex.steps import analyse_relu_complexes

    study = load_config("config/config.yaml")["relu_complex"]
    settings = {k: study[k] for k in ("box", "box_margin", "betti_orders", "filtration_points", "seed", "weighting_epsilon")}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(stores) if stores else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"(e) analyse_relu_complexes on {sweep} (config/config.yaml): local Dask cluster, best of {repeats}, alternated")
        populations = step_populations(sweep, folder)
        times = {label: [] for label, _, _ in CLUSTER_WAYS}
        stored = {}
        for repeat in range(repeats):
            for label, threads, gil_bound in CLUSTER_WAYS:
                out = Path(tmp) / f"complexes_{threads}_{gil_bound}_{repeat}.zarr"
                start = time.perf_counter()
                analyse_relu_complexes(populations, str(out), **settings, threads=threads,
                                       dask_cluster={"cluster": "local", "gil_bound": gil_bound})
                times[label].append(time.perf_counter() - start)
                stored[label] = {name: store.read_array(out, name) for name in ("regions", "cells", "lambda2_unweighted", "betti_curve")}
        items = stored[CLUSTER_WAYS[0][0]]["regions"].size
        for label, values in times.items():
            runs = ", ".join(f"{v:.2f}" for v in values)
            print(f"    {label:12s}: {min(values):7.2f} s  ({items} items; runs {runs})")
        best = {label: min(values) for label, values in times.items()}
        print(f"    ratio 1 thread / 2 processes : {best['1 thread'] / best['2 processes']:5.2f} x")
        print(f"    ratio 2 threads / 2 processes: {best['2 threads'] / best['2 processes']:5.2f} x")
        reference = stored[CLUSTER_WAYS[0][0]]
        same = all(np.array_equal(reference[k], other[k], equal_nan=True) for other in stored.values() for k in reference)
        print(f"    same arrays stored by every way: {same}")


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--step", action="store_true", help="run (e) only: the analysis step, threads against processes")
    parser.add_argument("--sweep", default="relu_moons", help="the default config's sweep of (e)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each way in (e); the best is reported")
    parser.add_argument("--stores", help="a folder for (e)'s trained population stores, kept between runs")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _arguments()
    if not arguments.step:
        main()
    compare_clusters(arguments.sweep, arguments.repeats, arguments.stores)
