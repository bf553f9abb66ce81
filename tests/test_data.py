"""Datasets: shapes, dtypes and ranges; bit-reproducibility; the disks9 geometry; the
regression target; the registered evaluation subset; the missing-torchvision-data message."""

import math
import os

import numpy as np
import pytest
import torch

from pipeline.data import DATASETS, Dataset, DataUnavailableError, evaluation_subset, load_dataset

# The geometry documented in pipeline.data (D-I of Naitzat et al. scaled by 1/10), restated here
# so that the test checks the data against the documentation rather than against itself.
RING, RADIUS = 0.7, 0.13
CENTRES = [(0.0, 0.0)] + [(RING * math.cos(math.pi * k / 4), RING * math.sin(math.pi * k / 4)) for k in range(8)]


def _all_points(data: Dataset):
    return torch.cat([data.x_train, data.x_test]), torch.cat([data.y_train, data.y_test])


def _assert_same(a: Dataset, b: Dataset):
    for field in ("x_train", "y_train", "x_test", "y_test"):
        ta, tb = getattr(a, field), getattr(b, field)
        assert ta.dtype == tb.dtype and ta.shape == tb.shape and torch.equal(ta, tb), field


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def disks9():
    return load_dataset("disks9")


def test_digits_shapes_dtypes_ranges(digits):
    assert digits.x_train.shape == (1437, 1, 8, 8) and digits.x_test.shape == (360, 1, 8, 8)
    assert digits.x_train.dtype == torch.float32 and digits.y_train.dtype == torch.int64
    assert digits.input_shape == (1, 8, 8) and digits.num_outputs == 10 and digits.task == "classification"
    x = torch.cat([digits.x_train, digits.x_test])
    assert x.min() == 0.0 and x.max() == 1.0  # raw pixels 0..16 divided by 16
    # every pixel is a multiple of 1/16, i.e. the raw values were not otherwise transformed
    assert torch.equal(x * 16, (x * 16).round())
    # stratified split: each class's share of the test set matches its share overall
    y = torch.cat([digits.y_train, digits.y_test])
    assert sorted(y.unique().tolist()) == list(range(10))
    assert (torch.bincount(digits.y_test, minlength=10) - torch.bincount(y) * 0.2).abs().max() <= 1


def test_digits_n_samples_subsamples_training_set_only(digits):
    small = load_dataset("digits", n_samples=300)
    assert small.x_train.shape[0] == 300
    assert torch.equal(small.x_test, digits.x_test)  # the test set stays whole
    counts = torch.bincount(small.y_train, minlength=10)
    assert counts.min() >= 29 and counts.max() <= 31  # stratified, not merely random


@pytest.mark.parametrize("name", ["digits", "moons", "circles", "disks9", "regression2d"])
def test_same_arguments_give_bit_identical_tensors(name):
    _assert_same(load_dataset(name, seed=3, n_samples=600), load_dataset(name, seed=3, n_samples=600))


def test_different_seeds_give_different_splits(digits):
    other = load_dataset("digits", seed=1)
    assert other.x_test.shape == digits.x_test.shape
    assert not torch.equal(other.x_test, digits.x_test)
    # same points overall, only distributed differently (sums of sixteenths are exact in float32)
    a, b = _all_points(digits)[0], _all_points(other)[0]
    assert torch.equal(a.flatten(1).sum(0), b.flatten(1).sum(0))


def test_generated_data_follow_their_parameters():
    moons = load_dataset("moons", n_samples=500, test_fraction=0.3)
    assert moons.x_train.shape == (350, 2) and moons.x_test.shape == (150, 2) and moons.num_classes == 2
    circles = load_dataset("circles", noise=0.0)
    x, y = _all_points(circles)
    radii = x.norm(dim=1)
    # noiseless circles: class 0 on the unit circle, class 1 on the circle of radius 0.5 (factor)
    assert torch.allclose(radii[y == 0], torch.ones(1), atol=1e-6)
    assert torch.allclose(radii[y == 1], torch.full((1,), 0.5), atol=1e-6)


