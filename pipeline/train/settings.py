"""What a population trains with: each member's hyperparameters and the shared settings."""

from __future__ import annotations

import math
from dataclasses import dataclass

OPTIMIZERS = ("sgd", "adam")


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
    snapshot_every: int | str = "epoch"
    seed: int = 0
    snapshot_metrics: bool = False
    thresholds: tuple[float, ...] = ()
    threshold_every: int = 1
    eval_batch_size: int = 1024

    def __post_init__(self):
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.snapshot_every != "epoch" and not (isinstance(self.snapshot_every, int) and self.snapshot_every >= 1):
            raise ValueError(f"snapshot_every must be 'epoch' or an integer >= 1, got {self.snapshot_every!r}")
        if any(not 0 < m < 1 for m in self.milestones) or list(self.milestones) != sorted(self.milestones):
            raise ValueError(f"milestones must be increasing fractions in (0, 1), got {self.milestones}")
        if any(not 0 < t <= 1 for t in self.thresholds) or list(self.thresholds) != sorted(set(self.thresholds)):
            raise ValueError(f"thresholds must be increasing training accuracies in (0, 1], got {self.thresholds}")
        if self.threshold_every < 1:
            raise ValueError(f"threshold_every must be >= 1, got {self.threshold_every}")

    def steps_per_epoch(self, n_train: int) -> int:
        return math.ceil(n_train / self.batch_size)

    def snapshot_steps(self, n_train: int) -> list[int]:
        """Steps at which parameters are snapshotted: the initialization, the cadence, the end."""
        total = self.epochs * self.steps_per_epoch(n_train)
        every = self.steps_per_epoch(n_train) if self.snapshot_every == "epoch" else int(self.snapshot_every)
        steps = list(range(0, total + 1, every))
        if steps[-1] != total:
            steps.append(total)
        return steps
