"""Short network labels: parsed back from the names the zoo gives, only the keys that vary."""

import pytest

from pipeline import zoo
from pipeline.config import validate_config
from pipeline.labels import format_number, network_label, parse_network, short_network_labels


def _names(grid):
    entry = {"dataset": "digits", "architecture": {"name": "mlp", "hidden": [4]}, "grid": grid}
    sweep = validate_config({"sweeps": {"s": entry}})["sweeps"]["s"]
    return list(zoo.sweep_paramspace(sweep).instance_patterns), sweep


def test_parse_round_trips_every_grid_value_of_a_zoo_name():
    names, sweep = _names({"lr": [0.05], "weight_decay": [1e-4], "init_seed": [3]})
    values = parse_network(names[0])
    assert {key: float(value) for key, value in values.items()} == {key: float(sweep["grid"][key][0]) for key in values}
    assert set(values) == set(zoo.GRID_KEYS)


def test_labels_show_only_the_keys_that_vary():
    names, _ = _names({"lr": [0.05, 0.2], "weight_decay": [1e-4, 1e-2]})
    labels = short_network_labels(names)
    assert labels == ["lr 0.05, wd 1e-4", "lr 0.05, wd 0.01", "lr 0.2, wd 1e-4", "lr 0.2, wd 0.01"]
    assert len(set(labels)) == len(names)


def test_one_network_is_labelled_by_its_learning_rate_and_full_labels_name_every_key():
    names, _ = _names({"lr": [0.006]})
    assert short_network_labels(names) == ["lr 0.006"]
    assert network_label(names[0]).startswith("lr 0.006, mom ")


def test_a_name_prefixed_by_its_sweep_keeps_every_key():
    # the stores of relu_complex and learning_graphs name networks <sweep>/<name>
    names, _ = _names({"lr": [0.01]})
    assert parse_network(f"relu_tiny_moons/{names[0]}") == parse_network(names[0])
    assert short_network_labels([f"relu_tiny_moons/{names[0]}"]) == ["lr 0.01"]


@pytest.mark.parametrize(
    "value, text", [(0.0001, "1e-4"), (1e-05, "1e-5"), (2.0, "2"), (0.05, "0.05"), (0.00015, "1.5e-4"), ("sgd", "sgd")]
)
def test_numbers_print_as_short_as_they_read(value, text):
    assert format_number(value) == text
    if text != "sgd":
        assert float(text) == pytest.approx(value)


def test_a_name_without_grid_values_is_its_own_label():
    assert network_label("population_000") == "population_000"
