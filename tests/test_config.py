"""Config validation: defaults fill in, and each kind of mistake names its key."""

import copy

import pytest
import yaml

from pathlib import Path

from pipeline.config import ConfigError, load_config, validate_config

REPO = Path(__file__).resolve().parents[1]

GOOD = {
    "sweeps": {
        "tiny": {
            "dataset": "digits",
            "architecture": {"name": "mlp", "hidden": [8]},
            "grid": {"lr": [0.1, 0.01]},
        }
    }
}


def test_defaults_fill_every_level():
    config = validate_config(GOOD)
    sweep = config["sweeps"]["tiny"]
    assert config["results"] == "results"
    assert config["data"] == {"root": "data", "download": False}
    assert sweep["grid"]["momentum"] == [0.9]
    assert sweep["schedule"] == {"milestones": [], "gamma": 0.1}
    assert sweep["architecture"]["activation"] == "relu"
    assert GOOD["sweeps"]["tiny"].get("epochs") is None  # the input is not modified


def _broken(path, value):
    config = copy.deepcopy(GOOD)
    node = config
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return config


@pytest.mark.parametrize(
    "path, value, expected",
    [
        # a misspelled key
        (("sweeps", "tiny", "learning_rate"), [0.1], "'sweeps.tiny.learning_rate'"),
        # a wrong type
        (("sweeps", "tiny", "epochs"), "ten", "'sweeps.tiny.epochs'"),
        # out of range
        (("sweeps", "tiny", "grid", "momentum"), [0.5, 1.5], "'sweeps.tiny.grid.momentum[1]'"),
        # an unknown choice
        (("sweeps", "tiny", "dataset"), "imagenet", "'sweeps.tiny.dataset'"),
        # an unknown top-level key
        (("trainng",), {}, "'trainng'"),
        # a reference to a sweep that does not exist
        (("sweeps", "tiny", "init_from"), {"sweep": "pretrain"}, "'sweeps.tiny.init_from.sweep'"),
        # a bad device
        (("compute", "device"), "tpu", "'compute.device'"),
    ],
)
def test_bad_config_names_its_key(path, value, expected):
    with pytest.raises(ConfigError) as info:
        validate_config(_broken(path, value))
    assert expected in str(info.value)


def test_files_merge_in_order(tmp_path):
    first = tmp_path / "a.yaml"
    second = tmp_path / "b.yaml"
    first.write_text(yaml.safe_dump(GOOD))
    second.write_text(yaml.safe_dump({"sweeps": {"tiny": {"epochs": 3}}}))
    config = load_config(first, second)
    assert config["sweeps"]["tiny"]["epochs"] == 3
    assert config["sweeps"]["tiny"]["grid"]["lr"] == [0.1, 0.01]


@pytest.mark.parametrize("name", ["config.yaml", "test.yaml", "paper.yaml"])
def test_shipped_configs_are_valid(name):
    load_config(REPO / "config" / name)


def test_variants_expand_into_a_family_of_sweeps():
    config = copy.deepcopy(GOOD)
    config["sweeps"]["tiny"]["variants"] = {"architecture.hidden": [[4], [8]], "batch_size": [16, 64]}
    sweeps = validate_config(config)["sweeps"]
    assert len(sweeps) == 4
    assert {s["family"] for s in sweeps.values()} == {"tiny"}
    assert sorted((s["architecture"]["hidden"][0], s["batch_size"]) for s in sweeps.values()) == [
        (4, 16), (4, 64), (8, 16), (8, 64)
    ]