def test_disks9_has_the_papers_count_and_geometry(disks9):
    x, y = _all_points(disks9)
    assert len(x) == 14235  # "a combined total of 14,235 points"
    assert disks9.num_classes == 2 and set(y.tolist()) == {0, 1}
    assert len(disks9.x_test) == round(0.2 * 14235)
    # every point lies in the larger (unit) disk, and the lattice fills it out to the boundary
    radius = x.double().norm(dim=1)
    assert radius.max() <= 1.0 + 1e-6 and radius.max() > 0.98
    # evenly spaced square lattice: the distinct x coordinates are equally spaced
    xs = torch.unique(x[:, 0].double())
    steps = xs.diff()
    assert torch.allclose(steps, steps.mean().expand_as(steps), rtol=1e-4)
    # label 1 exactly inside one of the nine disks (float32 rounding blurs only a thin band)
    x64 = x.double()
    d2 = torch.stack([(x64[:, 0] - cx) ** 2 + (x64[:, 1] - cy) ** 2 for cx, cy in CENTRES]).min(0).values
    clearly_in, clearly_out = d2 < RADIUS**2 - 1e-6, d2 > RADIUS**2 + 1e-6
    assert (y[clearly_in] == 1).all() and (y[clearly_out] == 0).all()
    assert (~clearly_in & ~clearly_out).sum() <= 3
    # the lattice point nearest each disk centre is labelled 1 ...
    for cx, cy in CENTRES:
        assert y[((x - torch.tensor([cx, cy])) ** 2).sum(1).argmin()] == 1
    # ... and points between the disks (centre-ring gap, between ring disks, beyond the ring) are 0
    for px, py in [(0.35, 0.0), (RING * math.cos(math.pi / 8), RING * math.sin(math.pi / 8)), (0.0, -0.92)]:
        assert y[((x - torch.tensor([px, py])) ** 2).sum(1).argmin()] == 0
    # about nine small disks' share of the big one: 9 * 0.13**2 = 0.152
    assert abs(y.float().mean().item() - 9 * RADIUS**2) < 0.005


def test_disks9_n_samples_sets_the_lattice_size(disks9):
    coarse = load_dataset("disks9", n_samples=2000)
    x, y = _all_points(coarse)
    assert len(x) == 2000 and set(y.tolist()) == {0, 1}
    step = torch.unique(x[:, 0]).diff().mean()
    fine_step = torch.unique(disks9.x_train[:, 0]).diff().mean()
    assert step > 2.5 * fine_step  # sqrt(14235 / 2000) = 2.67 times coarser


def test_regression_target_is_the_formula():
    data = load_dataset("regression2d", seed=5)
    assert data.task == "regression" and data.num_classes is None and data.num_outputs == 1
    assert data.y_train.dtype == torch.float32 and data.y_train.shape == (800,)
    x, y = _all_points(data)
    assert x.min() >= -1 and x.max() <= 1 and x.min() < -0.99 and x.max() > 0.99
    x64 = x.double()
    expected = torch.sin(math.pi * x64[:, 0]) * torch.cos(math.pi * x64[:, 1])
    assert torch.equal(y, expected.float())
    noisy = load_dataset("regression2d", seed=5, noise=0.1)
    assert torch.equal(noisy.x_train, data.x_train)  # noise is on the target only
    residual = (noisy.y_train - data.y_train).double()
    assert 0.08 < residual.std().item() < 0.12


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"name": "imagenet"}, "known datasets: digits"),
        ({"name": "moons", "test_fraction": 1.0}, "test_fraction"),
        ({"name": "moons", "test_fraction": 0.0}, "test_fraction"),
        ({"name": "moons", "noise": -0.1}, "noise"),
        ({"name": "digits", "noise": 0.1}, "noise"),
        ({"name": "moons", "n_samples": 5}, "n_samples"),
        ({"name": "digits", "n_samples": 5000}, "n_samples"),
        ({"name": "moons", "seed": -1}, "seed"),
    ],
)
def test_bad_parameters_are_named(kwargs, word):
    kwargs = dict(kwargs)
    with pytest.raises(ValueError, match=word):
        load_dataset(kwargs.pop("name"), **kwargs)


def test_evaluation_subset_is_deterministic_distinct_and_stratified(digits):
    idx = evaluation_subset(digits, 95, seed=2)
    assert idx.dtype == torch.int64 and idx.shape == (95,)
    assert torch.equal(idx, evaluation_subset(digits, 95, seed=2))
    torch.manual_seed(123)  # the global RNG state must not matter
    assert torch.equal(idx, evaluation_subset(digits, 95, seed=2))
    assert not torch.equal(idx, evaluation_subset(digits, 95, seed=3))
    assert len(idx.unique()) == 95 and idx.min() >= 0 and idx.max() < len(digits.x_test)
    counts = torch.bincount(digits.y_test[idx], minlength=10)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 95
    # nested: a smaller subset is the start of a larger one
    assert torch.equal(evaluation_subset(digits, 40, seed=2), idx[:40])


