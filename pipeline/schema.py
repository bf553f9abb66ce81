"""The foundation's config schema, ``config/schema/pipeline.yaml``, and checking a value against
one of its parts: defaults filled in, each error naming its key.

Below every module that reads a config, and blind to the studies: :mod:`pipeline.models`
completes an architecture spec here and :mod:`pipeline.sweeps` reads the grid's keys here, neither
loading the study registry. :mod:`pipeline.config` merges each registered study's block into this
schema and validates a whole configuration.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any, Mapping

import jsonschema
import yaml

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "config" / "schema"
FOUNDATION_SCHEMA = SCHEMA_DIR / "pipeline.yaml"


class ConfigError(ValueError):
    """A configuration value is missing, misspelled, of the wrong type or out of range."""


def read_yaml(path: Path) -> dict:
    with open(path) as handle:
        return yaml.safe_load(handle)


@functools.cache
def foundation_schema() -> dict:
    """The foundation's schema (cached: callers copy it before changing it)."""
    return read_yaml(FOUNDATION_SCHEMA)


def grid_keys() -> tuple[str, ...]:
    """The hyperparameters a sweep's grid varies (one value each per network), in schema order."""
    return tuple(foundation_schema()["definitions"]["sweep"]["properties"]["grid"]["properties"])


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


def complete(instance: Any, schema: dict, root: dict, header: str = "invalid configuration") -> Any:
    """Validate ``instance`` against ``schema`` (refs resolved in ``root``), defaults filled in.

    Raises
    ------
    ConfigError
        Headed by ``header``, one line per offending key.
    """
    subschema = {**schema, "definitions": root["definitions"]}
    # Defaults are filled while validating, so a second pass sees nested defaults of defaults.
    for _ in range(2):
        errors = sorted(_Validator(subschema).iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors and _coerce_strings(instance, errors):
            errors = sorted(_Validator(subschema).iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors:
            raise ConfigError(f"{header}:\n  " + "\n  ".join(_describe(e) for e in errors))
    return instance


def complete_architecture(spec: Mapping) -> dict:
    """An architecture spec with its schema defaults filled in (``definitions.architecture``).

    Raises
    ------
    ConfigError
        Naming the offending key, e.g. ``config key 'depth': 4 is less than the minimum of 10``.
    """
    if not isinstance(spec, Mapping):
        raise ConfigError(f"an architecture spec must be a mapping with a 'name' key, got {spec!r}")
    schema = foundation_schema()
    return complete(copy.deepcopy(dict(spec)), schema["definitions"]["architecture"], schema, "invalid architecture spec")
