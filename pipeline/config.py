"""Load and validate the pipeline configuration against ``config/schema.yaml``.

jsonschema does the structural checks; this module adds defaults, turns errors into messages that
name the offending key, and checks what a schema cannot express (cross-references between sweeps).
"""

from __future__ import annotations

import copy
import itertools
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "config" / "schema.yaml"


class ConfigError(ValueError):
    """A configuration value is missing, misspelled, of the wrong type or out of range."""


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    """Read the JSON schema (stored as YAML)."""
    with open(path) as handle:
        return yaml.safe_load(handle)


def _key_path(path) -> str:
    parts = []
    for item in path:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    # An unknown key is reported by its parent; name the key itself so the user can find it.
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        where = _key_path(error.absolute_path)
        keys = ", ".join(
            f"'{where + '.' if error.absolute_path else ''}{k}'" for k in extra
        )
        return f"unknown config key {keys}; allowed here: {', '.join(sorted(allowed))}"
    key = _key_path(error.absolute_path)
    if error.validator == "oneOf":
        options = [s.get("description") or s for s in error.schema["oneOf"]]
        return f"config key '{key}': {error.instance!r} matches none of {options}"
    if error.validator == "propertyNames":
        return f"config key '{key}': name {error.instance!r} is not allowed ({error.message})"
    return f"config key '{key}': {error.message}"


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


def validate_config(config: dict | None, schema: dict | None = None) -> dict:
    """Validate a configuration and return a copy with every default filled in.

    Parameters
    ----------
    config : dict or None
        The configuration as parsed from YAML (None is an empty configuration).
    schema : dict, optional
        The JSON schema; ``config/schema.yaml`` by default.

    Returns
    -------
    dict
        The completed configuration.

    Raises
    ------
    ConfigError
        Naming every offending key (dotted path) and what is wrong with it.
    """
    schema = load_schema() if schema is None else schema
    config = copy.deepcopy(config) if config is not None else {}
    if not isinstance(config, dict):
        raise ConfigError(f"the configuration must be a mapping, got {type(config).__name__}")
    config = expand_variants(config)
    # Defaults are filled while validating, so a second pass sees nested defaults of defaults.
    for _ in range(2):
        errors = sorted(_Validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
        if errors:
            raise ConfigError("invalid configuration:\n  " + "\n  ".join(_describe(e) for e in errors))
    _check_cross_references(config)
    return config


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
    sweeps = config["sweeps"]
    problems = []
    for name, sweep in sweeps.items():
        source = sweep.get("init_from")
        if source:
            if source["sweep"] not in sweeps:
                problems.append(
                    f"config key 'sweeps.{name}.init_from.sweep': no sweep named {source['sweep']!r}"
                )
            elif source["sweep"] == name:
                problems.append(f"config key 'sweeps.{name}.init_from.sweep': a sweep cannot start from itself")
            else:
                from .zoo import sweep_size

                size = sweep_size(sweeps[source["sweep"]])
                if source["member"] >= size:
                    problems.append(
                        f"config key 'sweeps.{name}.init_from.member': {source['member']} is out of range, "
                        f"sweep {source['sweep']!r} has {size} networks"
                    )
        milestones = sweep["schedule"]["milestones"]
        if milestones != sorted(milestones):
            problems.append(f"config key 'sweeps.{name}.schedule.milestones': must be increasing, got {milestones}")
    for index, name in enumerate(config["network_manifold"]["sweeps"]):
        if name not in sweeps:
            problems.append(f"config key 'network_manifold.sweeps[{index}]': no sweep named {name!r}")
        elif sweeps[name]["dataset"] == "regression2d":
            problems.append(f"config key 'network_manifold.sweeps[{index}]': sweep {name!r} is a regression sweep")
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
        with open(path) as handle:
            merged = merge(merged, yaml.safe_load(handle) or {})
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
