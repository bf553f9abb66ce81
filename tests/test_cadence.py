"""The snapshot cadence (pipeline.cadence, TrainingSettings.snapshot_steps): the examples form
records at the same examples seen at every batch size, the existing forms keep their meaning,
and the training-set size a config check uses equals the loader's."""

from fractions import Fraction

import pytest

from pipeline import cadence
from pipeline.config import ConfigError, validate_config
from pipeline.data import load_dataset, training_set_size
from pipeline.train import TrainingSettings


def test_the_examples_cadence_records_at_the_same_examples_at_two_batch_sizes():
    # MNIST-sized: both batch sizes divide the training set, as in the paper config's compare run
    small = TrainingSettings(epochs=70, batch_size=50, snapshot_every={"examples": 21000})
    large = TrainingSettings(epochs=70, batch_size=100, snapshot_every={"examples": 21000})
    steps_small, steps_large = small.snapshot_steps(60000), large.snapshot_steps(60000)
    assert len(steps_small) == len(steps_large) == 201
    assert steps_small[:3] == [0, 420, 840] and steps_large[:3] == [0, 210, 420]
    assert cadence.examples_seen(steps_small, 50) == cadence.examples_seen(steps_large, 100) == list(range(0, 4200001, 21000))
    assert cadence.snapshot_epochs(steps_small, 50, 60000) == cadence.snapshot_epochs(steps_large, 100, 60000)
    # the step cadence it replaces records twice as often at batch 50
    assert len(TrainingSettings(epochs=70, batch_size=50, snapshot_every=210).snapshot_steps(60000)) == 401


def test_a_partial_last_batch_counts_as_a_full_one():
    # 1,437 digits: 144 steps of 10 and 72 of 20 per epoch, both 1,440 batch slots
    ten = TrainingSettings(epochs=3, batch_size=10, snapshot_every={"examples": 400})
    twenty = TrainingSettings(epochs=3, batch_size=20, snapshot_every={"examples": 400})
    steps_ten, steps_twenty = ten.snapshot_steps(1437), twenty.snapshot_steps(1437)
    assert cadence.examples_seen(steps_ten, 10) == cadence.examples_seen(steps_twenty, 20)
    assert cadence.examples_seen(steps_ten, 10)[-2:] == [4000, 4320]  # the end, 3 x 1,440 slots
    assert cadence.snapshot_epochs(steps_ten, 10, 1437)[-1] == cadence.snapshot_epochs(steps_twenty, 20, 1437)[-1] == 3
    # at 32 and 64 an epoch holds 1,440 and 1,472 slots: same examples, other epochs
    a = TrainingSettings(epochs=2, batch_size=32, snapshot_every={"examples": 640}).snapshot_steps(1437)
    b = TrainingSettings(epochs=2, batch_size=64, snapshot_every={"examples": 640}).snapshot_steps(1437)
    assert cadence.examples_seen(a, 32)[:4] == cadence.examples_seen(b, 64)[:4]
    assert cadence.snapshot_epochs(a, 32, 1437)[1] == Fraction(20, 45) != cadence.snapshot_epochs(b, 64, 1437)[1]


def test_the_step_and_epoch_forms_keep_their_meaning():
    assert TrainingSettings(epochs=2, batch_size=10, snapshot_every=7).snapshot_steps(95) == [0, 7, 14, 20]
    assert TrainingSettings(epochs=2, batch_size=10).snapshot_steps(95) == [0, 10, 20]


@pytest.mark.parametrize(
    "every, message",
    [
        ({"examples": 25}, "snapshot_every.examples (25) must be a multiple of batch_size (10)"),
        ({"examples": 0}, "snapshot_every.examples must be an integer >= 1"),
        ({"steps": 20}, "takes the one key 'examples'"),
        (True, "snapshot_every must be 'epoch', an integer"),
    ],
)
def test_a_malformed_cadence_is_refused_by_name(every, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrainingSettings(epochs=2, batch_size=10, snapshot_every=every)
    with pytest.raises(ValueError, match="snapshot_every"):
        cadence.snapshot_steps(every, epochs=2, batch_size=10, n_train=100)


def test_the_config_accepts_the_examples_form_and_names_the_key_of_a_bad_one():
    def sweep(**keys):
        return {"sweeps": {"s": {"dataset": "digits", "architecture": {"name": "mlp", "hidden": [4]}, **keys}}}

    assert validate_config(sweep(snapshot_every={"examples": 64}))["sweeps"]["s"]["snapshot_every"] == {"examples": 64}
    with pytest.raises(ConfigError, match=r"config key 'sweeps.s.snapshot_every': snapshot_every.examples \(48\) must be a multiple"):
        validate_config(sweep(snapshot_every={"examples": 48}))  # batch_size defaults to 32
    # a variant's batch size is checked too
    with pytest.raises(ConfigError, match=r"sweeps.s__batch_size64.snapshot_every'"):
        validate_config(sweep(snapshot_every={"examples": 96}, variants={"batch_size": [32, 64]}))
    with pytest.raises(ConfigError, match="sweeps.s.snapshot_every"):
        validate_config(sweep(snapshot_every={"examples": 64, "steps": 2}))


@pytest.mark.parametrize(
    "name, options",
    [
        ("digits", {}), ("digits", {"n_samples": 500, "test_fraction": 0.3}), ("moons", {"n_samples": 400, "test_fraction": 0.9}),
        ("circles", {}), ("regression2d", {"n_samples": 333, "test_fraction": 0.3, "noise": None}), ("disks9", {"n_samples": 1000}),
    ],
)
def test_the_training_set_size_is_the_loaders(name, options):
    loaded = load_dataset(name, **{k: v for k, v in options.items() if v is not None})
    assert training_set_size(name, options) == len(loaded.x_train)


def test_torchvision_training_set_sizes_are_known_without_the_files():
    assert training_set_size("mnist") == training_set_size("fashion_mnist", {"n_samples": None}) == 60000
    assert training_set_size("cifar10") == 50000 and training_set_size("cifar10", {"n_samples": 1000}) == 1000
    with pytest.raises(ValueError, match="n_samples=2000 exceeds the 1437 training points"):
        training_set_size("digits", {"n_samples": 2000})
