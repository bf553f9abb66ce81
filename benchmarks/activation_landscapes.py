"""Benchmark: the activation-landscapes study's costly kernels, each beside its alternatives.

(a) Vietoris-Rips persistence in degree 1 of real activations from the pipeline (a network of the
    synthetic experiment's architecture, 2-15(x10)-2, trained on the nine disks; its activations
    on the paper's 28.52 % sublattice, ~4,060 points, centred and scaled to diameter 1 as the study
    does) with ripser, giotto-ph (2 threads) and gudhi (the pipeline's kernel): the diagrams must
    agree (bottleneck distance <= 1e-5: ripser and giotto-ph keep distances in float32), times side by side; targets:
    the pipeline's backend >= 2x ripser, <= 10 s per 4,000 points in 15-D on 2 cores. Also the
    pipeline's way on 2 cores: two items at once, one per Dask thread.
(b) The landscape step (``kernels.persistence.persistence_landscape``, 5 functions on the
    study's grid) vs ``gudhi.representations.Landscape`` and persim's ``PersLandscapeApprox`` on the
    same diagrams: equal values after their conventions (gudhi scales by sqrt 2), time per
    1,000-point diagram (target <= 50 ms).
(c) The permutation test of Table I, vectorized through the Gram matrix, vs the same relabellings
    in a Python loop (the same p-value required), at paper scale: 100 + 100 networks, 12 layers x
    5 functions x 1,001 grid points each (target >= 20x).

    .venv/bin/python benchmarks/activation_landscapes.py [--layers 3 6 10] [--lattice-fraction 0.2852]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from pipeline import store, zoo
from pipeline.config import validate_config
from pipeline.kernels import activations as activation_kernels
from pipeline.kernels import landscapes as landscape_kernels
from pipeline.kernels import persistence
from pipeline.studies.activation_landscapes import steps

# Run by `make benchmark` (benchmarks/run_all.py) under this environment.
BENCHMARK_ENV = {}

ARCHITECTURE = {"name": "mlp", "hidden": [15] * 10, "init": "kaiming"}  # the paper's synthetic MLP


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def pipeline_activations(folder: Path, lattice_fraction: float) -> str:
    """Train one network as the default config's synthetic sweep does (8 epochs) and extract its
    activations at the 90 % threshold with the study's own step."""
    config = validate_config({"sweeps": {"s": {
        "dataset": "disks9", "dataset_options": {"test_fraction": 0.1}, "architecture": ARCHITECTURE, "optimizer": "adam",
        "grid": {"lr": [0.004], "momentum": [0.9]}, "epochs": 8, "batch_size": 64, "population_size": 1,
        "snapshot_thresholds": [0.9], "threshold_every": 5,
    }}})
    population = folder / "population.zarr"
    zoo.train_population_job(zoo.population_spec(config, "s", 0), population, progress=False, threads=torch.get_num_threads())
    reached = store.read_thresholds(str(population))["step"]
    if (reached < 0).any():
        raise SystemExit("the benchmark's network did not reach 90 % training accuracy; raise its epochs")
    activations = folder / "activations.zarr"
    batch = {"lattice_fraction": lattice_fraction, "label": None, "size": None, "seed": 0}
    steps.extract_layer_activations([str(population)], str(activations), batch=batch)
    return str(activations)


def rows(diagram: np.ndarray) -> np.ndarray:
    """Finite (birth, death) pairs in lexicographic order."""
    finite = persistence.finite_part(diagram)
    return finite[np.lexsort((finite[:, 1], finite[:, 0]))]


