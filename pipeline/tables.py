"""Result tables, written once in three forms: CSV (for programs), Markdown (for reading in a
terminal or a README) and a small HTML page (for the Snakemake report, which shows HTML and
images inline but offers CSV only as a download).

Every table goes through :func:`write_result_table`, which lays it out the same way for every
study (:func:`report_layout`): the key columns first (study, sweep, the network's short label,
its grid values, layer, ...), then the measures in the order the step wrote them; a table with
a ``network`` column gets a short ``label`` (:mod:`pipeline.labels`) and keeps the full name,
the key programs join on, as its last column; counts (:data:`COUNT_COLUMN`) print as integers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .labels import short_network_labels
from .schema import grid_keys
from .store import atomic_output

FORMATS = ("csv", "md", "html")

# Key columns: what a row is about, shown before what was measured. The table's own leading keys
# (study, sweep, experiment or run) come first, in this order, then the network's short ``label``
# (which the writer adds beside a ``network`` column), then the other keys in the table's order.
OUTER_KEYS = ("study", "sweep", "experiment", "run")
KEY_COLUMNS = (
    *OUTER_KEYS, "label", "member", "optimum", *grid_keys(),
    "layer", "layer_name", "threshold", "series", "reading", "protocol", "features", "task", "classifier", "kind", "top",
)
# Keys only where a row is a network: its index and grid values (elsewhere a column named like a
# grid key holds a measure of it, e.g. the GFT smoothness of the learning rates).
MEMBER_KEYS = ("member", "optimum", *grid_keys())
# The full network name: a key programs join on, long, so it goes last.
NETWORK = "network"
# Columns that count something (steps, classifiers, samples, ...): whole numbers, printed as
# integers even where a missing value made pandas hold them as floats. A float column that
# merely happens to be whole (an accuracy of 1.0, a correlation of -1.0) keeps its decimals.
COUNT_COLUMN = re.compile(
    r"(?:^|[ _])(?:steps?|snapshots|samples|classifiers|optima|spikes|regions|items|splits|branches|pieces"
    r"|size|rank|count|groups)$"
)

_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; font-size: 14px; margin: 1em; color: #1e293b; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: 4px 10px; border-bottom: 1px solid #cbd5e1; text-align: right; }}
th {{ background: #f1f5f9; }}
td:first-child, th:first-child {{ text-align: left; }}
{columns}</style></head><body>
<h3>{title}</h3>
{table}
</body></html>
"""


def network_labels(frame: pd.DataFrame) -> list[str]:
    """Short labels of a table's ``network`` column (:func:`pipeline.labels.short_network_labels`
    over every row, so the same keys are shown throughout). A name's ``<sweep>/`` prefix (a run of
    several sweeps) is left out, unless two networks of one sweep, run or experiment would then
    read the same."""
    names = [str(name) for name in frame[NETWORK]]
    prefixes = [name.rpartition("/")[0] for name in names]
    labels = short_network_labels([name.rpartition("/")[2] for name in names])
    group = next((frame[key].astype(str).tolist() for key in ("sweep", "run", "experiment") if key in frame), [""] * len(names))
    seen: dict[tuple[str, str], set[str]] = {}
    for g, label, name in zip(group, labels, names):
        seen.setdefault((g, label), set()).add(name)
    return [
        f"{prefix}: {label}" if prefix and len(seen[(g, label)]) > 1 else label
        for g, label, prefix in zip(group, labels, prefixes)
    ]


def _whole(values: pd.Series) -> bool:
    present = values.dropna().to_numpy(np.float64)
    return bool(np.isfinite(present).all() and (present == np.round(present)).all())


def is_count_column(name: str, values: pd.Series) -> bool:
    """Whether a float column holds counts: its name says so (:data:`COUNT_COLUMN`) and every
    value present is a whole number."""
    return pd.api.types.is_float_dtype(values) and bool(COUNT_COLUMN.search(str(name))) and _whole(values)


def key_columns(columns: Iterable[str], keys: Iterable[str] = KEY_COLUMNS) -> list[str]:
    """The key columns among a table's ``columns``, in the order shown: those of
    :data:`OUTER_KEYS` in that order, then ``label``, then the others in the table's order.
    :data:`MEMBER_KEYS` count only in a table of networks (one with a ``network`` column);
    ``network`` itself is never among them (it goes last)."""
    columns, keys = list(columns), set(keys)
    networks = NETWORK in columns
    found = [c for c in columns if c in keys and c != NETWORK and (networks or c not in MEMBER_KEYS)]
    first = [key for key in (*OUTER_KEYS, "label") if key in found]
    return first + [c for c in found if c not in first]


