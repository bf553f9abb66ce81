"""Ops dispatched, and host syncs, per training step of a population (issue 18's launch count).

On a GPU every dispatched aten op costs ~10-25 us of host time whatever its size, and a host
sync (``bool(tensor)``, ``.item()``: aten ``_local_scalar_dense``) stalls the host until the device
has caught up; a step that dispatches thousands of ops keeps the GPU waiting on Python. Counted on
CPU, where the count is the same: a ``TorchDispatchMode`` sees every aten op of one
``PopulationTrainer`` step (forward, backward, divergence check, optimizer update), after one
warm-up step. The count does not depend on the batch size, so a small batch keeps this fast.

Before and after in the same run: ``--baseline REV`` (default: 2ffb281, the commit before issue
18's item 5) counts revision REV's ``pipeline`` too, in a subprocess (benchmarks/baseline.py),
and prints both side by side with their ratio; ``--baseline none`` counts this checkout only.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/dispatch_count.py [--members 3] [--batch 8] [--baseline REV]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

import torch
from baseline import DEFAULT_BASELINE, measure_at
from torch.utils._python_dispatch import TorchDispatchMode

import pipeline
from pipeline.data import Dataset
from pipeline.train import Member, PopulationTrainer, TrainingSettings, initial_population

# Run by `make benchmark` (benchmarks/run_all.py) under this environment.
BENCHMARK_ENV = {}

ARCHITECTURES = {
    "WRN-16-2": ({"name": "wide_resnet", "depth": 16, "width": 2}, (3, 32, 32)),
    "ResNet-9": ({"name": "resnet9", "width": 64}, (3, 32, 32)),
    "CNN": ({"name": "cnn", "channels": [32, 64], "hidden": 128}, (3, 32, 32)),
    "MLP 784-50-20-10": ({"name": "mlp", "hidden": [50, 20]}, (1, 28, 28)),
}


class OpCounter(TorchDispatchMode):
    """Counts every aten op dispatched inside the block, by name.

    pipeline.plan.profiles has the same counter; this one is the benchmark's own because
    ``--baseline`` runs this file against older revisions' ``pipeline``, which lack it."""

    def __init__(self):
        super().__init__()
        self.ops = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[str(func.overloadpacket)] += 1
        return func(*args, **(kwargs or {}))


def count_step(architecture, shape, members: int, batch: int, optimizer: str, augment: bool) -> Counter:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4 * batch, *shape, generator=generator)
    y = torch.randint(0, 10, (4 * batch,), generator=generator)
    data = Dataset("random", x, y, x[:batch], y[:batch], "classification", 10)
    population = [Member(lr=0.1, momentum=0.9, weight_decay=5e-4, init_seed=i, label_noise=0.0) for i in range(members)]
    settings = TrainingSettings(epochs=1, batch_size=batch, optimizer=optimizer, augment=augment)
    trainer = PopulationTrainer(*initial_population(architecture, shape, 10, population), population, data, settings)
    xb, yb = trainer.x_train[:batch], trainer.y_train[:, :batch]
    trainer._train_step(trainer._augment(xb, 0), yb, 1.0)  # warm-up: lazy initializations
    counter = OpCounter()
    with counter:
        trainer._train_step(trainer._augment(xb, 1), yb, 1.0)
    return counter.ops


def count_all(members: int, batch: int) -> dict[str, dict[str, int]]:
    """``{architecture: {op: count}}`` of one step each (SGD, augmentation on images)."""
    return {
        name: dict(count_step(architecture, shape, members, batch, "sgd", len(shape) == 3 and shape[0] == 3))
        for name, (architecture, shape) in ARCHITECTURES.items()
    }


def summary(ops: dict[str, int]) -> str:
    top = ", ".join(f"{op.removeprefix('aten.')} {n}" for op, n in Counter(ops).most_common(5))
    return f"{sum(ops.values()):6d} ops, {ops.get('aten._local_scalar_dense', 0)} host syncs; most: {top}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="revision to count beside this checkout; 'none': only this one")
    parser.add_argument("--json", action="store_true", help="print the counts as one JSON line (what --baseline reads)")
    options = parser.parse_args()
    counts = count_all(options.members, options.batch)
    if options.json:
        print(json.dumps({"pipeline": pipeline.__file__, "counts": counts}))
        return
    print(f"aten ops per training step, {options.members} members, batch {options.batch} (SGD, augmentation on images)")
    before = None
    if options.baseline != "none":
        args = ["--members", str(options.members), "--batch", str(options.batch)]
        before = measure_at(options.baseline, __file__, args)["counts"]
    for name, ops in counts.items():
        if before is None:
            print(f"  {name:18s} {summary(ops)}")
            continue
        print(f"  {name:18s} before ({options.baseline}): {summary(before[name])}")
        print(f"  {'':18s} after  (this tree): {summary(ops)}")
        print(f"  {'':18s} ops before / after: {sum(before[name].values()) / sum(ops.values()):.2f} x")


if __name__ == "__main__":
    main()
