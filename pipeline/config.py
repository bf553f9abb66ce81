"""Load and validate the pipeline configuration against ``config/schema/``.

The schema is ``config/schema/pipeline.yaml`` (the foundation: results, data, compute, sweeps)
with each registered study's ``config/schema/<study>.yaml`` merged in as the top-level key
``<study>``. jsonschema does the structural checks and fills in every default (the defaults
live in the schema only); this module turns errors into messages that name the offending key,
and checks what a schema cannot express (cross-references between sweeps, each study's checks).
"""

from __future__ import annotations

import copy
import functools
import itertools
import re
from pathlib import Path
from typing import Any, Mapping

import jsonschema
import yaml

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "config" / "schema"
FOUNDATION_SCHEMA = SCHEMA_DIR / "pipeline.yaml"


class ConfigError(ValueError):
    """A configuration value is missing, misspelled, of the wrong type or out of range."""


def _read_yaml(path: Path) -> dict:
    with open(path) as handle:
        return yaml.safe_load(handle)


@functools.cache
def _schema() -> dict:
    from .studies import registered

    schema = _read_yaml(FOUNDATION_SCHEMA)
    for name in registered():
        part = _read_yaml(SCHEMA_DIR / f"{name}.yaml")
        part.pop("$schema", None)
        schema["properties"][name] = part
    return schema


def load_schema() -> dict:
    """The whole schema: the foundation's with every study's block merged in (a copy)."""
    return copy.deepcopy(_schema())


def grid_keys() -> tuple[str, ...]:
    """The hyperparameters a sweep's grid varies (one value each per network), in schema order."""
    return tuple(_schema()["definitions"]["sweep"]["properties"]["grid"]["properties"])


def _key_path(path) -> str:
    parts = []
    for item in path:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    where = _key_path(error.absolute_path)
    # An unknown key is reported by its parent; name the key itself so the user can find it.
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        parent = where + "." if error.absolute_path else ""
        keys = ", ".join(f"'{parent}{k}'" for k in extra)
        return f"unknown config key {keys}; allowed here: {', '.join(sorted(allowed))}"
    if error.validator == "oneOf":
        options = [s.get("description") or s for s in error.schema["oneOf"]]
        return f"config key '{where}': {error.instance!r} matches none of {options}"
    if error.validator == "propertyNames":
        return f"config key '{where}': name {error.instance!r} is not allowed ({error.message})"
    return f"config key '{where}': {error.message}"