def test_evaluation_subset_when_a_class_runs_short(disks9):
    # about 15% of disks9 is class 1: beyond 2 * (its count) points it cannot keep up, gives
    # all it has, and class 0 makes up the rest
    n_ones = int(disks9.y_test.sum())
    idx = evaluation_subset(disks9, 2 * n_ones + 100)
    counts = torch.bincount(disks9.y_test[idx], minlength=2)
    assert counts.tolist() == [n_ones + 100, n_ones]
    small = evaluation_subset(disks9, 21)
    assert sorted(torch.bincount(disks9.y_test[small], minlength=2).tolist()) == [10, 11]


def test_evaluation_subset_regression_and_size_limit(digits):
    data = load_dataset("regression2d")
    idx = evaluation_subset(data, 200)
    assert torch.equal(idx.sort().values, torch.arange(200))  # the whole test set, permuted
    with pytest.raises(ValueError, match="n=361") as info:
        evaluation_subset(digits, 361)
    assert "test-set size 360" in str(info.value)
    with pytest.raises(ValueError, match="n must be"):
        evaluation_subset(digits, 0)


def test_missing_torchvision_data_raises_a_helpful_error(tmp_path):
    root = tmp_path / "no-data-here"
    with pytest.raises(DataUnavailableError) as info:
        load_dataset("mnist", root=str(root), download=False)
    message = str(info.value)
    assert os.path.abspath(root) in message
    assert "data.download: true" in message and "mnist" in message
    assert isinstance(info.value, RuntimeError)
    assert not root.exists() or not any(root.rglob("*.gz"))  # nothing was downloaded


