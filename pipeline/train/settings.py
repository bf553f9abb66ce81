"""What a population trains with: each member's hyperparameters and the shared settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .. import cadence

OPTIMIZERS = ("sgd", "adam")
# The arithmetic of a population's forward passes (pipeline.train.forward): plain float32, float32
# with TF32 tensor-core matmuls on CUDA, bf16 autocast.
PRECISIONS = ("fp32", "tf32", "bf16")


@dataclass(frozen=True)
class Member:
    """Hyperparameters of one network of a population: one value of each grid key of the sweep
    schema (``config/schema/pipeline.yaml``, ``sweep.grid``), whose defaults apply."""

    lr: float
    momentum: float
    weight_decay: float
    init_seed: int
    label_noise: float

    def __post_init__(self):
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if not 0 <= self.label_noise <= 1:
            raise ValueError(f"label_noise must be in [0, 1], got {self.label_noise}")


@dataclass(frozen=True)
class TrainingSettings:
    """Settings shared by every member of a population.

    The defaults are the sweep schema's (a test holds them equal); ``eval_batch_size`` is how
    evaluation is batched, not what it computes.
    """

    epochs: int
    batch_size: int
    optimizer: str = "sgd"
    milestones: tuple[float, ...] = ()
    gamma: float = 0.1
    augment: bool = False
    # "epoch", every k optimizer steps, or {"examples": e} (pipeline.cadence)
    snapshot_every: int | str | Mapping[str, int] = "epoch"
    seed: int = 0
    snapshot_metrics: bool = False
    thresholds: tuple[float, ...] = ()
    threshold_every: int = 1
    precision: str = "fp32"
    eval_batch_size: int = 1024

    def __post_init__(self):
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        problem = cadence.cadence_problem(self.snapshot_every, self.batch_size)
        if problem:
            raise ValueError(problem)
        if any(not 0 < m < 1 for m in self.milestones) or list(self.milestones) != sorted(self.milestones):
            raise ValueError(f"milestones must be increasing fractions in (0, 1), got {self.milestones}")
        if any(not 0 < t <= 1 for t in self.thresholds) or list(self.thresholds) != sorted(set(self.thresholds)):
            raise ValueError(f"thresholds must be increasing training accuracies in (0, 1], got {self.thresholds}")
        if self.threshold_every < 1:
            raise ValueError(f"threshold_every must be >= 1, got {self.threshold_every}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")

    def steps_per_epoch(self, n_train: int) -> int:
        """Optimizer steps of one epoch over ``n_train`` examples (the last batch may be partial)."""
        return cadence.steps_per_epoch(n_train, self.batch_size)

    def snapshot_steps(self, n_train: int) -> list[int]:
        """Steps at which parameters are snapshotted: the initialization, the cadence, the end.

        ``snapshot_every`` is ``"epoch"``, an integer number of optimizer steps, or
        ``{"examples": e}``: every ``e`` examples seen, the examples seen after step ``t`` being
        ``t * batch_size`` (a partial last batch of an epoch counts as full), so every
        ``e / batch_size`` steps (:mod:`pipeline.cadence`).

        Raises
        ------
        ValueError
            ``e`` is not a multiple of ``batch_size`` (the message names ``snapshot_every.examples``).
        """
        return cadence.snapshot_steps(self.snapshot_every, epochs=self.epochs, batch_size=self.batch_size, n_train=n_train)
