"""What a finished rehearsal ran, beside the paper DAG: one row per rule.

    .venv/bin/python benchmarks/rehearsal.py [--results results-rehearsal]

Reads the rehearsal's Snakemake benchmark files (``<results>/benchmarks/<rule>/...tsv``: one per
job that ran, with its wall time and peak memory) and the paper DAG's job counts from a dry run of
``config/paper.yaml``, and prints a Markdown table: the paper's jobs, the rehearsal's jobs run,
their total and longest wall time and their largest peak RSS. A rule of the paper DAG that the
rehearsal did not run is flagged, and the exit status is then 1.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def paper_job_counts() -> dict[str, int]:
    """Jobs per rule of the paper DAG, from Snakemake's dry run (in a scratch folder, so that no
    existing result makes a job look done)."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            [str(Path(sys.executable).with_name("snakemake")), "--snakefile", str(REPO / "Snakefile"),
             "--directory", scratch, "--dry-run", "--cores", "2", "--configfile", str(REPO / "config/paper.yaml")],
            capture_output=True, text=True, check=True,
        )
    counts, started = {}, False
    for line in result.stdout.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            started = True
        elif started and parts[:1] == ["total"]:
            break
        elif started and len(parts) == 2 and parts[1].isdigit() and parts[0] != "all":
            counts[parts[0]] = int(parts[1])
    return counts


def rehearsal_jobs(results: Path) -> pd.DataFrame:
    """One row per job that ran: rule, wall seconds, peak RSS (MB), from the benchmark files."""
    rows = []
    for path in sorted((results / "benchmarks").rglob("*.tsv")):
        rule = path.relative_to(results / "benchmarks").parts[0]
        frame = pd.read_csv(path, sep="\t")
        peak = pd.to_numeric(frame["max_rss"], errors="coerce").iloc[-1]  # "-" when not measured
        rows.append({"rule": rule, "s": float(frame["s"].iloc[-1]), "max_rss": float(peak)})
    return pd.DataFrame(rows, columns=["rule", "s", "max_rss"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(REPO / "results-rehearsal"), help="the rehearsal's results folder")
    options = parser.parse_args()
    paper = paper_job_counts()
    jobs = rehearsal_jobs(Path(options.results))
    by_rule = jobs.groupby("rule").agg(jobs=("s", "size"), total_s=("s", "sum"), longest_s=("s", "max"), peak_rss_mb=("max_rss", "max"))
    print("| rule | paper jobs | rehearsal jobs | total s | longest s | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|")
    missing = []
    for rule in sorted(set(paper) | set(by_rule.index), key=lambda r: (-paper.get(r, 0), r)):
        if rule in by_rule.index:
            row = by_rule.loc[rule]
            print(f"| {rule} | {paper.get(rule, 0)} | {int(row.jobs)} | {row.total_s:.0f} | {row.longest_s:.0f} | {row.peak_rss_mb:.0f} |")
        else:
            missing.append(rule)
            print(f"| {rule} | {paper[rule]} | **0: not run** | | | |")
    print(f"| total | {sum(paper.values())} | {len(jobs)} | {jobs['s'].sum():.0f} | | |")
    if missing:
        print(f"rules of the paper DAG the rehearsal did not run: {', '.join(missing)}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