def _write_idx(path, array):
    """An uncompressed idx (ubyte) file as torchvision's MNIST reader expects it."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype("uint8").tobytes())


def test_mnist_files_become_normalised_tensors(tmp_path):
    # a 40 + 10 image stand-in for MNIST in torchvision's layout, to test the conversion offline
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    gen = torch.Generator().manual_seed(0)
    images = {split: torch.randint(0, 256, (n, 28, 28), generator=gen) for split, n in (("train", 40), ("t10k", 10))}
    labels = {"train": torch.arange(40) % 10, "t10k": torch.arange(10)}
    for split in ("train", "t10k"):
        _write_idx(raw / f"{split}-images-idx3-ubyte", images[split].numpy())
        _write_idx(raw / f"{split}-labels-idx1-ubyte", labels[split].numpy())
    data = load_dataset("mnist", root=str(tmp_path))
    assert data.x_train.shape == (40, 1, 28, 28) and data.x_test.shape == (10, 1, 28, 28)
    assert data.x_train.dtype == torch.float32 and data.y_train.dtype == torch.int64 and data.num_classes == 10
    expected = (images["train"].float() / 255 - 0.1307) / 0.3081
    torch.testing.assert_close(data.x_train[:, 0], expected, rtol=0, atol=1e-6)
    assert torch.equal(data.y_train, labels["train"]) and torch.equal(data.y_test, labels["t10k"])
    small = load_dataset("mnist", root=str(tmp_path), n_samples=20, seed=4)
    assert torch.equal(torch.bincount(small.y_train), torch.full((10,), 2))  # stratified: 2 per class
    assert torch.equal(small.x_test, data.x_test)
    _assert_same(small, load_dataset("mnist", root=str(tmp_path), n_samples=20, seed=4))


def test_dataset_properties_follow_the_tensors():
    x = torch.zeros(4, 3, 5, 7)
    image = Dataset("toy", x, torch.zeros(4, dtype=torch.int64), x, torch.zeros(4, dtype=torch.int64), "classification", 6)
    assert image.input_shape == (3, 5, 7) and image.num_outputs == 6
    vector = Dataset("toy", torch.zeros(4, 2), torch.zeros(4), torch.zeros(4, 2), torch.zeros(4), "regression", None)
    assert vector.input_shape == (2,) and vector.num_outputs == 1
    with pytest.raises(Exception):
        vector.name = "changed"  # frozen


def test_the_schema_offers_exactly_the_datasets_that_load():
    from pipeline.config import load_schema

    schema = load_schema()["definitions"]["sweep"]["properties"]["dataset"]
    assert schema["enum"] == list(DATASETS)


@pytest.mark.parametrize("name, shape", [("mnist", (1, 28, 28)), ("fashion_mnist", (1, 28, 28)), ("cifar10", (3, 32, 32))])
def test_stand_ins_have_the_real_shape_classes_and_normalisation(name, shape):
    from pipeline.data import TORCHVISION_SIZES, stand_in_pixels

    data = load_dataset(name, stand_in={"train": 600, "test": 200})
    assert data.x_train.shape == (600, *shape) and data.x_test.shape == (200, *shape)
    assert data.num_classes == 10 and data.y_train.dtype == torch.int64
    assert torch.equal(torch.bincount(data.y_train), torch.full((10,), 60))
    # standardised with the real statistics, on stand-in pixels of similar brightness
    assert abs(float(data.x_train.mean())) < 0.5 and 0.5 < float(data.x_train.std()) < 2.0
    _assert_same(data, load_dataset(name, stand_in={"train": 600, "test": 200}))
    pixels, labels = stand_in_pixels(name, 50)
    assert pixels.dtype == np.uint8 and pixels.shape == (50, *TORCHVISION_SIZES[name][0])
    test_pixels, _ = stand_in_pixels(name, 50, test=True)
    assert not np.array_equal(pixels, test_pixels)  # the test split holds other images
    # a training subsample of a stand-in works as on the real data: stratified, test set whole
    small = load_dataset(name, stand_in={"train": 600, "test": 200}, n_samples=100, seed=3)
    assert torch.equal(torch.bincount(small.y_train), torch.full((10,), 10)) and torch.equal(small.x_test, data.x_test)


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_stand_ins_are_learnable_but_not_trivially(name):
    from sklearn.linear_model import LogisticRegression

    data = load_dataset(name, stand_in={"train": 2000, "test": 1000})
    model = LogisticRegression(max_iter=200).fit(data.x_train.flatten(1).numpy(), data.y_train.numpy())
    accuracy = model.score(data.x_test.flatten(1).numpy(), data.y_test.numpy())
    # far above chance (0.1) on held-out images, yet not linearly separable: training has work to do
    assert 0.5 < accuracy < 0.99, accuracy


def test_the_mnist_stand_in_loads_through_torchvision_from_files_in_the_real_format(tmp_path):
    # MNIST's idx files carry no checksum that torchvision verifies on load, so files written from
    # the stand-in go through torchvision's own reader. CIFAR-10 cannot be tested this way offline:
    # torchvision checks each of its files against the real data's MD5 before reading it.
    from pipeline.data import missing_torchvision_files, stand_in_pixels

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    assert len(missing_torchvision_files("mnist", tmp_path)) == 4
    for split, n, test in (("train", 300, False), ("t10k", 100, True)):
        pixels, labels = stand_in_pixels("mnist", n, test=test)
        _write_idx(raw / f"{split}-images-idx3-ubyte", pixels)
        _write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    assert missing_torchvision_files("mnist", tmp_path) == []
    _assert_same(load_dataset("mnist", root=str(tmp_path)), load_dataset("mnist", stand_in={"train": 300, "test": 100}))


def test_missing_files_are_named_with_their_paths(tmp_path):
    from pipeline.data import missing_torchvision_files

    missing = missing_torchvision_files("cifar10", tmp_path)
    assert os.path.join(str(tmp_path), "cifar-10-batches-py", "data_batch_1") in missing and len(missing) == 7
    assert missing_torchvision_files("digits", tmp_path) == []


def test_data_stand_in_marks_every_torchvision_sweep_and_no_other():
    from pipeline.config import validate_config

    sweeps = {
        "real": {"dataset": "cifar10", "architecture": {"name": "cnn"}},
        "embedded": {"dataset": "digits", "architecture": {"name": "mlp"}},
    }
    config = validate_config({"data": {"stand_in": True, "stand_in_sizes": {"train": 100}}, "sweeps": sweeps})
    assert config["sweeps"]["real"]["dataset_options"]["stand_in"] == {"train": 100, "test": None}
    assert config["sweeps"]["embedded"]["dataset_options"]["stand_in"] is None
    assert validate_config({"sweeps": sweeps})["sweeps"]["real"]["dataset_options"]["stand_in"] is None
