"""Benchmark: the 200-MLP sweep trained one network at a time vs as vectorized populations.

Both sides use the same engine (pipeline.train) on the same data, threads and epochs, measured
side by side in one run. Prints networks x epochs per second for each, their ratio, and the
achieved FLOP/s of the population run as a fraction of dense float32 matmul FLOP/s measured on
this machine in the same run.

Before and after in the same run: ``--baseline REV`` (default: 2ffb281, the commit before issue
18's item 5) measures revision REV's ``pipeline`` the same way, in a subprocess
(benchmarks/baseline.py), in alternation with this checkout (one repeat of each side at a time, so
that a change in the machine's load hits both), and prints both sides; ``--baseline none``
measures this checkout only.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/population_training.py [--epochs 2] [--alone 10] [--threads 2] \\
        [--repeats 3] [--baseline REV]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from baseline import DEFAULT_BASELINE, measure_at
from torch.utils.flop_counter import FlopCounterMode

import pipeline
from pipeline.config import load_config
from pipeline.train import Member, PopulationTrainer, initial_population
from pipeline.zoo import GRID_KEYS, load_spec_dataset, population_spec, training_settings

# Run by `make benchmark` (benchmarks/run_all.py) under this environment.
BENCHMARK_ENV = {}

REPO = Path(__file__).resolve().parents[1]


def make_trainer(spec, data, members, epochs):
    training = {**spec["training"], "epochs": epochs}
    base, params, buffers = initial_population(spec["architecture"], data.input_shape, data.num_outputs, members)
    return PopulationTrainer(base, params, buffers, members, data, training_settings(training))


def timed_run(trainer) -> float:
    start = time.perf_counter()
    trainer.run(progress=False)
    return time.perf_counter() - start


def matmul_flops_per_second(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def matmuls_alone_flops_per_second(widths, members, batch, repeats=50) -> float:
    """FLOP/s of one population training step's matmuls alone (the engine's MLP layout).

    Forward ``W @ h`` per layer (the first as one GEMM over all members), then the weight
    gradients and the input gradients of every layer but the first: the ceiling that the
    matmul fraction could reach for these shapes if nothing else took any time.
    """
    m, b = members, batch
    x = torch.randn(widths[0], b)
    weights = [torch.randn(m, o, i) for i, o in zip(widths[:-1], widths[1:])]
    outs = [torch.randn(m, o, b) for o in widths[1:]]
    ins = [None] + [torch.randn(m, i, b) for i in widths[1:-1]]

    def step():
        flops = 0
        weights[0].reshape(m * widths[1], widths[0]) @ x
        outs[0].reshape(m * widths[1], b) @ x.T
        flops += 2 * 2 * m * widths[1] * widths[0] * b
        for k in range(1, len(weights)):
            o, i = weights[k].shape[1:]
            torch.bmm(weights[k], ins[k])
            torch.bmm(outs[k], ins[k].transpose(1, 2))
            torch.bmm(weights[k].transpose(1, 2), outs[k])
            flops += 3 * 2 * m * o * i * b
        return flops

    flops = step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return flops * repeats / (time.perf_counter() - start)


def measure(options) -> dict:
    """Both sides' rates, the FLOPs and the FLOP/s figures of this ``pipeline`` (see the module docstring)."""
    torch.set_num_threads(options.threads)
    config = load_config(options.config)
    sweep = config["sweeps"][options.sweep]
    whole = {**sweep, "population_size": 10**9}  # every network in one population
    spec = population_spec({**config, "sweeps": {options.sweep: whole}}, options.sweep, 0)
    members = [Member(**{k: m[k] for k in GRID_KEYS}) for m in spec["members"]]
    data = load_spec_dataset(spec)
    n = len(members)

    # FLOPs of the population run (training steps and per-epoch evaluation), counted once.
    counter = FlopCounterMode(display=False)
    with counter:
        make_trainer(spec, data, members, options.epochs).run(progress=False)
    flops = counter.get_total_flops()

    # Both sides timed in alternation, best of --repeats each: this machine's noise (other
    # processes, a shared host) only ever adds time.
    alone = members[:: max(1, n // options.alone)][: options.alone]
    peaks, population_times, alone_times = [], [], []
    for _ in range(options.repeats):
        peaks.append(matmul_flops_per_second())
        population_times.append(timed_run(make_trainer(spec, data, members, options.epochs)))
        alone_times.append(sum(timed_run(make_trainer(spec, data, [m], options.epochs)) for m in alone))
    peak, seconds_population, seconds_alone = max(peaks), min(population_times), min(alone_times)
    arch = spec["architecture"]
    ceiling = None
    if arch["name"] == "mlp":
        widths = [int(torch.tensor(data.input_shape).prod()), *arch["hidden"], data.num_outputs]
        ceiling = max(
            matmuls_alone_flops_per_second(widths, n, spec["training"]["batch_size"]) for _ in range(options.repeats)
        )
    return {
        "pipeline": pipeline.__file__,
        "header": f"sweep {options.sweep}: {n} networks {spec['architecture']}, {len(data.x_train)} training points, "
        f"batch {spec['training']['batch_size']}, {options.epochs} epochs, {options.threads} threads",
        "networks": n, "alone": len(alone), "epochs": options.epochs,
        "seconds_population": seconds_population, "seconds_alone": seconds_alone,
        "rate_population": n * options.epochs / seconds_population,
        "rate_alone": len(alone) * options.epochs / seconds_alone,
        "flops": flops, "peak": peak, "ceiling": ceiling,
    }


def best(results: list[dict]) -> dict:
    """The best of repeated measurements of one side: the least time, the most FLOP/s (noise
    only ever adds time)."""
    out = dict(results[0])
    for key in ("seconds_population", "seconds_alone"):
        out[key] = min(r[key] for r in results)
    for key in ("peak", "ceiling"):
        out[key] = max(r[key] for r in results) if results[0][key] else None
    out["rate_population"] = out["networks"] * out["epochs"] / out["seconds_population"]
    out["rate_alone"] = out["alone"] * out["epochs"] / out["seconds_alone"]
    return out


def report(r: dict, repeats: int) -> None:
    achieved = r["flops"] / r["seconds_population"]
    print(f"(a) one at a time : {r['rate_alone']:10.2f} networks x epochs / s  ({r['alone']} networks, {r['seconds_alone']:.2f} s)")
    print(f"(b) population    : {r['rate_population']:10.2f} networks x epochs / s  "
          f"({r['networks']} networks, {r['seconds_population']:.2f} s)")
    print(f"ratio (b)/(a)     : {r['rate_population'] / r['rate_alone']:10.1f} x   (target >= 50 x)")
    print(f"achieved          : {achieved / 1e9:10.2f} GFLOP/s ({r['flops'] / 1e9:.2f} GFLOP counted)")
    print(f"dense matmul      : {r['peak'] / 1e9:10.2f} GFLOP/s (2048 x 2048 float32, best of {repeats})")
    print(f"matmul fraction   : {achieved / r['peak']:10.1%}   (target >= 40 %)")
    if r["ceiling"]:
        print(f"matmuls alone     : {r['ceiling'] / 1e9:10.2f} GFLOP/s = {r['ceiling'] / r['peak']:.1%} of dense: a step's own matmul "
              "shapes with nothing else, the fraction's ceiling")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    parser.add_argument("--sweep", default="mlp_digits")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--alone", type=int, default=10, help="networks timed one at a time (the rate is per network)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="timings of each side; the best is kept")
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="revision to measure first, the same way; 'none': only this checkout")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line (what --baseline reads)")
    options = parser.parse_args()
    before = None
    if options.baseline == "none":
        after = measure(options)
    else:
        once = argparse.Namespace(**{**vars(options), "repeats": 1})
        args = [f"--{k}={getattr(once, k)}" for k in ("config", "sweep", "epochs", "alone", "threads", "repeats")]
        befores, afters = [], []
        for _ in range(options.repeats):
            befores.append(measure_at(options.baseline, __file__, args))
            afters.append(measure(once))
        before, after = best(befores), best(afters)
    if options.json:
        print(json.dumps(after))
        return
    print(f"{after['header']}, best of {options.repeats}")
    if before is not None:
        print(f"--- before: {options.baseline} ---")
        report(before, options.repeats)
        print("--- after: this tree ---")
    report(after, options.repeats)
    if before is not None:
        ratio = lambda r: r["rate_population"] / r["rate_alone"]  # noqa: E731
        fraction = lambda r: r["flops"] / r["seconds_population"] / r["peak"]  # noqa: E731
        print(f"before -> after   : ratio {ratio(before):.1f} x -> {ratio(after):.1f} x, matmul fraction "
              f"{fraction(before):.1%} -> {fraction(after):.1%}, "
              f"population rate x{after['rate_population'] / before['rate_population']:.2f}")


if __name__ == "__main__":
    main()
