"""Benchmark: what a sweep's ``precision`` does on CPU (bf16 through torch's CPU autocast).

1. Resolution: the first hidden layer of gabella_tiny (config/paper.yaml: sigmoid MLP 100-100,
   no bias, N(0, 1e-6) weights) at its initialization, read out with
   ``pipeline.train.population_activations`` in fp32 and in bf16; prints how many distinct values
   its outputs take over every unit and image. MNIST when it is under ``--data-root``, else the
   embedded digits (the same architecture on 8x8 images).
2. Speed: one training step of a WRN-16-2 population (``--members`` networks, batch 128, random
   CIFAR-shaped data [3, 32, 32]) with the population engine in fp32 and in bf16, the median of
   ``--repeats`` steps of each, alternated, after one warm-up step each.

    .venv/bin/python benchmarks/precision.py [--threads 2] [--members 3] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from pipeline.data import Dataset, load_dataset
from pipeline.train import Member, PopulationTrainer, TrainingSettings, initial_population, population_activations

REPO = Path(__file__).resolve().parents[1]


def member(init_seed: int = 0) -> Member:
    return Member(lr=0.05, momentum=0.0, weight_decay=0.0, init_seed=init_seed, label_noise=0.0)


def first_layer_distinct_values(data_root: str) -> None:
    sweep = yaml.safe_load((REPO / "config/paper.yaml").read_text())["sweeps"]["gabella_tiny"]
    try:
        data = load_dataset("mnist", root=data_root)
    except Exception as error:  # absent offline: the same network on the embedded digits
        print(f"mnist not available ({type(error).__name__}); using digits")
        data = load_dataset("digits")
    base, params, buffers = initial_population(sweep["architecture"], data.input_shape, data.num_outputs, [member()])
    x = data.x_test
    first = base.layer_names[0]
    print(f"gabella_tiny {sweep['architecture']} on {data.name}: {len(x)} test images, layer {first!r}")
    for precision in ("fp32", "bf16"):
        acts = population_activations(base, params, buffers, x, [first], precision=precision)[first]
        values = acts.numpy().ravel()
        print(
            f"  {precision}: {len(np.unique(values))} distinct values over {values.size} unit outputs, "
            f"range [{values.min():.9f}, {values.max():.9f}]"
        )


def wrn_step_seconds(members: int, repeats: int) -> None:
    gen = torch.Generator().manual_seed(0)
    n = 128
    x = torch.rand(n, 3, 32, 32, generator=gen)
    y = torch.randint(0, 10, (n,), generator=gen)
    data = Dataset("random_cifar_shaped", x, y, x[:8], y[:8], "classification", 10)
    arch = {"name": "wide_resnet", "depth": 16, "width": 2}
    population = [member(seed) for seed in range(members)]
    trainers = {}
    for precision in ("fp32", "bf16"):
        settings = TrainingSettings(epochs=1, batch_size=n, precision=precision)
        base, params, buffers = initial_population(arch, data.input_shape, data.num_outputs, population)
        trainers[precision] = PopulationTrainer(base, params, buffers, population, data, settings)
        trainers[precision]._train_step(x, trainers[precision].y_train, 1.0)  # warm-up (allocations, kernel choice)
    # alternated step by step, so that both see the same load of a shared machine
    seconds = {precision: [] for precision in trainers}
    for _ in range(repeats):
        for precision, trainer in trainers.items():
            start = time.perf_counter()
            trainer._train_step(x, trainer.y_train, 1.0)
            seconds[precision].append(time.perf_counter() - start)
    times = {precision: statistics.median(values) for precision, values in seconds.items()}
    for precision, values in seconds.items():
        print(f"  {precision}: {times[precision]:.2f} s per step (median of {repeats}; {['%.2f' % s for s in values]})")
    print(f"  bf16 / fp32 step time: {times['bf16'] / times['fp32']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data-root", default=str(REPO / "data"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads")
    first_layer_distinct_values(args.data_root)
    print(f"WRN-16-2, {args.members} members, batch 128, [3, 32, 32], one training step:")
    wrn_step_seconds(args.members, args.repeats)


if __name__ == "__main__":
    main()