def vietoris_rips(activations: str, layers: list[int]) -> list[np.ndarray]:
    """(a): each layer with every backend; returns the pipeline's H1 diagrams."""
    import gudhi
    import ripser
    from gph import ripser_parallel

    source = store.open_array_store(activations)
    names = source.attrs["layers"]
    backends = {
        "ripser": lambda x: ripser.ripser(x, maxdim=1, coeff=2)["dgms"][1],
        "giotto-ph": lambda x: ripser_parallel(x, maxdim=1, coeff=2, n_threads=2)["dgms"][1],
        "gudhi (pipeline)": lambda x: persistence.vietoris_rips_diagrams(x, 1)[1],
    }
    print("(a) Vietoris-Rips H1 of one network's activations (centred, diameter 1), seconds")
    print(f"    {'layer':<10} {'points':>7} {'dim':>4} {'bars':>6} " + " ".join(f"{b:>17}" for b in backends)
          + f" {'ripser/pipeline':>16} {'giotto/pipeline':>16} {'bottleneck':>11}")
    diagrams, clouds = [], []
    for layer in layers:
        cloud = activation_kernels.normalize_activations(np.asarray(source[f"layers/{layer}"][0, 0], np.float64))
        clouds.append(cloud)
        results = {name: timed(lambda: backend(cloud)) for name, backend in backends.items()}
        ours = rows(results["gudhi (pipeline)"][0])
        difference = 0.0
        for name, (diagram, _) in results.items():
            theirs = rows(diagram)
            if theirs.shape != ours.shape:
                raise SystemExit(f"layer {layer}: {name} found {len(theirs)} finite H1 bars, the pipeline {len(ours)}")
            # the bottleneck distance: the largest shift of a bar under the best matching of the two
            # multisets (rows sorted alike can pair different bars where births tie to float32 rounding)
            difference = max(difference, gudhi.bottleneck_distance(theirs, ours))
        if difference > 1e-5:
            raise SystemExit(f"layer {layer}: diagrams differ by {difference:.2e}")
        seconds = {name: s for name, (_, s) in results.items()}
        print(f"    {names[layer]:<10} {len(cloud):>7} {cloud.shape[1]:>4} {len(ours):>6} "
              + " ".join(f"{seconds[b]:>17.2f}" for b in backends)
              + f" {seconds['ripser'] / seconds['gudhi (pipeline)']:>15.1f}x"
              + f" {seconds['giotto-ph'] / seconds['gudhi (pipeline)']:>15.1f}x {difference:>11.1e}")
        diagrams.append(results["gudhi (pipeline)"][0])
    # the pipeline's step on 2 cores: one item per Dask thread, two at once
    pairs = [clouds[i : i + 2] for i in range(0, len(clouds) - 1, 2)] or [clouds[:1] * 2]
    for pair in pairs:
        _, alone = timed(lambda: [persistence.vietoris_rips_diagrams(c, 1) for c in pair])
        with ThreadPoolExecutor(2) as pool:
            _, together = timed(lambda: list(pool.map(lambda c: persistence.vietoris_rips_diagrams(c, 1), pair)))
        print(f"    two items ({', '.join(str(len(c)) for c in pair)} points) on 2 threads: {together:.2f} s "
              f"({together / 2:.2f} s per item; {alone:.2f} s one after the other, {alone / together:.1f}x)")
    return diagrams


