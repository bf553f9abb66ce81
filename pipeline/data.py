"""Datasets as in-memory tensors with seeded, bit-reproducible train/test splits.

Embedded (no download, no network): ``digits`` (scikit-learn's 1,797 8x8 handwritten digits),
``moons``, ``circles``, ``disks9`` (nine disks against their complement in a larger disk,
sampled on a square lattice, after the activation-landscapes paper) and ``regression2d``.
Through torchvision (files under ``root``, or ``download=True``): ``mnist``,
``fashion_mnist``, ``cifar10``; or, for rehearsing a configuration without them, their stand-ins
(:func:`stand_in_pixels`): seeded, learnable synthetic images of the same shape, classes, pixel
format and normalization, made in memory.

:func:`evaluation_subset` picks the registered evaluation points: a fixed, seeded, stratified
set of test-set indices, so that every network of a study is probed on the same inputs.
"""

from __future__ import annotations

import math
import numbers
import operator
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

import numpy as np

if TYPE_CHECKING:
    import torch

# torch is imported inside the functions that build tensors: the config loader reads DATASET_TASKS
# each time Snakemake starts, and importing torch alone takes seconds.

__all__ = [
    "DATASETS", "DATASET_TASKS", "TORCHVISION_SIZES", "DataUnavailableError", "Dataset", "evaluation_subset",
    "dataset_geometry", "lattice_dataset", "load_dataset", "missing_torchvision_files", "stand_in_pixels",
    "training_set_size",
]

# Every dataset and its task; the sweep schema's dataset enum lists the same names (tested).
DATASET_TASKS: dict[str, str] = {
    "digits": "classification",
    "moons": "classification",
    "circles": "classification",
    "disks9": "classification",
    "rings9": "classification",
    "spheres9": "classification",
    "regression2d": "regression",
    "mnist": "classification",
    "fashion_mnist": "classification",
    "cifar10": "classification",
}
DATASETS: tuple[str, ...] = tuple(DATASET_TASKS)
_NOISY = ("moons", "circles", "regression2d")
_DEFAULT_NOISE = {"moons": 0.1, "circles": 0.05, "regression2d": 0.0}
_DEFAULT_SAMPLES = 1000  # moons, circles, regression2d
_MIN_SAMPLES = 10

