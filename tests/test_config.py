"""Config validation: defaults fill in (from the schema only), each kind of mistake names its
key, and the study registry is what the foundation reads."""

import copy
import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.config import (
    ConfigError,
    check_results_folder,
    config_changes,
    grid_keys,
    load_config,
    load_schema,
    merge,
    record_config,
    validate_config,
)

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
    assert config["data"] == {
        "root": "data", "download": False, "stand_in": False, "stand_in_sizes": {"train": None, "test": None}
    }
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
        # a study naming a sweep that does not exist (the study's own check)
        (("network_manifold", "sweeps"), ["tiny", "absent"], "'network_manifold.sweeps[1]': no sweep named 'absent'"),
        # a study's unknown key (its schema file, merged in)
        (("network_manifold", "sigmaa"), 0.5, "'network_manifold.sigmaa'"),
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


def test_a_regression_sweep_is_refused_by_a_classification_study():
    config = copy.deepcopy(GOOD)
    config["sweeps"]["reg"] = {"dataset": "regression2d", "architecture": {"name": "mlp"}}
    config["network_manifold"] = {"sweeps": ["reg"]}
    with pytest.raises(ConfigError, match="'network_manifold.sweeps\\[0\\]': sweep 'reg' is not a classification sweep"):
        validate_config(config)


def test_steps_restate_no_default_of_their_studys_schema():
    from pipeline.__main__ import resolve
    from pipeline.studies import registered

    schema = load_schema()["properties"]
    checked = 0
    for study in registered().values():
        keys = set(schema[study.name]["properties"])
        for step in study.steps:
            for parameter in inspect.signature(resolve(step)).parameters.values():
                if parameter.name in keys:
                    assert parameter.default is inspect.Parameter.empty, f"{step}({parameter.name}=...) restates a default"
                    checked += 1
    assert checked >= 10


def test_training_settings_defaults_are_the_sweep_schemas():
    from pipeline.train import TrainingSettings

    sweep = load_schema()["definitions"]["sweep"]["properties"]
    schedule = sweep["schedule"]["properties"]
    expected = {
        "optimizer": sweep["optimizer"]["default"],
        "augment": sweep["augment"]["default"],
        "snapshot_every": sweep["snapshot_every"]["default"],
        "seed": sweep["seed"]["default"],
        "milestones": tuple(schedule["milestones"]["default"]),
        "gamma": schedule["gamma"]["default"],
        "snapshot_metrics": sweep["snapshot_metrics"]["default"],
        "thresholds": tuple(sweep["snapshot_thresholds"]["default"]),
        "threshold_every": sweep["threshold_every"]["default"],
        "precision": sweep["precision"]["default"],
    }
    defaults = {f.name: f.default for f in dataclasses.fields(TrainingSettings) if f.default is not dataclasses.MISSING}
    assert {k: defaults[k] for k in expected} == expected


def test_a_member_holds_exactly_the_grid_keys():
    from pipeline.train import Member

    assert tuple(f.name for f in dataclasses.fields(Member)) == grid_keys()
    assert all(f.default is dataclasses.MISSING for f in dataclasses.fields(Member))  # the schema's defaults apply


def test_the_registry_and_the_config_import_neither_torch_nor_matplotlib():
    code = (
        "import sys\n"
        "from pipeline.config import load_config\n"
        "from pipeline.studies import registered\n"
        "from pipeline.__main__ import steps\n"
        f"load_config({str(REPO / 'config/paper.yaml')!r}); studies = registered(); steps()\n"
        "assert studies, 'no study registered'\n"
        "heavy = sorted(m for m in ('torch', 'matplotlib') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_a_string_that_reads_as_the_wanted_type_is_accepted_and_others_are_not():
    # Snakemake's --config hands nested values over as strings: --config 'compute={"analysis_threads": 1}'
    from pipeline.config import ConfigError, validate_config

    config = validate_config({"compute": {"analysis_threads": "1"}})
    assert config["compute"]["analysis_threads"] == 1
    with pytest.raises(ConfigError, match="compute.analysis_threads"):
        validate_config({"compute": {"analysis_threads": "one"}})
    with pytest.raises(ConfigError, match="compute.analysis_threads"):
        validate_config({"compute": {"analysis_threads": "1.5"}})
    # a boolean comes as true/false; YAML 1.1's "yes" is refused, naming the key
    with pytest.raises(ConfigError, match="download"):
        validate_config({"data": {"download": "yes"}})
    assert validate_config({"data": {"download": "true"}})["data"]["download"] is True


def test_each_shipped_config_writes_into_its_own_results_folder():
    folders = {name: load_config(REPO / f"config/{name}.yaml")["results"] for name in ("config", "test", "paper")}
    folders["rehearsal"] = load_config(REPO / "config/paper.yaml", REPO / "config/rehearsal.yaml")["results"]
    assert len(set(folders.values())) == len(folders), folders


def test_a_results_folder_refuses_other_settings_but_not_other_hardware(tmp_path):
    made = load_config(REPO / "config/test.yaml", overrides={"results": str(tmp_path / "results")})
    record_config(made)
    check_results_folder(made)  # the same settings: on
    # where and how jobs run is not a change of results
    moved = merge(made, {"compute": {"analysis_threads": 1, "device": "cuda"}, "data": {"root": "/scratch/data"}})
    check_results_folder(moved)
    changed = merge(made, {"relu_complex": {"spike_ratio": 1.25}})
    with pytest.raises(ConfigError) as refused:
        check_results_folder(changed)
    message = str(refused.value)
    assert str(tmp_path / "results") in message and "relu_complex.spike_ratio: 1.5 -> 1.25" in message
    assert "accept_config_change=true" in message
    # asked for: on, and the folder then records the new settings
    check_results_folder({**changed, "accept_config_change": True})
    record_config(changed)
    check_results_folder(changed)
    with pytest.raises(ConfigError, match="relu_complex.spike_ratio: 1.25 -> 1.5"):
        check_results_folder(made)


def test_config_changes_name_added_and_removed_sweeps():
    base = load_config(REPO / "config/test.yaml")
    fewer = {**base, "sweeps": {k: v for k, v in base["sweeps"].items() if k != "mlp_tiny_finetune"}}
    changes = config_changes(base, fewer)
    assert changes == ["sweeps.mlp_tiny_finetune: set -> (not set)"]


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "config file {path}: no such file"),
        ("", "config file {path} is empty"),
        ("sweeps:\n  a: [1\n  b: 2\n", "config file {path}, line 3 column 4: not valid YAML (expected ',' or ']'"),
        ("- results\n", "config file {path}: expected keys at the top level, got a list"),
    ],
)
def test_a_bad_config_file_is_named_in_one_line_before_snakemake_reads_it(tmp_path, content, message):
    path = tmp_path / "my.yaml"
    if content is not None:
        path.write_text(content)
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "check-config", str(REPO / "config/config.yaml"), str(path)],
        capture_output=True, text=True, cwd=REPO,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: " + message.format(path=path)) and len(result.stderr.splitlines()) == 1
