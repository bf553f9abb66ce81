"""When a population records its parameters: a sweep's ``snapshot_every`` as optimizer steps,
examples seen and epochs.

Pure arithmetic without torch: :class:`pipeline.train.TrainingSettings` records by it, and a
study's config check (run each time Snakemake starts) computes a sweep's recorded schedule by it
from the config alone.

``snapshot_every`` takes three forms:

- ``"epoch"``: at the end of every epoch;
- an integer ``k``: every ``k`` optimizer steps;
- ``{"examples": e}``: every ``e`` training examples seen, where the examples seen after
  optimizer step ``t`` are defined as ``t * batch_size``. ``e`` must be a multiple of the batch
  size, so that the positions are exactly the steps ``0, e / batch_size, 2 e / batch_size, ...``.

Every form also records the initialization (step 0) and the end of training.

The last batch of an epoch is partial when the batch size does not divide the training set; it
counts as a full batch here (the count is of batch slots, ``batch_size * ceil(n_train /
batch_size)`` per epoch). So two batch sizes that both divide the training set (MNIST's 60,000
at 50 and 100) record at the same examples and the same fractions of an epoch; two that pad
their epochs differently (1,437 digits at 32 and 64: 1,440 and 1,472 slots) record at the same
examples but drift apart in epochs, which :func:`snapshot_epochs` shows and a study that compares
sweeps on one axis must refuse. A count of the examples actually seen could not be exact: a
multiple of ``e`` would fall inside a batch.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from typing import Mapping

__all__ = ["cadence_problem", "examples_seen", "snapshot_epochs", "snapshot_steps", "steps_per_epoch"]


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimizer steps of one epoch: ``ceil(n_train / batch_size)`` (the last batch may be partial)."""
    return math.ceil(n_train / batch_size)


def cadence_problem(snapshot_every, batch_size: int) -> str | None:
    """What is wrong with ``snapshot_every`` for this batch size, or None.

    The message names the offending part of the value (``snapshot_every`` or
    ``snapshot_every.examples``) so that a caller can prefix the config key of the sweep.
    """
    if snapshot_every == "epoch":
        return None
    if isinstance(snapshot_every, numbers.Integral) and not isinstance(snapshot_every, bool):
        return None if snapshot_every >= 1 else f"snapshot_every must be >= 1, got {snapshot_every}"
    if isinstance(snapshot_every, Mapping):
        if set(snapshot_every) != {"examples"}:
            return f"snapshot_every as a mapping takes the one key 'examples', got {sorted(snapshot_every)}"
        examples = snapshot_every["examples"]
        if isinstance(examples, bool) or not isinstance(examples, numbers.Integral) or examples < 1:
            return f"snapshot_every.examples must be an integer >= 1, got {examples!r}"
        if examples % batch_size:
            return (
                f"snapshot_every.examples ({examples}) must be a multiple of batch_size ({batch_size}): "
                "a snapshot is taken between two optimizer steps"
            )
        return None
    return f"snapshot_every must be 'epoch', an integer >= 1 or {{examples: N}}, got {snapshot_every!r}"


def _every_steps(snapshot_every, batch_size: int, n_train: int) -> int:
    problem = cadence_problem(snapshot_every, batch_size)
    if problem:
        raise ValueError(problem)
    if snapshot_every == "epoch":
        return steps_per_epoch(n_train, batch_size)
    if isinstance(snapshot_every, Mapping):
        return int(snapshot_every["examples"]) // batch_size
    return int(snapshot_every)


def snapshot_steps(snapshot_every, *, epochs: int, batch_size: int, n_train: int) -> list[int]:
    """Optimizer steps at which parameters are recorded: 0, every cadence, and the last step.

    Parameters
    ----------
    snapshot_every : {"epoch"} or int or mapping
        The sweep's ``snapshot_every`` (module docstring).
    epochs, batch_size, n_train : int
        Training length, minibatch size and training-set size.

    Returns
    -------
    list of int
        Increasing steps from 0 to ``epochs * steps_per_epoch(n_train, batch_size)``.

    Raises
    ------
    ValueError
        ``snapshot_every`` is malformed, or its ``examples`` are not a multiple of
        ``batch_size`` (the message names ``snapshot_every.examples``).
    """
    every = _every_steps(snapshot_every, batch_size, n_train)
    total = epochs * steps_per_epoch(n_train, batch_size)
    steps = list(range(0, total + 1, every))
    if steps[-1] != total:
        steps.append(total)
    return steps


def examples_seen(steps, batch_size: int) -> list[int]:
    """Examples seen after each of ``steps``: ``step * batch_size`` (a partial last batch of an
    epoch counts as full; module docstring)."""
    return [int(s) * batch_size for s in steps]


def snapshot_epochs(steps, batch_size: int, n_train: int) -> list[Fraction]:
    """Each of ``steps`` as an exact fraction of epochs: ``step / steps_per_epoch``."""
    per_epoch = steps_per_epoch(n_train, batch_size)
    return [Fraction(int(s), per_epoch) for s in steps]