# name: (torchvision class, folder torchvision looks in under root, per-channel mean, per-channel std).
# The usual training-set statistics of the [0, 1]-scaled pixels; for CIFAR-10 the std is the
# per-pixel one (0.2470, 0.2435, 0.2616), not the often-copied (0.2023, 0.1994, 0.2010).
_TORCHVISION = {
    "mnist": ("MNIST", os.path.join("MNIST", "raw"), (0.1307,), (0.3081,)),
    "fashion_mnist": ("FashionMNIST", os.path.join("FashionMNIST", "raw"), (0.2860,), (0.3530,)),
    "cifar10": ("CIFAR10", "cifar-10-batches-py", (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}

# name: (image shape [H, W] or [H, W, C] as torchvision stores it, training-set size, test-set size)
TORCHVISION_SIZES = {
    "mnist": ((28, 28), 60000, 10000),
    "fashion_mnist": ((28, 28), 60000, 10000),
    "cifar10": ((32, 32, 3), 50000, 10000),
}
# The files torchvision needs under <root>/<folder> (MNIST's are the unpacked idx files); a
# DAG-time check looks for them, torchvision itself verifies them when it loads.
_TORCHVISION_FILES = {
    "mnist": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    "fashion_mnist": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    "cifar10": ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch", "batches.meta"),
}
# Stand-ins are one fixed data set per name, whatever the sweep's seed (which, as for the real
# data, only chooses a training subsample): every sweep of a rehearsal sees the same images.
_STAND_IN_SEED = {"mnist": 1307, "fashion_mnist": 2860, "cifar10": 4914}
_NOISE = {False: 90.0, True: 60.0}  # amplitude of the smooth per-image noise (grey, colour)

# disks9 geometry, in units where the enclosing disk has radius 1 (see _disks9 for the sources).
_DISKS9_OUTER_RADIUS = 1.0
_DISKS9_RING_RADIUS = 0.7
_DISKS9_RADIUS = 0.13
_DISKS9_CENTRES = ((0.0, 0.0),) + tuple(
    (_DISKS9_RING_RADIUS * math.cos(2 * math.pi * k / 8), _DISKS9_RING_RADIUS * math.sin(2 * math.pi * k / 8))
    for k in range(8)
)
_DISKS9_POINTS = 14235
_DISKS9_MIN_POINTS = 500
# rings9: annuli around the same nine centres (inner and outer radius, unit-disk units)
_RINGS9_RADII = (0.07, 0.15)
# spheres9: nine balls in the unit ball, one at the centre and eight at the corners of a cube
_SPHERES9_CENTRES = ((0.0, 0.0, 0.0),) + tuple(
    (0.45 * sx, 0.45 * sy, 0.45 * sz) for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)
)
_SPHERES9_RADIUS = 0.17
LATTICE_DATASETS = ("disks9", "rings9", "spheres9")
# Irrational shift of the lattice off the disks' common centre, in lattice spacings: it breaks
# every symmetry, so no two lattice points are equally far from the centre and any requested
# count (the paper's odd 14,235 included) is met exactly, which a centred lattice cannot do.
_DISKS9_SHIFT = (math.sqrt(2.0) - 1.0, math.sqrt(5.0) - 2.0)
_LATTICE_SHIFT_3D = (math.sqrt(2.0) - 1.0, math.sqrt(5.0) - 2.0, math.sqrt(7.0) - 2.0)


class DataUnavailableError(RuntimeError):
    """A torchvision dataset is not on disk and could not be downloaded."""


@dataclass(frozen=True)
class Dataset:
    """A train/test split held as tensors.

    Inputs are float32, images ``[N, C, H, W]`` and vector data ``[N, d]``. Targets are int64
    class labels for classification and float32 values ``[N]`` for regression.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    task: str
    num_classes: int | None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input, ``x_train.shape[1:]``."""
        return tuple(self.x_train.shape[1:])

    @property
    def num_outputs(self) -> int:
        """Width of a model's output layer: the number of classes, or 1 for regression."""
        return self.num_classes if self.task == "classification" else 1


def load_dataset(
    name: str,
    *,
    root: str = "data",
    download: bool = False,
    seed: int = 0,
    test_fraction: float = 0.2,
    n_samples: int | None = None,
    noise: float | None = None,
    stand_in: Mapping | None = None,
) -> Dataset:
    """Load a dataset as tensors with a seeded train/test split.

    The same arguments give bit-identical tensors.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    root : str, default "data"
        Folder holding the torchvision datasets (``MNIST/raw``, ``FashionMNIST/raw``,
        ``cifar-10-batches-py``); unused by the embedded datasets.
    download : bool, default False
        Let torchvision download a missing dataset into ``root`` (needs network access).
    seed : int, default 0
        Seed of the generated data, of the train/test split and of training-set subsampling.
    test_fraction : float, default 0.2
        Held-out fraction, in (0, 1), for datasets without their own split (all but the
        torchvision ones, which keep their official test sets and ignore it). Classification
        splits are stratified.
    n_samples : int, optional
        ``moons``, ``circles``, ``regression2d``: number of points generated (default 1000).
        ``disks9``: number of lattice points (default 14,235, the paper's count; the lattice
        spacing is chosen to give exactly this many). ``digits`` and the torchvision datasets:
        size of a seeded, class-stratified subsample of the training set (default: all of it;
        the test set is kept whole).
    noise : float, optional
        Noise of the generated data: standard deviation of the Gaussian jitter of ``moons``
        (default 0.1) and ``circles`` (default 0.05), or of the Gaussian noise added to the
        ``regression2d`` target (default 0). Not accepted by the other datasets.
    stand_in : mapping, optional
        ``{"train": n, "test": m}``: instead of the torchvision files, a seeded synthetic stand-in
        of ``n`` training and ``m`` test images (None: the real split's size) in the real
        dataset's shape, classes, uint8 pixel format and normalization (:func:`stand_in_pixels`).
        For rehearsing a configuration without the data; never for results. Ignored by the
        embedded datasets, which need no stand-in.

    Returns
    -------
    Dataset
        The split, with ``task`` "classification" (``num_classes`` set) or "regression".

    Raises
    ------
    ValueError
        An unknown ``name`` or an invalid parameter (the message names it).
    DataUnavailableError
        A torchvision dataset is absent from ``root`` and ``download`` is false, or the
        download failed.

    Notes
    -----
    - ``digits``: ``sklearn.datasets.load_digits`` as ``[N, 1, 8, 8]``, pixels divided by 16
      into [0, 1].
    - ``moons``, ``circles``: ``sklearn.datasets.make_moons`` / ``make_circles`` (factor 0.5),
      ``[N, 2]``, 2 classes.
    - ``disks9``: see :func:`_disks9` for the geometry and where each number comes from.
    - ``regression2d``: inputs uniform on [-1, 1]^2, target ``sin(pi x1) cos(pi x2)`` of the
      stored (float32) inputs, plus ``noise`` times standard Gaussian noise.
    - ``mnist``, ``fashion_mnist``, ``cifar10``: pixels scaled to [0, 1], then standardised
      per channel with the means/stds MNIST (0.1307)/(0.3081), Fashion-MNIST (0.2860)/(0.3530),
      CIFAR-10 (0.4914, 0.4822, 0.4465)/(0.2470, 0.2435, 0.2616); ``[N, C, H, W]``, 10 classes.
    """
    seed, test_fraction, root, n_samples, noise = _checked_arguments(name, seed, test_fraction, download, root, n_samples, noise)
    if name in _TORCHVISION:
        return _torchvision_dataset(name, root, download, stand_in, n_samples, seed)
    return _embedded_dataset(name, n_samples, noise, test_fraction, seed)


def _checked_arguments(name, seed, test_fraction, download, root, n_samples, noise) -> tuple:
    """:func:`load_dataset`'s arguments checked (``ValueError`` naming the bad one) and
    normalised: ``(seed, test_fraction, root, n_samples, noise)``, ``noise`` the dataset's
    default where unset."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset name {name!r}; known datasets: {', '.join(DATASETS)}")
    seed = _as_int(seed, "seed")
    if not 0 <= seed < 2**32:  # the range numpy's and sklearn's seeding accept
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed}")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, numbers.Real) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be a number strictly between 0 and 1, got {test_fraction!r}")
    test_fraction = float(test_fraction)
    if not isinstance(download, bool):
        raise ValueError(f"download must be True or False, got {download!r}")
    root = os.fspath(root)
    if n_samples is not None:
        n_samples = _as_int(n_samples, "n_samples")
        minimum = _DISKS9_MIN_POINTS if name in LATTICE_DATASETS else _MIN_SAMPLES
        if n_samples < minimum:
            # disks9 needs several lattice points per small disk for its nine holes to exist
            raise ValueError(f"n_samples must be at least {minimum} for {name!r}, got {n_samples}")
    if noise is not None:
        if name not in _NOISY:
            raise ValueError(f"noise applies only to {', '.join(_NOISY)}, not to {name!r}; leave it unset")
        if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not 0 <= noise < math.inf:
            raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
        noise = float(noise)
    else:
        noise = _DEFAULT_NOISE.get(name)
    return seed, test_fraction, root, n_samples, noise


def _torchvision_dataset(name: str, root: str, download: bool, stand_in: Mapping | None, n_samples: int | None, seed: int) -> Dataset:
    """A torchvision dataset (or its stand-in), its training set subsampled to ``n_samples``."""
    if stand_in is not None:
        real_train, real_test = TORCHVISION_SIZES[name][1:]
        train, test = stand_in.get("train") or real_train, stand_in.get("test") or real_test
        data = _from_pixels(name, *stand_in_pixels(name, train), *stand_in_pixels(name, test, test=True))
    else:
        data = _load_torchvision(name, root, download)
    if n_samples is None:
        return data
    keep = _stratified_subsample(data.y_train.numpy(), n_samples, seed, f"the {name} training set")
    return _replace_train(data, keep)


def _embedded_dataset(name: str, n_samples: int | None, noise: float | None, test_fraction: float, seed: int) -> Dataset:
    """A dataset made here (``digits`` from sklearn's copy, the others generated), split."""
    if name == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x, y = (bunch.data / 16.0).reshape(-1, 1, 8, 8), bunch.target.astype(np.int64)
        data = _split(name, x, y, "classification", 10, test_fraction, seed)
        if n_samples is None:
            return data
        keep = _stratified_subsample(data.y_train.numpy(), n_samples, seed, "the digits training set")
        return _replace_train(data, keep)

    n = n_samples if n_samples is not None else _DEFAULT_SAMPLES
    if name == "moons":
        from sklearn.datasets import make_moons

        x, y = make_moons(n_samples=n, noise=noise, random_state=seed)
        return _split(name, x, y, "classification", 2, test_fraction, seed)
    if name == "circles":
        from sklearn.datasets import make_circles

        x, y = make_circles(n_samples=n, noise=noise, factor=0.5, random_state=seed)
        return _split(name, x, y, "classification", 2, test_fraction, seed)
    if name in LATTICE_DATASETS:
        x, y = lattice_dataset(name, n_samples if n_samples is not None else _DISKS9_POINTS)
        return _split(name, x, y, "classification", 2, test_fraction, seed)
    # regression2d
    rng = np.random.default_rng(seed)
    # the target is a function of the inputs as stored, so it holds exactly on the float32 x
    x = rng.uniform(-1.0, 1.0, size=(n, 2)).astype(np.float32).astype(np.float64)
    y = np.sin(np.pi * x[:, 0]) * np.cos(np.pi * x[:, 1])
    if noise > 0:
        y = y + noise * rng.standard_normal(n)
    return _split(name, x, y, "regression", None, test_fraction, seed)


def evaluation_subset(dataset: Dataset, n: int, seed: int = 0) -> torch.Tensor:
    """The registered evaluation subset: ``n`` distinct test-set indices, fixed by ``seed``.

    Parameters
    ----------
    dataset : Dataset
        The dataset whose test set is indexed.
    n : int
        Number of points, 1 to the test-set size.
    seed : int, default 0
        Seed of the choice. The same dataset, ``n`` and ``seed`` give the same indices in the
        same order, whatever else the process has done.

    Returns
    -------
    torch.Tensor
        int64 ``[n]`` indices into ``dataset.x_test``. For classification the choice is
        stratified: classes are visited round-robin, each in its own seeded random order,
        so per-class counts differ by at most one (a class with too few test points gives
        all it has and the others make up the difference). The indices are in draw order,
        so the subset for ``m < n`` is the first ``m`` entries of the subset for ``n``.

    Raises
    ------
    ValueError
        ``n`` is not an integer in [1, test-set size], or ``seed`` is negative.
    """
    import torch

    n = _as_int(n, "n")
    seed = _as_int(seed, "seed")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    size = len(dataset.x_test)
    if not 1 <= n <= size:
        raise ValueError(f"n must be between 1 and the test-set size {size} of {dataset.name!r}, got n={n}")
    # a private generator: the choice must not depend on, or disturb, the global RNG state
    gen = torch.Generator().manual_seed(seed)
    if dataset.task != "classification":
        return torch.randperm(size, generator=gen)[:n]
    labels = dataset.y_test
    classes = torch.unique(labels)
    # a seeded class order, so which classes receive the remainder is not biased to low labels
    classes = classes[torch.randperm(len(classes), generator=gen)]
    per_class = []
    for c in classes:
        idx = torch.nonzero(labels == c).flatten()
        per_class.append(idx[torch.randperm(len(idx), generator=gen)])
    # column k of this table holds each class's k-th pick; reading it column by column is the
    # round-robin, which keeps class counts within one of each other until a class runs out
    depth = max(len(idx) for idx in per_class)
    table = torch.full((len(per_class), depth), -1, dtype=torch.int64)
    for row, idx in enumerate(per_class):
        table[row, : len(idx)] = idx
    order = table.t().flatten()
    return order[order >= 0][:n].clone()


def _as_int(value, param: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{param} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{param} must be an integer, got {value!r}") from None


def _split(name, x, y, task, num_classes, test_fraction, seed) -> Dataset:
    import torch
    from sklearn.model_selection import train_test_split

    n = len(x)
    # sklearn's own rounding of a fractional test_size
    n_test = math.ceil(test_fraction * n)
    need = num_classes if task == "classification" else 1
    if n_test < need or n - n_test < need:
        raise ValueError(
            f"test_fraction={test_fraction} splits the {n} points of {name!r} into {n - n_test} training and "
            f"{n_test} test points; each side needs at least {need}. Change test_fraction or n_samples."
        )
    stratify = y if task == "classification" else None
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=stratify)
    label_dtype = torch.int64 if task == "classification" else torch.float32
    return Dataset(
        name=name,
        x_train=torch.as_tensor(np.ascontiguousarray(x_tr, dtype=np.float32)),
        y_train=torch.as_tensor(np.ascontiguousarray(y_tr)).to(label_dtype),
        x_test=torch.as_tensor(np.ascontiguousarray(x_te, dtype=np.float32)),
        y_test=torch.as_tensor(np.ascontiguousarray(y_te)).to(label_dtype),
        task=task,
        num_classes=num_classes,
    )


def _stratified_subsample(labels: np.ndarray, n: int, seed: int, what: str) -> np.ndarray:
    """Sorted indices of ``n`` of ``labels``, each class kept in proportion (largest remainders)."""
    total = len(labels)
    if n > total:
        raise ValueError(f"n_samples={n} exceeds the {total} points of {what}")
    if n == total:
        return np.arange(total)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * n / total
    take = np.floor(quota).astype(np.int64)
    # the places left by rounding down go to the classes that lost the most
    extra = np.argsort(-(quota - take), kind="stable")[: n - take.sum()]
    take[extra] += 1
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)]
    return np.sort(np.concatenate(chosen))