def report_layout(frame: pd.DataFrame, keys: Iterable[str] = KEY_COLUMNS, counts: Iterable[str] = ()) -> pd.DataFrame:
    """The table as every form shows it (the frame itself is left as it is).

    Parameters
    ----------
    frame : DataFrame
        The table a step computed.
    keys : iterable of str
        The column names that are keys, shown first (those the table has, in the order
        :func:`key_columns` gives); default :data:`KEY_COLUMNS`.
    counts : iterable of str
        More columns of whole numbers to print as integers, beside those :data:`COUNT_COLUMN`
        names (a value that is not whole raises ``ValueError``).

    Returns
    -------
    DataFrame
        A ``label`` column added where there is a ``network`` column of network names (and none
        is there yet), the key columns first, ``network`` last; count columns as nullable
        integers (a missing count prints empty).
    """
    table = frame.copy()
    if NETWORK in table and "label" not in table and len(table):
        labels = network_labels(table)
        if labels != [str(name) for name in table[NETWORK]]:  # names that are not network names
            table["label"] = labels
    first = key_columns(table.columns, keys)
    last = [NETWORK] if NETWORK in table else []
    table = table[first + [c for c in table.columns if c not in first and c not in last] + last]
    extra = set(counts)
    for column in table.columns:
        if column in extra and pd.api.types.is_numeric_dtype(table[column]) and not _whole(table[column]):
            raise ValueError(f"column {column!r} is given as counts but holds values that are not whole numbers")
        if (column in extra and pd.api.types.is_float_dtype(table[column])) or is_count_column(column, table[column]):
            table[column] = table[column].astype("Int64")
    return table


def _column_styles(frame: pd.DataFrame, keys: Iterable[str]) -> str:
    """CSS of the HTML form's columns: text left-aligned (numbers stay right-aligned), a key
    column (the network's label among them) on one line."""
    keys, rules = set(keys), []
    for i, column in enumerate(frame.columns, start=1):
        dtype = frame[column].dtype
        number = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        style = ("" if number else "text-align: left; ") + ("white-space: nowrap; " if column in keys else "")
        if style:
            rules.append(f"td:nth-child({i}), th:nth-child({i}) {{ {style.strip()} }}\n")
    return "".join(rules)


def _text_forms(frame: pd.DataFrame, title: str, digits: int, keys: Iterable[str] = ()) -> dict[str, str]:
    """CSV, Markdown and HTML of a laid-out table; floats with ``digits`` decimals, integers as
    integers, missing values empty (CSV, HTML) or ``nan`` (Markdown, as before); ``keys``: the
    key columns, kept on one line in HTML."""
    integer = [c for c in frame.columns if isinstance(frame[c].dtype, pd.Int64Dtype)]
    # Markdown gets the counts as Python ints and None (printed empty), HTML as text
    shown, page = frame.copy(), frame.copy()
    for c in integer:
        shown[c] = pd.Series([None if pd.isna(v) else int(v) for v in frame[c]], index=frame.index, dtype=object)
        page[c] = ["" if pd.isna(v) else str(int(v)) for v in frame[c]]
    return {
        "csv": frame.to_csv(index=False, float_format=f"%.{digits}f"),
        "md": shown.to_markdown(index=False, floatfmt=f".{digits}f", missingval="") + "\n",
        "html": _PAGE.format(
            title=title,
            columns=_column_styles(frame, keys),
            table=page.to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", border=0, na_rep=""),
        ),
    }


def write_result_table(
    frame: pd.DataFrame, path: str | Path, *, digits: int = 4, keys: Iterable[str] = KEY_COLUMNS, counts: Iterable[str] = ()
) -> list[Path]:
    """Write ``frame`` as ``<name>.csv``, ``<name>.md`` and ``<name>.html`` beside each other.

    ``path`` names any one of the three (a rule's named output is usually the HTML, which the
    report shows). The table is laid out by :func:`report_layout` (``keys``, ``counts``): key
    columns first, a short network ``label`` beside the full ``network`` name (last), counts as
    integers. Floats are rounded to ``digits`` decimals in every form, so that the files are
    byte-identical between runs that agree to that precision.
    """
    path = Path(path)
    if path.suffix.lstrip(".") not in FORMATS:
        raise ValueError(f"a table's path must end in one of {', '.join('.' + f for f in FORMATS)}, got {path}")
    table = report_layout(frame, keys, counts)
    texts = _text_forms(table, path.stem, digits, key_columns(table.columns, keys))
    written = []
    for ext in FORMATS:
        with atomic_output(path.with_suffix(f".{ext}")) as target:
            target.write_text(texts[ext])
        written.append(path.with_suffix(f".{ext}"))
    return written
