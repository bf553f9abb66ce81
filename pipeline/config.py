"""Load and validate the pipeline configuration against ``config/schema/``: the study-aware part.

The schema is ``config/schema/pipeline.yaml`` (the foundation: results, data, compute, sweeps;
loaded and checked against by :mod:`pipeline.schema`) with each registered study's
``config/schema/<study>.yaml`` merged in as the top-level key ``<study>``. jsonschema does the
structural checks and fills in every default (the defaults live in the schema only); this module
turns errors into messages that name the offending key, and checks what a schema cannot express
(cross-references between sweeps, each study's checks).
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any, Mapping

import yaml

from .schema import SCHEMA_DIR, ConfigError, complete, foundation_schema, read_yaml
from .schema import grid_keys as grid_keys  # re-exported: where the tests have long found it
from .sweeps import expand_variants
from .sweeps import sweeps_named_in as sweeps_named_in  # re-exported: the studies' checks used it from here


def read_config_file(path: str | Path) -> dict:
    """A config file's mapping, or a one-line ``ConfigError`` naming the file (and the line of a
    YAML error): missing, empty, not YAML, or not a mapping of keys at the top level."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path}: no such file")
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"config file {path}{where}: not valid YAML ({problem})") from None
    if content is None:
        raise ConfigError(f"config file {path} is empty: a config file states at least one key")
    if not isinstance(content, dict):
        raise ConfigError(f"config file {path}: expected keys at the top level, got a {type(content).__name__}")
    return content


@functools.cache
def _schema() -> dict:
    from .studies import registered

    schema = copy.deepcopy(foundation_schema())
    for name in registered():
        part = read_yaml(SCHEMA_DIR / f"{name}.yaml")
        part.pop("$schema", None)
        schema["properties"][name] = part
    return schema


def load_schema() -> dict:
    """The whole schema: the foundation's with every study's block merged in (a copy)."""
    return copy.deepcopy(_schema())


def validate_config(config: dict | None) -> dict:
    """Validate a configuration and return a copy with every default filled in.

    Parameters
    ----------
    config : dict or None
        The configuration as parsed from YAML (None is an empty configuration).

    Returns
    -------
    dict
        The completed configuration.

    Raises
    ------
    ConfigError
        Naming every offending key (dotted path) and what is wrong with it.
    """
    config = copy.deepcopy(config) if config is not None else {}
    if not isinstance(config, dict):
        raise ConfigError(f"the configuration must be a mapping, got {type(config).__name__}")
    config = expand_variants(config)
    schema = _schema()
    complete(config, schema, schema)
    _apply_stand_in(config)
    _check_cross_references(config)
    _fit_gpu_memory(config)
    return config


