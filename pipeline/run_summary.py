"""What the end of a run prints (the workflow's ``onsuccess`` and ``onerror`` handlers).

On success: where the results are, per study (its tables, figures and pages), the claims page,
and the next command. On error: each failed rule, its log file and the last lines of that log,
read from Snakemake's own log of the run. No torch or matplotlib here: Snakemake imports it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

TAIL_LINES = 15


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def results_summary(results: str | Path, studies: Iterable[str], configfiles: Iterable[str] = ()) -> str:
    """Lines naming, per study that has results, how many tables (distinct names under any
    ``tables/`` folder), figures (distinct names, whatever their formats) and pages (HTML outside
    ``tables/``) it wrote and where; then the claims page and the next command (``make report``,
    with ``CONFIG=`` naming ``configfiles`` when they are not the default)."""
    results = Path(results)
    lines = [f"Finished. Results under {results}/:"]
    for study in studies:
        folder = results / study
        if not folder.is_dir():
            continue
        tables = {p.with_suffix("") for p in folder.rglob("tables/*") if p.suffix in (".csv", ".md", ".html")}
        figures = len({p.with_suffix("") for pattern in ("*.png", "*.pdf") for p in folder.rglob(pattern)})
        pages = sum(1 for p in folder.rglob("*.html") if p.parent.name != "tables")
        parts = [_count(len(tables), "table"), _count(figures, "figure")] + ([_count(pages, "page")] if pages else [])
        lines.append(f"  {study:<22} {', '.join(parts):<34} {folder}/")
    claims = results / "claims.md"
    if claims.exists():
        lines.append(f"  {'claims':<22} {'every paper claim, with evidence':<34} {claims} (and .html)")
    configfiles = [str(path) for path in configfiles]
    config = "" if configfiles in ([], ["config/config.yaml"]) else f' CONFIG="{" ".join(configfiles)}"'
    lines.append(f"Next: `make report{config}` writes {results}/report.html (the claims page, then every table and figure).")
    return "\n".join(lines)


_ERROR = re.compile(r"^Error in rule (?P<rule>\S+):\s*$")
_LOG = re.compile(r"^\s+log: (?P<paths>.+?)(?: \(check log file\(s\) for error details\))?\s*$")
_JOBID = re.compile(r"^\s+jobid: (?P<jobid>\d+)\s*$")


def failed_jobs(snakemake_log: str) -> list[dict]:
    """Each ``Error in rule`` block of Snakemake's log: the rule, its job id and its log files."""
    jobs, current = [], None
    for line in snakemake_log.splitlines():
        match = _ERROR.match(line)
        if match:
            current = {"rule": match["rule"], "jobid": None, "logs": []}
            jobs.append(current)
            continue
        if current is None:
            continue
        if not line.startswith((" ", "\t")):
            current = None
            continue
        if (match := _JOBID.match(line)) and current["jobid"] is None:
            current["jobid"] = int(match["jobid"])
        elif (match := _LOG.match(line)) and not current["logs"]:
            current["logs"] = [p.strip() for p in match["paths"].split(",") if p.strip()]
    return jobs


def failure_summary(snakemake_logs: Iterable[str | Path], tail: int = TAIL_LINES) -> str:
    """Lines naming each failed rule, its log file and that log's last ``tail`` lines."""
    text = ""
    for path in snakemake_logs:
        path = Path(path)
        if path.is_file():
            text += path.read_text(errors="replace")
    jobs = failed_jobs(text)
    if not jobs:
        return "The run failed before any job did (see the message above)."
    lines = []
    for job in jobs:
        lines.append(f"Failed: rule {job['rule']}" + (f" (job {job['jobid']})" if job["jobid"] is not None else ""))
        for log in job["logs"]:
            log = Path(log)
            if not log.is_file():
                lines.append(f"  its log {log} was not written")
                continue
            last = log.read_text(errors="replace").splitlines()[-tail:]
            lines.append(f"  its log: {log}; the last {len(last)} lines:")
            lines += [f"    {line}" for line in last]
    lines.append("Fix the cause and run the same command again: what finished is kept.")
    return "\n".join(lines)


def finished_targets(config: dict) -> list[str]:
    """The targets a report of what has run covers: ``study_<name>`` for each study whose outputs
    all exist, and the claims page when it exists. Empty when no study has finished (the report
    then covers the default target, and names what is missing)."""
    from .studies import registered

    targets = []
    for name, study in registered().items():
        outputs = study.outputs(config)
        if outputs and all(Path(p).exists() for p in outputs):
            targets.append(f"study_{name}")
    if targets and Path(config["results"], "claims.html").exists():
        targets.append(f"{config['results']}/claims.html")
    return targets


def main(argv: list[str]) -> int:
    """``python -m pipeline finished [--folder] [CONFIG ...]``: :func:`finished_targets` of the
    config files (default config/config.yaml), one per line (``make report`` reports these); with
    ``--folder``, their results folder instead."""
    from .config import load_config

    folder = argv[:1] == ["--folder"]
    config = load_config(*(argv[folder:] or ["config/config.yaml"]))
    for line in [config["results"]] if folder else finished_targets(config):
        print(line)
    return 0
