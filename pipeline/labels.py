"""Short labels for networks, for figures and tables: ``lr 0.05, wd 1e-4`` rather than the
network's full name ``lr~0.05_momentum~0.9_weight_decay~0.0001_init_seed~0_label_noise~0.0``.

A network's name (a ``snakemake.utils.Paramspace`` instance pattern, ``pipeline.zoo``) stays the
key everywhere it identifies a network; these labels are only what a reader sees.
"""

from __future__ import annotations

import math
import re
from typing import Iterable, Sequence

from pipeline.schema import grid_keys

# What a reader of the papers calls each grid key.
ABBREVIATIONS = {
    "lr": "lr",
    "momentum": "mom",
    "weight_decay": "wd",
    "init_seed": "seed",
    "label_noise": "noise",
}

# a pair starts the name, follows another (``_``) or follows a sweep's prefix (``<sweep>/``)
_PAIR = re.compile(r"(?:^|[_/])(" + "|".join(map(re.escape, sorted(grid_keys(), key=len, reverse=True))) + r")~([^_]+)")


def parse_network(name: str) -> dict[str, str]:
    """The grid values of a network name, key -> value as written in the name.

    Parameters
    ----------
    name : str
        A network's name (``key~value`` pairs joined by ``_``; keys from the sweep schema's grid).

    Returns
    -------
    dict
        Grid key -> value text, in the name's order; empty for a name that is not of this form.
    """
    return {key: value for key, value in _PAIR.findall(str(name))}


def format_number(value: str | float) -> str:
    """A number as short as it reads unambiguously: ``0.0001`` -> ``1e-4``, ``2.0`` -> ``2``,
    ``0.05`` -> ``0.05``; text that is not a number is returned as it is."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return str(number)
    if number == int(number) and abs(number) < 1e6:
        return str(int(number))
    if abs(number) < 1e-3 or abs(number) >= 1e6:
        mantissa, exponent = f"{number:.2e}".split("e")
        return f"{float(mantissa):g}e{int(exponent)}"
    return f"{number:.4g}"


def network_label(name: str, keys: Iterable[str] | None = None) -> str:
    """One network's short label, e.g. ``lr 0.05, wd 1e-4``.

    Parameters
    ----------
    name : str
        The network's name.
    keys : iterable of str, optional
        The grid keys to show (default: every key in the name). ``short_network_labels`` passes
        the keys that vary among the networks shown together.

    Returns
    -------
    str
        The label; the name itself when it holds no grid values.
    """
    values = parse_network(name)
    if not values:
        return str(name)
    shown = list(values) if keys is None else [key for key in values if key in set(keys)]
    return ", ".join(f"{ABBREVIATIONS.get(key, key)} {format_number(values[key])}" for key in shown)


def short_network_labels(names: Sequence[str]) -> list[str]:
    """Short labels for networks shown together: only the grid keys that vary among them.

    Where none varies (one network, or identical grids), the learning rate alone is shown, so a
    label is never empty.

    Parameters
    ----------
    names : sequence of str
        Network names.

    Returns
    -------
    list of str
        One label per name, in order.
    """
    parsed = [parse_network(name) for name in names]
    keys = [key for key in grid_keys() if len({values.get(key) for values in parsed}) > 1]
    if not keys:
        keys = ["lr"]
    return [network_label(name, keys) for name in names]