def _fit_gpu_memory(config: dict) -> None:
    """Shrink the ``population_size`` of every cuda sweep whose population would not fit one GPU
    (``compute.plan.gpu_memory_gb``, by :func:`pipeline.plan.fitting_members`), counting the
    networks a study trains at once for each of the sweep's networks (jump-and-retrain: every seed
    x step size of an optimum, in one population). The populations only split: each network trains
    through the same steps (up to the float rounding of a convolution batched over fewer members),
    and a sweep's population_size is not among its recorded settings."""
    from . import plan
    from .studies import registered
    from .sweeps import population_spec

    budget_mb = config["compute"]["plan"]["gpu_memory_gb"] * 1000
    figures = plan.Figures.from_config(config)
    for name, sweep in config["sweeps"].items():
        if (sweep["device"] or config["compute"]["device"]) != "cuda":
            continue
        at_once = max([1] + [study.networks_trained_at_once(config, name) for study in registered().values()])
        fit = plan.fitting_members(population_spec(config, name, 0), budget_mb, figures)
        sweep["population_size"] = max(1, min(sweep["population_size"], fit // at_once))


def _apply_stand_in(config: dict) -> None:
    """``data.stand_in``: every sweep on a torchvision dataset trains on its stand-in, and says so
    in its ``dataset_options`` (so in its population spec: a stand-in store is never taken for a
    real one, and every step that loads the sweep's data loads the same stand-in)."""
    from .data import TORCHVISION_SIZES

    if not config["data"]["stand_in"]:
        return
    sizes = dict(config["data"]["stand_in_sizes"])
    for sweep in config["sweeps"].values():
        if sweep["dataset"] in TORCHVISION_SIZES and sweep["dataset_options"]["stand_in"] is None:
            sweep["dataset_options"]["stand_in"] = sizes


def _check_cross_references(config: dict) -> None:
    from .cadence import cadence_problem
    from .studies import registered
    from .sweeps import sweep_size

    sweeps = config["sweeps"]
    problems = []
    for name, sweep in sweeps.items():
        source = sweep.get("init_from")
        if source:
            if source["sweep"] not in sweeps:
                problems.append(f"config key 'sweeps.{name}.init_from.sweep': no sweep named {source['sweep']!r}")
            elif source["sweep"] == name:
                problems.append(f"config key 'sweeps.{name}.init_from.sweep': a sweep cannot start from itself")
            else:
                size = sweep_size(sweeps[source["sweep"]])
                if source["member"] >= size:
                    problems.append(
                        f"config key 'sweeps.{name}.init_from.member': {source['member']} is out of range, "
                        f"sweep {source['sweep']!r} has {size} networks"
                    )
        milestones = sweep["schedule"]["milestones"]
        if milestones != sorted(milestones):
            problems.append(f"config key 'sweeps.{name}.schedule.milestones': must be increasing, got {milestones}")
        # after variants expand, so that each batch size of a family is checked
        cadence = cadence_problem(sweep["snapshot_every"], sweep["batch_size"])
        if cadence:
            problems.append(f"config key 'sweeps.{name}.snapshot_every': {cadence}")
    formats = config["figures"]["formats"]
    if "png" not in formats:
        problems.append(
            f"config key 'figures.formats': must include png (the HTML report shows the PNG of every figure), got {formats}"
        )
    for study in registered().values():
        problems += study.check(config)
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def load_config(*paths: str | Path, overrides: dict | None = None) -> dict:
    """Read YAML config files (later ones override earlier keys), validate and complete them.

    Parameters
    ----------
    *paths : str or Path
        Config files, merged in order.
    overrides : dict, optional
        Values merged last (as Snakemake's ``--config`` does).
    """
    merged: dict[str, Any] = {}
    for path in paths:
        merged = merge(merged, read_config_file(path))
    if overrides:
        merged = merge(merged, overrides)
    return validate_config(merged)


def merge(base: dict, update: dict) -> dict:
    """Recursively merge ``update`` into a copy of ``base`` (mappings merge, other values replace)."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# ---------------------------------------------------------------------------------- a results folder's config
# A results folder remembers the settings it was made with, so that a run of another config into it
# (config/test.yaml into the default's results/, say) is refused before it replaces anything.
RECORD_NAME = "config.yaml"
# Where and how jobs run, not what they compute: changing these never changes a result.
RUNTIME_KEYS = ("compute", "data.root", "data.download", "accept_config_change")


def _runtime(key: str) -> bool:
    return any(key == runtime or key.startswith(runtime + ".") for runtime in RUNTIME_KEYS)


def _differences(before: Any, after: Any, prefix: str, out: list[str]) -> None:
    absent = "(not set)"
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in sorted(set(before) | set(after), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if _runtime(path):
                continue
            if key not in before or key not in after:
                # a whole block added or removed: one line, not one per key inside it
                out.append(f"{path}: {'(not set) -> set' if key not in before else 'set -> (not set)'}")
            else:
                _differences(before[key], after[key], path, out)
    elif before != after:
        out.append(f"{prefix}: {before if before is not None else absent!r} -> {after if after is not None else absent!r}")


def json_plain(value: Any) -> Any:
    """``value`` with tuples as lists and mappings as plain dicts, as YAML reads it back."""
    if isinstance(value, Mapping):
        return {str(key): json_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_plain(item) for item in value]
    return value


def config_changes(recorded: Mapping, config: Mapping) -> list[str]:
    """The settings in which ``config`` differs from ``recorded`` (runtime keys left out), one
    ``key: old -> new`` line each in key order; a block present on one side only is one line."""
    out: list[str] = []
    _differences(json_plain(recorded), json_plain(config), "", out)
    return out


def check_results_folder(config: Mapping) -> None:
    """Refuse a run into a results folder made with other settings, unless the config says
    ``accept_config_change: true``.

    Raises
    ------
    ConfigError
        Naming the folder, the settings that differ (the first 10) and the two ways on.
    """
    record = Path(config["results"], RECORD_NAME)
    if config["accept_config_change"] or not record.is_file():
        return
    try:
        recorded = yaml.safe_load(record.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{record} (the settings {config['results']}/ was made with) is not valid YAML: {error}") from None
    changes = config_changes(recorded, config)
    if not changes:
        return
    shown = "\n".join(f"  {line}" for line in changes[:10])
    more = f"\n  ... and {len(changes) - 10} more" if len(changes) > 10 else ""
    raise ConfigError(
        f"{config['results']}/ was made with other settings ({record}); this run differs in {len(changes)}:\n"
        f"{shown}{more}\n"
        f"The outputs that depend on them would be recomputed and replaced. To go on, add --config accept_config_change=true "
        f"(the folder then records this config), or give this config its own folder (its `results` key)."
    )


def record_config(config: Mapping) -> Path:
    """Write the settings a run uses into its results folder (``<results>/config.yaml``)."""
    record = Path(config["results"], RECORD_NAME)
    record.parent.mkdir(parents=True, exist_ok=True)
    settings = {key: value for key, value in json_plain(config).items() if key != "accept_config_change"}
    text = (
        f"# The settings {config['results']}/ was made with, written by the workflow at the start of each run.\n"
        "# A run whose settings differ (beyond compute and data location) is refused unless it sets\n"
        "# accept_config_change: true.\n" + yaml.safe_dump(settings, sort_keys=False)
    )
    temporary = record.with_name(f".{record.name}.tmp")
    temporary.write_text(text)
    temporary.replace(record)
    return record


def main(argv: list[str]) -> int:
    """``python -m pipeline check-config FILE ...``: read, merge and validate config files as
    Snakemake's ``--configfile FILE ...`` would, and say what is wrong in one line (exit 2).

    Snakemake reads ``--configfile`` before the workflow, so a missing file or a YAML error there
    gets Snakemake's own message (without the file's name, or a traceback); ``make run CONFIG=...``
    runs this first.
    """
    import sys

    try:
        load_config(*(argv or ["config/config.yaml"]))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
