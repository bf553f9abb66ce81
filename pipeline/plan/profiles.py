"""What one network of an architecture costs per example: FLOPs, saved activations, parameters,
and the aten ops one population training step dispatches.

Measured, not modelled: torch's ``FlopCounterMode`` counts the FLOPs of one forward and backward
pass, a ``saved_tensors_hooks`` context sums the bytes autograd keeps for the backward, and a
``TorchDispatchMode`` counts the ops of one real :class:`~pipeline.train.PopulationTrainer` step.
FLOPs and activations are counted at two batch sizes and differenced, so that what does not grow
with the batch (parameters, the optimizer) is not charged per example.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Mapping

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

# the batch sizes at which per-example figures are counted and differenced
_SMALL, _LARGE = 2, 6


class OpCounter(TorchDispatchMode):
    """Counts every aten op dispatched inside the block, by name (``aten._local_scalar_dense`` is a
    host sync: ``bool(tensor)``, ``.item()``)."""

    def __init__(self):
        super().__init__()
        self.ops = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[str(func.overloadpacket)] += 1
        return func(*args, **(kwargs or {}))


def _forward_backward(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, backward: bool) -> tuple[float, int]:
    """FLOPs of one pass (and its backward) and the bytes autograd saves for the backward."""
    saved = []

    def pack(tensor):
        saved.append(tensor.numel() * tensor.element_size())
        return tensor

    counter = FlopCounterMode(display=False)
    with counter, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
        loss = torch.nn.functional.cross_entropy(out, y) if out.shape[-1] > 1 else out.square().mean()
        if backward:
            loss.backward()
    return float(counter.get_total_flops()), sum(saved)


def _trainer(architecture: Mapping, input_shape, num_outputs: int, batch: int, augment: bool, precision: str = "fp32"):
    """A 2-member population on random data, and a function running one training step of it."""
    from ..data import Dataset
    from ..train import Member, PopulationTrainer, TrainingSettings, initial_population

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2 * batch, *input_shape, generator=generator)
    if num_outputs > 1:
        y, task = torch.randint(0, num_outputs, (2 * batch,), generator=generator), "classification"
    else:
        y, task = torch.randn(2 * batch, generator=generator), "regression"
    data = Dataset("profile", x, y, x[:batch], y[:batch], task, num_outputs)
    members = [Member(lr=1e-3, momentum=0.9, weight_decay=5e-4, init_seed=i, label_noise=0.0) for i in range(_MEMBERS)]
    settings = TrainingSettings(epochs=1, batch_size=batch, optimizer="sgd", augment=augment, precision=precision)
    trainer = PopulationTrainer(*initial_population(architecture, tuple(input_shape), num_outputs, members), members, data, settings)
    xb, yb = trainer.x_train[:batch], trainer.y_train[:, :batch]

    def step():
        trainer._train_step(trainer._augment(xb, trainer.step) if augment else xb, yb, 1.0)
        trainer.step += 1

    step.trainer = trainer
    return step


_MEMBERS = 2


def population_step_ops(architecture: Mapping, input_shape, num_outputs: int, augment: bool, precision: str = "fp32") -> Counter:
    """The aten ops of one training step of a 2-member population (after a warm-up step): the
    count does not depend on the batch size, nor, for a vectorized population, on its size."""
    step = _trainer(architecture, input_shape, num_outputs, 2, augment, precision)
    step()  # warm-up: lazy initializations
    counter = OpCounter()
    with counter:
        step()
    return counter.ops


def cpu_step_seconds(
    architecture: Mapping, input_shape, num_outputs: int, augment: bool, precision: str = "fp32", batches=(4, 16), repeats=3
):
    """Seconds of one training step on one CPU thread, as ``(per step, per example and member)``:
    the fixed cost (dispatch, optimizer) and the slope, from a 2-member population timed at two
    batch sizes (the fastest of ``repeats`` steps each, after a warm-up step).

    Measured because a CPU's achieved FLOP/s depends on the layer shapes (on the reference machine
    from ~8 GFLOP/s for the small CNN to ~80 for ResNet-9), which no single figure captures.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times = []
        for batch in batches:
            step = _trainer(architecture, input_shape, num_outputs, batch, augment, precision)
            step()
            best = math.inf
            for _ in range(repeats):
                start = time.perf_counter()
                step()
                best = min(best, time.perf_counter() - start)
            times.append(best)
    finally:
        torch.set_num_threads(threads)
    (b0, b1), (t0, t1) = batches, times
    per_example = max((t1 - t0) / (b1 - b0), 0.0) / _MEMBERS
    return max(t0 - per_example * _MEMBERS * b0, 0.0), per_example