def _with_defaults(validator_class):
    """Extend a validator so that it fills in each property's default before checking it."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft7Validator)


_JSON_TYPES = {
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _coerce_strings(instance: Any, errors) -> bool:
    """Replace each string the schema wanted as another type by its YAML reading, where that
    reading has the wanted type; True if any was replaced.

    Snakemake's ``--config key={"nested": 1}`` hands nested values over as strings (``'1'``); read
    as YAML they are what the user typed, so ``--config`` works for any key, nested or not.
    """
    changed = False
    for error in errors:
        if error.validator != "type" or not isinstance(error.instance, str) or not error.absolute_path:
            continue
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        if error.instance.strip().lower() in ("yes", "no", "on", "off", "y", "n"):
            continue  # YAML 1.1's booleans: a typed "yes" is a mistake to name, not a True to guess
        try:
            parsed = yaml.safe_load(error.instance)
        except yaml.YAMLError:
            continue
        if not any(_JSON_TYPES.get(kind, lambda v: False)(parsed) for kind in wanted):
            continue
        *parents, last = error.absolute_path
        holder = instance
        for key in parents:
            holder = holder[key]
        holder[last] = parsed
        changed = True
    return changed


def _complete(instance: Any, schema: dict, root: dict, header: str = "invalid configuration") -> Any:
    """Validate ``instance`` against ``schema`` (refs resolved in ``root``), defaults filled in."""
    subschema = {**schema, "definitions": root["definitions"]}
    # Defaults are filled while validating, so a second pass sees nested defaults of defaults.
    for _ in range(2):
        errors = sorted(_Validator(subschema).iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors and _coerce_strings(instance, errors):
            errors = sorted(_Validator(subschema).iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors:
            raise ConfigError(f"{header}:\n  " + "\n  ".join(_describe(e) for e in errors))
    return instance


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
    _complete(config, schema, schema)
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
    from . import plan, zoo
    from .studies import registered

    budget_mb = config["compute"]["plan"]["gpu_memory_gb"] * 1000
    figures = plan.Figures.from_config(config)
    for name, sweep in config["sweeps"].items():
        if (sweep["device"] or config["compute"]["device"]) != "cuda":
            continue
        at_once = max([1] + [study.networks_trained_at_once(config, name) for study in registered().values()])
        fit = plan.fitting_members(zoo.population_spec(config, name, 0), budget_mb, figures)
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


def complete_architecture(spec: Mapping) -> dict:
    """An architecture spec with its schema defaults filled in (``definitions.architecture``).

    Raises
    ------
    ConfigError
        Naming the offending key, e.g. ``config key 'depth': 4 is less than the minimum of 10``.
    """
    if not isinstance(spec, Mapping):
        raise ConfigError(f"an architecture spec must be a mapping with a 'name' key, got {spec!r}")
    schema = _schema()
    return _complete(copy.deepcopy(dict(spec)), schema["definitions"]["architecture"], schema, "invalid architecture spec")


def expand_variants(config: dict) -> dict:
    """Replace each sweep that has ``variants`` by one derived sweep per combination.

    A population shares its architecture, batch size and augmentation, so a study that varies
    those (the 108 Wide ResNets: depth x width x batch size x augmentation x weight decay) is a
    family of sweeps. Derived sweeps are named ``<name>__<key><value>_...`` with ``family: <name>``.
    """
    sweeps = config.get("sweeps")
    if not isinstance(sweeps, dict):
        return config
    expanded = {}
    for name, sweep in sweeps.items():
        if not isinstance(sweep, dict) or not isinstance(sweep.get("variants"), dict):
            expanded[name] = sweep
            continue
        variants = sweep["variants"]
        for key, values in variants.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"config key 'sweeps.{name}.variants.{key}': must be a non-empty list")
        base = {k: v for k, v in sweep.items() if k != "variants"}
        keys = list(variants)
        for combination in itertools.product(*(variants[k] for k in keys)):
            derived = copy.deepcopy(base)
            for key, value in zip(keys, combination):
                node = derived
                *parents, leaf = key.split(".")
                for parent in parents:
                    node = node.setdefault(parent, {})
                node[leaf] = value
            suffix = "_".join(f"{k.split('.')[-1]}{_token(v)}" for k, v in zip(keys, combination))
            derived["family"] = name
            expanded[f"{name}__{suffix}"] = derived
    config["sweeps"] = expanded
    return config


def _token(value) -> str:
    return re.sub(r"[^A-Za-z0-9]", "p", str(value))


def _check_cross_references(config: dict) -> None:
    from .cadence import cadence_problem
    from .studies import registered
    from .zoo import sweep_size

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
    for study in registered().values():
        problems += study.check(config)
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def sweeps_named_in(config: Mapping, study: str, key: str = "sweeps", task: str | None = "classification") -> list[str]:
    """Problems with the sweeps a study names in ``<study>.<key>``: absent ones, and (when ``task``
    is given) ones whose dataset is of another task. A helper for studies' ``check``."""
    from .data import DATASET_TASKS

    problems = []
    for index, name in enumerate(config[study][key]):
        where = f"config key '{study}.{key}[{index}]'"
        if name not in config["sweeps"]:
            problems.append(f"{where}: no sweep named {name!r}")
        elif task and DATASET_TASKS[config["sweeps"][name]["dataset"]] != task:
            problems.append(f"{where}: sweep {name!r} is not a {task} sweep")
    return problems


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
        merged = merge(merged, _read_yaml(Path(path)) or {})
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