def landscapes(diagrams: list[np.ndarray], functions: int = 5, width: float = 0.001) -> None:
    """(b): the landscape step vs gudhi and persim on the same diagrams, and on 1,000-bar ones."""
    from gudhi.representations import Landscape
    from persim import PersLandscapeApprox

    grid = landscape_kernels.landscape_grid(width, 1.0)
    rng = np.random.default_rng(0)
    subsets = [rows(d)[np.sort(rng.choice(len(rows(d)), 1000, replace=False))] for d in diagrams if len(rows(d)) >= 1000]

    def gudhi_landscape(diagram):
        return Landscape(num_landscapes=functions, resolution=len(grid), sample_range=[grid[0], grid[-1]]).fit_transform(
            [diagram]
        )[0].reshape(functions, len(grid))

    def persim_landscape(diagram):
        values = PersLandscapeApprox(start=grid[0], stop=grid[-1], num_steps=len(grid), dgms=[diagram], hom_deg=0).values
        padded = np.zeros((functions, len(grid)))
        padded[: min(functions, len(values))] = values[:functions]
        return padded

    print(f"(b) persistence landscapes, {functions} functions on {len(grid)} grid points, ms per diagram "
          f"(persim snaps births and deaths to its grid: it may differ by half a step, {width / 2:g})")
    print(f"    {'bars':>6} {'pipeline':>9} {'gudhi':>9} {'persim':>9} {'|pipeline - gudhi/sqrt2|':>25} {'|pipeline - persim|':>20}")
    for diagram in [rows(d) for d in diagrams] + subsets:
        ours, t_ours = timed(lambda: persistence.persistence_landscape(diagram, functions, grid))
        theirs, t_gudhi = timed(lambda: gudhi_landscape(diagram))
        approx, t_persim = timed(lambda: persim_landscape(diagram))
        print(f"    {len(diagram):>6} {1e3 * t_ours:>9.1f} {1e3 * t_gudhi:>9.1f} {1e3 * t_persim:>9.1f} "
              f"{np.abs(ours - theirs / np.sqrt(2)).max():>25.1e} {np.abs(ours - approx).max():>20.1e}")


def permutation_test(permutations: int, loop_permutations: int) -> None:
    """(c): Table I's test at paper scale, vectorized vs a loop over the same relabellings."""
    rng = np.random.default_rng(0)
    shape = (12, 5, 1001)  # layers x landscape functions x grid points
    a = rng.gamma(2.0, 0.01, size=(100, *shape))
    b = rng.gamma(2.0, 0.01, size=(100, *shape))  # the same distribution: a p-value anywhere in (0, 1]
    width = 0.001
    gram, t_gram = timed(lambda: landscape_kernels.inner_products(np.concatenate([a, b]), width))
    (_, p_vector_small), t_vector_small = timed(lambda: landscape_kernels.permutation_test(gram, 100, loop_permutations, 0))
    (_, p_loop), t_loop = timed(lambda: landscape_kernels.permutation_test_loop(a, b, width, loop_permutations, 0))
    if p_loop != p_vector_small:
        raise SystemExit(f"the vectorized test's p-value {p_vector_small} differs from the loop's {p_loop}")
    (_, p_full), t_full = timed(lambda: landscape_kernels.permutation_test(gram, 100, permutations, 0))
    per_loop, per_vector = t_loop / loop_permutations, (t_gram + t_full) / permutations
    print(f"(c) permutation test, 100 + 100 networks x {np.prod(shape):,} values each")
    print(f"    loop: {loop_permutations:,} relabellings in {t_loop:.2f} s; vectorized, the same relabellings: "
          f"{t_vector_small:.3f} s, equal p-value {p_loop:.4f}")
    print(f"    vectorized: Gram {t_gram:.2f} s + {permutations:,} relabellings {t_full:.2f} s (p = {p_full:.5f})")
    print(f"    per relabelling: loop {1e6 * per_loop:.0f} us, vectorized {1e6 * per_vector:.2f} us (Gram included): "
          f"{per_loop / per_vector:.0f}x; {permutations:,} by the loop would take {per_loop * permutations / 60:.1f} min")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, nargs="+", default=[3, 6, 10], help="layers of (a) (0 the input, 11 the output)")
    parser.add_argument("--lattice-fraction", type=float, default=0.2852, help="the batch: this fraction of the 14,235 points")
    parser.add_argument("--permutations", type=int, default=100_000)
    parser.add_argument("--loop-permutations", type=int, default=2_000)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"{torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as folder:
        activations = pipeline_activations(Path(folder), args.lattice_fraction)
        diagrams = vietoris_rips(activations, args.layers)
    landscapes(diagrams)
    permutation_test(args.permutations, args.loop_permutations)


if __name__ == "__main__":
    main()