def cpu_eval_seconds(architecture: Mapping, input_shape, num_outputs: int, precision: str = "fp32", repeats=2) -> float:
    """Seconds per example and member of an evaluation (no gradients, the engine's evaluation
    batches) on one CPU thread: a 2-member population evaluated on 256 images or 2,048 vectors.

    Measured apart from training: an evaluation batch is far larger than a training step's, which
    for a small network changes the cost per example several times over."""
    examples = 256 if len(input_shape) == 3 else 2048
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = _trainer(architecture, input_shape, num_outputs, examples // 2, False, precision).trainer
        x, y = trainer.x_train[:examples], trainer.y_train[:, :examples]
        trainer.evaluate(x, y)
        best = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            trainer.evaluate(x, y)
            best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return best / (_MEMBERS * examples)


def network_profile(architecture: Mapping, input_shape, num_outputs: int, precision: str = "fp32") -> dict:
    """Per-network, per-example costs of an architecture on inputs of ``input_shape``, trained in
    ``precision`` (which changes the ops and the CPU's timings, not the FLOPs counted).

    Returns
    -------
    dict
        ``parameters`` and ``buffers`` (counts), ``forward_flops`` and ``train_flops`` (forward,
        and forward + backward, per example), ``activation_bytes`` (float32 tensors saved for the
        backward, per example), ``step_ops`` (aten ops of one population training step, images
        augmented), ``step_syncs`` (host syncs among them), and on one thread of this machine's
        CPU ``cpu_step_seconds`` (per step) and ``cpu_example_seconds`` (per training example and
        member) (:func:`cpu_step_seconds`), ``cpu_eval_example_seconds`` (per evaluated example and
        member, :func:`cpu_eval_seconds`).
    """
    from ..models import build_model

    torch.manual_seed(0)
    model = build_model(dict(architecture), tuple(input_shape), num_outputs)
    model.train()
    classes = max(num_outputs, 2)
    figures = {}
    for backward in (False, True):
        counts = []
        for batch in (_SMALL, _LARGE):
            x = torch.randn(batch, *input_shape)
            y = torch.randint(0, classes, (batch,)) if num_outputs > 1 else torch.randn(batch, 1)
            counts.append(_forward_backward(model, x, y, backward))
            model.zero_grad(set_to_none=True)
        (f_small, a_small), (f_large, a_large) = counts
        figures["train_flops" if backward else "forward_flops"] = (f_large - f_small) / (_LARGE - _SMALL)
        if backward:
            figures["activation_bytes"] = (a_large - a_small) / (_LARGE - _SMALL)
    augment = len(input_shape) == 3
    ops = population_step_ops(architecture, input_shape, num_outputs, augment, precision)
    step_seconds, example_seconds = cpu_step_seconds(architecture, input_shape, num_outputs, augment, precision)
    eval_seconds = cpu_eval_seconds(architecture, input_shape, num_outputs, precision)
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "buffers": sum(b.numel() for b in model.buffers()),
        **figures,
        "step_ops": sum(ops.values()),
        "step_syncs": ops["aten._local_scalar_dense"],
        "cpu_step_seconds": step_seconds,
        "cpu_example_seconds": example_seconds,
        "cpu_eval_example_seconds": eval_seconds,
    }
