"""Result tables, written once in three forms: CSV (for programs), Markdown (for reading in a
terminal or a README) and a small HTML page (for the Snakemake report, which shows HTML and
images inline but offers CSV only as a download)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .store import atomic_output

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
    """Write ``frame`` as ``<name>.csv``, ``<name>.md`` and ``<name>.html`` beside each other.

    ``path`` names any one of the three (a rule's named output is usually the HTML, which the
    report shows). Floats are rounded to ``digits`` decimals in every form, so that the files are
    byte-identical between runs that agree to that precision.
    """
    path = Path(path)
    if path.suffix.lstrip(".") not in FORMATS:
        raise ValueError(f"a table's path must end in one of {', '.join('.' + f for f in FORMATS)}, got {path}")
    texts = {
        "csv": frame.to_csv(index=False, float_format=f"%.{digits}f"),
        "md": frame.to_markdown(index=False, floatfmt=f".{digits}f") + "\n",
        "html": _PAGE.format(
            title=path.stem, table=frame.to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", border=0, na_rep="")
        ),
    }
    written = []
    for ext in FORMATS:
        with atomic_output(path.with_suffix(f".{ext}")) as target:
            target.write_text(texts[ext])
        written.append(path.with_suffix(f".{ext}"))
    return written
