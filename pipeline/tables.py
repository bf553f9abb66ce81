"""Result tables, written once in three forms: CSV (for programs), Markdown (for reading in a
terminal or a README) and a small HTML page (for the Snakemake report, which shows HTML and
images inline but offers CSV only as a download)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

FORMATS = ("csv", "md", "html")

_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; font-size: 14px; margin: 1em; color: #1e293b; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: 4px 10px; border-bottom: 1px solid #cbd5e1; text-align: right; }}
th {{ background: #f1f5f9; }}
td:first-child, th:first-child {{ text-align: left; }}
</style></head><body>
<h3>{title}</h3>
{table}
</body></html>
"""


def write_result_table(frame: pd.DataFrame, path: str | Path, *, digits: int = 4) -> list[Path]:
    """Write ``frame`` at ``path`` (a ``.csv`` name) and beside it as ``.md`` and ``.html``.

    Floats are rounded to ``digits`` decimals in every form, so that the files are byte-identical
    between runs that agree to that precision.
    """
    path = Path(path)
    if path.suffix != ".csv":
        raise ValueError(f"a table's path must end in .csv, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    texts = {
        "csv": frame.to_csv(index=False, float_format=f"%.{digits}f"),
        "md": frame.to_markdown(index=False, floatfmt=f".{digits}f") + "\n",
        "html": _PAGE.format(
            title=path.stem, table=frame.to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", border=0, na_rep="")
        ),
    }
    written = []
    for ext in FORMATS:
        # written aside and renamed: a killed step never leaves a half-written table
        target = path.with_suffix(f".{ext}")
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(texts[ext])
        os.replace(tmp, target)
        written.append(target)
    return written
