"""Sweep arithmetic: from a sweep's config to its networks and population jobs.

A sweep with ``variants`` becomes one derived sweep per combination (:func:`expand_variants`), a
sweep's grid one network per combination of its values (:func:`sweep_table`, in member order),
its networks ``population_size``-sized population jobs (:func:`n_populations`), each described
by a JSON spec (:func:`population_spec`). Pure and light: no torch, no study registry, nothing
above :mod:`pipeline.schema`, so that the config's validation, the workflow's planning and the
training (:mod:`pipeline.zoo`) all count the same networks.
"""

from __future__ import annotations

import copy
import itertools
import re
from typing import Mapping

import numpy as np
import pandas as pd

from .schema import ConfigError, grid_keys

# The hyperparameters a grid varies, from the sweep schema (one definition).
GRID_KEYS = grid_keys()


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


def sweep_table(sweep: Mapping) -> pd.DataFrame:
    """Every network of a (validated) sweep, one row each, in member order (the grid's product order)."""
    values = [sweep["grid"][key] for key in GRID_KEYS]
    frame = pd.DataFrame(list(itertools.product(*values)), columns=list(GRID_KEYS))
    frame["init_seed"] = frame["init_seed"].astype(int)
    return frame


def sweep_size(sweep: Mapping) -> int:
    """Number of networks in a (validated) sweep."""
    return int(np.prod([len(sweep["grid"][key]) for key in GRID_KEYS]))


def sweep_paramspace(sweep: Mapping):
    """The sweep as a ``snakemake.utils.Paramspace``; its instance patterns name the networks."""
    from snakemake.utils import Paramspace

    return Paramspace(sweep_table(sweep), filename_params="*", param_sep="~")


def n_populations(sweep: Mapping) -> int:
    """Number of population jobs a sweep is split into."""
    return -(-sweep_size(sweep) // sweep["population_size"])


def population_spec(config: Mapping, sweep_name: str, population: int) -> dict:
    """Everything that determines one population job's result (JSON-serializable).

    Data location and hardware settings are left out on purpose: moving the data or switching
    to a GPU must not invalidate finished training.
    """
    sweep = config["sweeps"][sweep_name]
    if not 0 <= population < n_populations(sweep):
        raise ValueError(f"sweep {sweep_name!r} has no population {population}")
    table = sweep_table(sweep)
    names = list(sweep_paramspace(sweep).instance_patterns)
    size = sweep["population_size"]
    rows = range(population * size, min((population + 1) * size, len(table)))
    members = [
        {"member": i, "network": names[i], **{k: _plain(table.at[i, k]) for k in GRID_KEYS}} for i in rows
    ]
    keys = (
        "optimizer", "epochs", "batch_size", "schedule", "augment", "snapshot_every", "snapshot_dtype", "snapshot_metrics",
        "snapshot_thresholds", "threshold_every", "seed", "precision",
    )
    return {
        "sweep": sweep_name,
        "population": population,
        "dataset": sweep["dataset"],
        "dataset_options": dict(sweep["dataset_options"]),
        "architecture": dict(sweep["architecture"]),
        "training": {k: sweep[k] for k in keys},
        "init_from": sweep["init_from"],
        "members": members,
    }


def source_network(config: Mapping, sweep_name: str) -> tuple[str, int, int] | None:
    """``(sweep, population, index within it)`` of the network a fine-tuning sweep starts from."""
    source = config["sweeps"][sweep_name]["init_from"]
    if not source:
        return None
    size = config["sweeps"][source["sweep"]]["population_size"]
    return source["sweep"], source["member"] // size, source["member"] % size


def _plain(value):
    return value.item() if hasattr(value, "item") else value


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
