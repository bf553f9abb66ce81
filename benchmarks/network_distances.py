"""Benchmark: pairwise Frobenius distances between 200 networks' 1,000 x 1,000 matrices.

The pipeline's path (Gram form on a Dask array read from a Zarr store one row slab of every
network at a time, as compute_network_distances reads it) against a plain pair-by-pair loop on the
same in-memory data, side by side in one run, plus the Gram form on the in-memory data. All results
must agree to 1e-6 relative. Prints the time ratios and each side's peak memory (tracemalloc,
NumPy allocations, measured in a second run of each).

    .venv/bin/python benchmarks/network_distances.py [--networks 200] [--points 1000] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from measure import measured

from pipeline import store
from pipeline.kernels import diffusion, distances
from pipeline.parallel import dask_client
from pipeline.studies.network_manifold.steps import matrix_chunks

# Run by `make benchmark` (benchmarks/run_all.py) under this environment.
BENCHMARK_ENV = {}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", type=int, default=200)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    options = parser.parse_args()
    m, n = options.networks, options.points
    rng = np.random.default_rng(0)
    # Diffusion operators of random representations: realistic, row-stochastic, close together.
    base = rng.normal(size=(n, 20))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "matrices.zarr"
        import dask.array as da

        reps = da.from_array(np.stack([base + 0.3 * rng.normal(size=base.shape) for _ in range(m)]), chunks=(1, n, 20))
        operators = reps.map_blocks(lambda b: diffusion.diffusion_operator(b[0], 2.0)[None], dtype=np.float64, chunks=(1, n, n))
        operators = operators.rechunk(matrix_chunks(m, n))  # as compute_network_matrices stores them
        with dask_client(threads=options.threads):
            store.write_array_store(path, {"diffusion": operators}, uncompressed=("diffusion",))  # as the pipeline
        print(f"{m} networks, {n} x {n} matrices ({m * n * n * 8 / 1e9:.2f} GB in float64), {options.threads} threads")

        def pipeline_path():
            with dask_client(threads=options.threads):
                x = store.dask_array(path, "diffusion", all_items=True)
                return distances.gram_frobenius_distances(x)

        gram, seconds_gram, peak_gram = measured(pipeline_path)
        matrices = store.open_array_store(path)["diffusion"][...]
        direct, seconds_direct, peak_direct = measured(lambda: distances.direct_frobenius_distances(matrices))
        # the same Gram form on the in-memory data: the method's own gain, without the store
        in_memory, seconds_memory, peak_memory = measured(lambda: distances.gram_frobenius_distances(matrices))
    upper = np.triu_indices(m, 1)
    relative = max(np.max(np.abs(d[upper] - direct[upper]) / direct[upper]) for d in (gram, in_memory))
    rows = (
        ("pair-by-pair loop   ", seconds_direct, peak_direct, f"data already in memory: {matrices.nbytes / 1e6:.0f} MB"),
        ("Gram, in memory     ", seconds_memory, peak_memory, "same data in memory, NumPy"),
        ("pipeline Dask / Gram", seconds_gram, peak_gram, "reads the Zarr store slab by slab, includes the cluster start"),
    )
    for label, seconds, peak, note in rows:
        print(f"{label}: {seconds:8.2f} s   peak {peak / 1e6:8.1f} MB ({note})")
    print(f"ratio loop / pipeline : {seconds_direct / seconds_gram:6.1f} x   (target >= 50 x)")
    print(f"ratio loop / in memory: {seconds_direct / seconds_memory:6.1f} x")
    print(f"max relative difference: {relative:.2e}   (must be <= 1e-6)")
    assert relative <= 1e-6


if __name__ == "__main__":
    main()