def _replace_train(data: Dataset, keep: np.ndarray) -> Dataset:
    import torch

    keep = torch.as_tensor(keep, dtype=torch.int64)
    return Dataset(
        name=data.name,
        x_train=data.x_train[keep].contiguous(),
        y_train=data.y_train[keep].contiguous(),
        x_test=data.x_test,
        y_test=data.y_test,
        task=data.task,
        num_classes=data.num_classes,
    )


def lattice_dataset(name: str, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Points and labels of a lattice data set (``disks9``, ``rings9``, ``spheres9``).

    ``n_points`` square (cubic) lattice points in the unit disk (ball), labelled 1 inside the
    nine figures and 0 elsewhere. A data set of fewer points is the same geometry on a coarser
    lattice: the activation-landscapes paper's input batch, "a sublattice of 28.52 % of the
    original data", is ``lattice_dataset(name, round(0.2852 * 14235))`` here (a coarser lattice,
    not a subset of the finer one's points).

    - ``disks9``: see :func:`_disks9`.
    - ``rings9``: annuli of radii 0.07-0.15 around the nine centres of ``disks9`` (2-D): the
      "rings" data of Naitzat, Zhitnikov and Lim in our own dimensions, since the activation
      landscapes paper gives none; class 1 has nine components and nine holes.
    - ``spheres9``: nine balls of radius 0.17 in the unit ball (3-D), one at the centre and eight
      at (+-0.45, +-0.45, +-0.45): the complement (class 0) encloses nine voids (H2).
    """
    if name not in LATTICE_DATASETS:
        raise ValueError(f"{name!r} is not a lattice data set; those are {', '.join(LATTICE_DATASETS)}")
    if name == "disks9":
        return _disks9(n_points)
    points = _lattice_ball(n_points, 2 if name == "rings9" else 3)
    if name == "rings9":
        inner, outer = _RINGS9_RADII
        label = np.zeros(len(points), dtype=bool)
        for cx, cy in _DISKS9_CENTRES:
            r2 = (points[:, 0] - cx) ** 2 + (points[:, 1] - cy) ** 2
            label |= (r2 >= inner**2) & (r2 <= outer**2)
    else:
        label = np.zeros(len(points), dtype=bool)
        for centre in _SPHERES9_CENTRES:
            label |= np.sum((points - np.array(centre)) ** 2, axis=1) <= _SPHERES9_RADIUS**2
    return points, label.astype(np.int64)


def _lattice_ball(n_points: int, dims: int) -> np.ndarray:
    """Exactly ``n_points`` points of a shifted square (cubic) lattice in the unit disk (ball).

    The lattice is shifted off the centre by irrational fractions of a step, so no two points are
    equally far from it and any count can be met; its spacing is chosen to hold ``n_points``."""
    shift = _DISKS9_SHIFT if dims == 2 else _LATTICE_SHIFT_3D
    # a cube of half-width m steps holds the inscribed ball of radius m - 1, with more than n points
    volume = math.pi if dims == 2 else 4.0 * math.pi / 3.0
    m = math.ceil((n_points / volume) ** (1.0 / dims)) + 3
    steps = np.arange(-m, m + 1, dtype=np.float64)
    grids = np.meshgrid(*(steps + shift[d] for d in range(dims)))  # 2-D: row-major, y outer, x inner
    coords = [g.ravel() for g in grids]
    dist2 = sum(c * c for c in coords)  # squared distance to the centre, in lattice steps
    ranked = np.sort(dist2)
    # the boundary falls midway between the n-th and (n+1)-th nearest points, far from both
    radius2 = 0.5 * (ranked[n_points - 1] + ranked[n_points])
    inside = dist2 < radius2
    return np.stack([c[inside] for c in coords], axis=1) / math.sqrt(radius2)


def _disks9(n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """The nine-disks data set: ``n_points`` square-lattice points in a disk, labelled by region.

    From the activation-landscapes paper (Sec. IV-A): "Following [30], we constructed synthetic
    data composed of two categories. The first category C1 consists of 9 disks while the second
    C2 is the complement of the first category within a larger disk. We used an evenly spaced
    square lattice on the plane to sample points from each category with a combined total of
    14,235 points." That fixes the structure and the default count, 14,235; the paper gives no
    spacing, radii or centres.

    Radii and centres are taken from data set D-I of [30] (Naitzat, Zhitnikov and Lim,
    "Topology of deep neural networks"), as generated by their published code
    (``topnn_framework``, ``transformers/raw_circles_generator.py``): nine disks of radius 1.3,
    one at the origin and eight centred at angles 2*pi*k/8 on a circle of radius 7, in a
    [-10, 10]^2 window. Our choices: that geometry scaled by 1/10, with the window's inscribed
    disk as the larger disk (radius 1 around the origin; small disks of radius 0.13 whose
    centres lie at the origin and at radius 0.7); no empty margin around the small disks (the
    D-I code drops a band 0.05 wide after scaling, but the paper calls C2 the complement of C1);
    the lattice shifted off the origin by (sqrt(2) - 1, sqrt(5) - 2) spacings, and its spacing
    chosen so that exactly ``n_points`` lattice points lie in the larger disk (about
    sqrt(pi / n_points), 0.01485 for the default). Label 1 inside a small disk (boundary
    included), 0 elsewhere in the larger disk (about 15% of points are labelled 1).
    """
    points = _lattice_ball(n_points, 2) * _DISKS9_OUTER_RADIUS
    in_small = np.zeros(len(points), dtype=bool)
    for cx, cy in _DISKS9_CENTRES:
        in_small |= (points[:, 0] - cx) ** 2 + (points[:, 1] - cy) ** 2 <= _DISKS9_RADIUS**2
    return points, in_small.astype(np.int64)


def _load_torchvision(name: str, root: str, download: bool) -> Dataset:
    cls_name, folder, _, _ = _TORCHVISION[name]
    import torchvision

    cls = getattr(torchvision.datasets, cls_name)
    # torchvision expands "~" itself; the message must name the folder it really searched
    searched = os.path.abspath(os.path.expanduser(root))
    splits = []
    for train in (True, False):
        try:
            raw = cls(root=root, train=train, download=download)
        # not found, a failed checksum or download (RuntimeError, OSError); files that are there
        # but truncated or corrupt (torchvision's readers then fail with ValueError or EOFError)
        except (RuntimeError, OSError, ValueError, EOFError) as error:
            how = (
                "the download failed (it needs network access)"
                if download
                else "downloading is off (data.download: false)"
            )
            raise DataUnavailableError(
                f"dataset {name!r} (torchvision {cls_name}) is not available, or not readable, under {searched} "
                f"(looked for {os.path.join(searched, folder)}) and {how}. Either set `data.download: true` "
                f"in the config (needs network access) or place the torchvision {cls_name} files under "
                f"{searched}. torchvision said: {error}"
            ) from error
        splits += [np.asarray(raw.data), np.asarray(raw.targets)]
    return _from_pixels(name, *splits)


def _from_pixels(name: str, train_pixels, train_labels, test_pixels, test_labels) -> Dataset:
    """A torchvision-style dataset's split as tensors: uint8 ``[N, H, W]`` or ``[N, H, W, C]``
    pixels scaled to [0, 1] and standardised per channel, ``[N, C, H, W]``; int64 labels."""
    import torch

    _, _, mean, std = _TORCHVISION[name]
    mean = torch.tensor(mean, dtype=torch.float32)[:, None, None]
    std = torch.tensor(std, dtype=torch.float32)[:, None, None]
    tensors = []
    for pixels, labels in ((train_pixels, train_labels), (test_pixels, test_labels)):
        # converting the stored uint8 array at once is far faster than decoding PIL images one by one
        x = torch.as_tensor(np.asarray(pixels)).to(torch.float32).div_(255.0)
        x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)  # [N,H,W] or [N,H,W,C] -> [N,C,H,W]
        tensors += [((x - mean) / std).contiguous(), torch.as_tensor(np.asarray(labels), dtype=torch.int64)]
    return Dataset(name, *tensors, "classification", 10)


def stand_in_pixels(name: str, n: int, *, test: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Seeded synthetic stand-in images of a torchvision dataset, in its stored format.

    What a rehearsal trains on when the real files are absent: ``n`` uint8 images of the real
    shape (``[n, 28, 28]`` for MNIST and Fashion-MNIST, ``[n, 32, 32, 3]`` for CIFAR-10) with
    int64 labels 0-9, which :func:`load_dataset` scales and standardises exactly as it does the
    real pixels. Each class is a fixed smooth random pattern (thresholded into strokes on a black
    background for the MNIST-like sets, a coloured texture for CIFAR-10); an image is its class's
    pattern at a random contrast, shifted by up to 2 pixels, plus smooth and pixel noise, so the
    classes are learnable but not trivially (a network must cope with the shift). Hand-made
    because no library ships such data offline; its pixel statistics are near the real ones (the
    normalised stand-in has mean within about 0.5 and standard deviation within about 2x of 0/1).

    Parameters
    ----------
    name : {"mnist", "fashion_mnist", "cifar10"}
    n : int
        Number of images (>= 10: one of each class at least).
    test : bool, default False
        The test split: other images (another seed) of the same class patterns.

    Returns
    -------
    pixels : numpy.ndarray
        uint8 ``[n, H, W]`` or ``[n, H, W, C]``.
    labels : numpy.ndarray
        int64 ``[n]``: classes in a seeded order, each ``n // 10`` or ``n // 10 + 1`` times.
    """
    if name not in TORCHVISION_SIZES:
        raise ValueError(f"no stand-in for {name!r}: stand-ins replace {', '.join(TORCHVISION_SIZES)}")
    n = _as_int(n, "n")
    if n < 10:
        raise ValueError(f"a stand-in needs at least 10 images (one per class), got n={n}")
    shape = TORCHVISION_SIZES[name][0]
    height, width = shape[:2]
    channels = shape[2] if len(shape) == 3 else 1
    colour = channels > 1
    # the class patterns depend on the name only, so the train and test splits share them
    patterns = _smooth_fields(np.random.default_rng(_STAND_IN_SEED[name]), 10, height, width, channels, 4)
    if colour:
        patterns = 128.0 + 25.0 * patterns
    else:
        # strokes: the top ~20 % of a smooth field, bright on black, as handwritten digits are
        patterns = np.clip(patterns - 0.85, 0.0, None) * 400.0
    rng = np.random.default_rng([_STAND_IN_SEED[name], 1 if test else 0])
    labels = rng.permutation(np.arange(n) % 10).astype(np.int64)
    pixels = np.empty((n, height, width, channels), dtype=np.uint8)
    chunk = 4096  # bounded temporaries: float32 chunks of at most ~50 MB
    for start in range(0, n, chunk):
        y = labels[start : start + chunk]
        m = len(y)
        contrast = rng.uniform(0.7, 1.3, size=(m, 1, 1, 1)).astype(np.float32)
        images = patterns[y] * contrast
        shifts = rng.integers(-2, 3, size=(m, 2))
        for (dy, dx) in np.unique(shifts, axis=0):
            same = np.all(shifts == (dy, dx), axis=1)
            images[same] = np.roll(images[same], (dy, dx), axis=(1, 2))
        # noise of the same smoothness as the patterns, as strong as they are: a linear model
        # on the pixels no longer separates the classes perfectly
        images += _NOISE[colour] * _smooth_fields(rng, m, height, width, channels, 4)
        images += rng.normal(0.0, 12.0, size=images.shape).astype(np.float32)
        pixels[start : start + m] = np.clip(images, 0.0, 255.0).round().astype(np.uint8)
    return (pixels if colour else pixels[..., 0]), labels


def _smooth_fields(rng, count: int, height: int, width: int, channels: int, cell: int) -> np.ndarray:
    """``count`` smooth random fields ``[count, H, W, C]`` (float32, about unit variance): normal
    values on a coarse grid of ``cell``-pixel cells, bilinearly interpolated."""
    coarse = rng.standard_normal((count, height // cell + 2, width // cell + 2, channels)).astype(np.float32)
    # bilinear interpolation as two 1-D passes: fractional positions of the pixels on the coarse grid
    out = coarse
    for axis, size in ((1, height), (2, width)):
        position = (np.arange(size, dtype=np.float32) + 0.5) / cell + 0.5
        low = np.floor(position).astype(np.int64)
        frac = (position - low).reshape([-1 if a == axis else 1 for a in range(4)])
        out = np.take(out, low, axis=axis) * (1.0 - frac) + np.take(out, low + 1, axis=axis) * frac
    return out


def prepare_dataset(
    dataset_marker: str | os.PathLike,
    *,
    dataset: str,
    stand_in: Mapping | None,
    data_root: str = "data",
    download_datasets: bool = False,
) -> dict:
    """The ``prepare_datasets`` step: put one torchvision dataset under ``data_root`` before any
    training, and record what is there.

    Runs once per dataset, on the host running Snakemake (which has network access where compute
    nodes may not), so that training jobs never download, nor race each other doing so.
    torchvision downloads what is absent (with ``download_datasets``) and verifies its checksums;
    both splits are then loaded once, as a training job would load them. For a stand-in the
    stand-in is made and checked instead, and nothing is read or downloaded.

    Parameters
    ----------
    dataset_marker : path
        JSON file written last: the dataset, its folder (or the stand-in's sizes), the split sizes.
    dataset : {"mnist", "fashion_mnist", "cifar10"}
    stand_in : mapping or None
        The sweeps' ``dataset_options.stand_in`` (None: the real files).
    data_root : str
        Where the datasets live (``data.root``).
    download_datasets : bool
        Let torchvision download an absent dataset (``data.download``).
    """
    from .store import write_json

    if dataset not in _TORCHVISION:
        raise ValueError(f"{dataset!r} is not a torchvision dataset ({', '.join(_TORCHVISION)}): nothing to prepare")
    if stand_in is not None:
        data = load_dataset(dataset, stand_in=stand_in)
        source = {"stand_in": dict(stand_in)}
    else:
        data = _load_torchvision(dataset, os.fspath(data_root), download_datasets)
        source = {"folder": os.path.join(os.path.abspath(os.path.expanduser(os.fspath(data_root))), _TORCHVISION[dataset][1])}
    record = {"dataset": dataset, **source, "train": len(data.x_train), "test": len(data.x_test), "input_shape": list(data.input_shape)}
    write_json(record, dataset_marker)
    return record


def missing_torchvision_files(name: str, root: str | os.PathLike) -> list[str]:
    """The files torchvision needs for dataset ``name`` that are absent under ``root`` (an empty
    list for a dataset that is there, or an embedded one). Existence only: torchvision checks
    CIFAR-10's checksums when it loads."""
    if name not in _TORCHVISION:
        return []
    folder = os.path.join(os.path.abspath(os.path.expanduser(os.fspath(root))), _TORCHVISION[name][1])
    return [os.path.join(folder, f) for f in _TORCHVISION_FILES[name] if not os.path.isfile(os.path.join(folder, f))]


# scikit-learn's digits, for training_set_size (a known number, so that no file is read)
_DIGITS_POINTS = 1797


def training_set_size(name: str, dataset_options: Mapping | None = None) -> int:
    """How many training examples :func:`load_dataset` gives, from the arguments alone.

    No data is read and torch is not imported: a config check computes a sweep's recorded
    schedule (its steps per epoch) from it each time Snakemake starts.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    dataset_options : mapping, optional
        A sweep's ``dataset_options`` (None values are the defaults, as for the loader).

    Returns
    -------
    int
        ``n_samples`` where it subsamples a training set (digits, torchvision), else the whole
        training set: 60,000 (MNIST, Fashion-MNIST), 50,000 (CIFAR-10), a stand-in's ``train``
        count when ``stand_in`` gives one; for the generated sets and digits, the points left
        after the seeded split holds out ``ceil(test_fraction * n)`` of the ``n`` points.

    Raises
    ------
    ValueError
        An unknown ``name``, or ``n_samples`` larger than the training set it subsamples.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset name {name!r}; known datasets: {', '.join(DATASETS)}")
    options = {k: v for k, v in (dataset_options or {}).items() if v is not None}
    n_samples = options.get("n_samples")
    if name in TORCHVISION_SIZES:
        whole = (options.get("stand_in") or {}).get("train") or TORCHVISION_SIZES[name][1]
    else:
        points = _DIGITS_POINTS if name == "digits" else n_samples or (_DISKS9_POINTS if name in LATTICE_DATASETS else _DEFAULT_SAMPLES)
        # the same rounding as _split (sklearn's of a fractional test_size)
        whole = points - math.ceil(float(options.get("test_fraction", 0.2)) * points)
        if name != "digits":
            return whole
    if n_samples is not None and n_samples > whole:
        raise ValueError(f"n_samples={n_samples} exceeds the {whole} training points of {name!r}")
    return n_samples if n_samples is not None else whole


# input shape of one example and outputs (classes, or 1 for a regression), as load_dataset gives them
_INPUT_SHAPES = {
    "digits": (1, 8, 8), "moons": (2,), "circles": (2,), "disks9": (2,), "rings9": (2,), "spheres9": (3,),
    "regression2d": (2,), "mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32),
}


def dataset_geometry(name: str, dataset_options: Mapping | None = None) -> dict:
    """The shapes :func:`load_dataset` gives, from the arguments alone (no data read, no torch):
    what the cost of training on it scales with.

    Returns
    -------
    dict
        ``input_shape`` (one example), ``outputs`` (classes; 1 for a regression), ``train`` and
        ``test`` (example counts; :func:`training_set_size` for the training set).
    """
    train = training_set_size(name, dataset_options)
    options = {k: v for k, v in (dataset_options or {}).items() if v is not None}
    if name in TORCHVISION_SIZES:
        test = (options.get("stand_in") or {}).get("test") or TORCHVISION_SIZES[name][2]
    else:
        points = _DIGITS_POINTS if name == "digits" else options.get("n_samples") or (
            _DISKS9_POINTS if name in LATTICE_DATASETS else _DEFAULT_SAMPLES
        )
        test = math.ceil(float(options.get("test_fraction", 0.2)) * points)
    outputs = 1 if DATASET_TASKS[name] == "regression" else (10 if name in ("digits", *TORCHVISION_SIZES) else 2)
    return {"input_shape": _INPUT_SHAPES[name], "outputs": outputs, "train": train, "test": test}
