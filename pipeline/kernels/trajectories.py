"""Synthetic weight trajectories that branch at known steps: the ground truth on which the
learning-graph branch detector is tested and benchmarked.

A group of neurons moves together; at a split its neurons are dealt among new groups, each of
which turns away from its parent's direction. This is the picture Gabella's learning graphs
show: zero-initialized output neurons start as one point and separate, one branch per class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Trajectories:
    """``points`` ``[snapshot * neuron, dim]`` (snapshot-major), the ``step`` of each point,
    ``splits`` ``[k, 3]`` = (step, group, children) as given, ``groups_at_end``."""

    points: np.ndarray
    step: np.ndarray
    splits: np.ndarray
    groups_at_end: int


def branching_trajectories(
    splits: Sequence[tuple[int, int, int]],
    n_neurons: int,
    n_snapshots: int,
    dim: int = 10,
    speed: float = 1.0,
    spread: float = 2.0,
    noise: float = 0.05,
    seed: int = 0,
) -> Trajectories:
    """Neurons starting at the origin as one group (group 0) and moving ``speed`` per snapshot;
    ``splits`` = (step, group, children): from that step on the group's neurons (dealt in turn)
    form ``children`` new groups, numbered in order of creation, each moving ``speed`` along the
    first direction plus ``spread * speed`` along a random direction of its own orthogonal to it
    (so every norm keeps growing, and every group moves by the same length per snapshot). Each
    point gets independent Gaussian ``noise``.

    Raises ValueError when a split names a group that does not exist at its step or has fewer
    neurons than children.
    """
    rng = np.random.default_rng(seed)
    if n_neurons < 1 or n_snapshots < 2 or dim < 3:
        raise ValueError("need n_neurons >= 1, n_snapshots >= 2 and dim >= 3")
    forward = rng.normal(size=dim)
    forward /= np.linalg.norm(forward)

    def sideways():
        u = rng.normal(size=dim)
        u -= (u @ forward) * forward
        return u / np.linalg.norm(u)

    velocity = {0: speed * forward}
    group = np.zeros(n_neurons, dtype=np.int64)
    ordered = sorted((int(s), int(g), int(c)) for s, g, c in splits)
    created = 1
    positions = np.zeros((n_snapshots, n_neurons, dim))
    position = np.zeros((n_neurons, dim))
    pending = list(ordered)
    for t in range(n_snapshots):
        while pending and pending[0][0] == t:
            _, g, children = pending.pop(0)
            neurons = np.flatnonzero(group == g)
            if g not in velocity or len(neurons) < children or children < 2:
                raise ValueError(f"split {(t, g, children)}: group {g} does not exist at step {t} or has fewer neurons than children")
            for c in range(children):
                velocity[created + c] = speed * forward + spread * speed * sideways()
                group[neurons[c::children]] = created + c
            del velocity[g]
            created += children
        if t > 0:
            position = position + np.stack([velocity[g] for g in group])
        positions[t] = position
    points = positions + rng.normal(scale=noise, size=positions.shape)
    step = np.repeat(np.arange(n_snapshots), n_neurons)
    return Trajectories(points.reshape(-1, dim), step, np.asarray(ordered, dtype=np.int64).reshape(-1, 3), len(velocity))


def random_split_tree(rng: np.random.Generator, n_snapshots: int, n_neurons: int, max_splits: int = 4) -> list[tuple[int, int, int]]:
    """A random sequence of splits (step, group, children) for :func:`branching_trajectories`:
    1 to ``max_splits`` splits into 2 or 3 groups, at steps between 15 % and 75 % of the run and at
    least 3 snapshots apart, each of a group that exists then and has enough neurons."""
    splits: list[tuple[int, int, int]] = []
    sizes = {0: n_neurons}
    created = 1
    candidates = np.arange(int(0.15 * n_snapshots), int(0.75 * n_snapshots), 3)
    steps = np.sort(rng.choice(candidates, size=rng.integers(1, max_splits + 1), replace=False))
    for s in steps:
        children = int(rng.integers(2, 4))
        candidates = [g for g, n in sizes.items() if n >= 2 * children]
        if not candidates:
            continue
        g = int(rng.choice(candidates))
        splits.append((int(s), g, children))
        for c in range(children):
            sizes[created + c] = len(range(c, sizes[g], children))
        del sizes[g]
        created += children
    return splits
