"""Fit every analysis rule's unit costs (pipeline/plan/unit_costs.json) on a finished run.

    .venv/bin/python benchmarks/unit_costs.py [--configfile config/config.yaml] [--results results]

Reads the run's Snakemake benchmark files (wall seconds and peak RSS of every job) and, from a dry
run of the same config, each job's units of work (the ``units`` resource: the networks it reads).
Per rule, time and memory are fitted as ``fixed + per unit x units`` by least squares with both
terms kept non-negative (a rule whose jobs all read as many networks has a fixed cost only). The
fit is on one scale (the default run); `python -m pipeline plan --against` checks it on another
(the rehearsal). Training-type rules are not fitted: their estimates come from the work counted
from the config (pipeline.plan).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from pipeline.plan import UNIT_COSTS_FILE
from pipeline.plan.report import against, dry_run_jobs

REPO = Path(__file__).resolve().parents[1]
TRAINING_RULES = {"train_population", "sample_jump_retrain", "sample_probes", "train_suggested_network"}


def fit(units: np.ndarray, values: np.ndarray, floor: float) -> tuple[float, float]:
    """``(fixed, per unit)`` minimizing the squared error of ``fixed + per_unit x units``, with
    ``fixed >= floor`` (no job costs less than the cheapest job of the run: a process starting)
    and ``per_unit >= 0``."""
    if len(set(units)) < 2:
        return max(float(np.median(values)), floor), 0.0
    (fixed, per_unit), _ = nnls(np.column_stack([np.ones_like(units), units]), values - floor)
    return floor + float(fixed), float(per_unit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", nargs="+", default=[str(REPO / "config/config.yaml")])
    parser.add_argument("--results", type=Path, default=REPO / "results")
    options = parser.parse_args()
    jobs, _ = dry_run_jobs(options.configfile)
    measured = against(jobs, options.results).merge(jobs[["benchmark", "units"]].assign(
        benchmark=lambda f: f["benchmark"].map(lambda b: str(Path(b).relative_to(Path(b).parts[0])))), on="benchmark")
    rules = {}
    floor_s, floor_mb = measured["seconds"].min(), measured["max_rss_mb"].min()
    for rule, group in measured.groupby("rule"):
        if rule in TRAINING_RULES:
            continue
        units = group["units"].to_numpy(float)
        seconds, per_unit_seconds = fit(units, group["seconds"].to_numpy(float), floor_s)
        mb, per_unit_mb = fit(units, group["max_rss_mb"].to_numpy(float), floor_mb)
        rules[rule] = {
            "seconds": round(seconds, 3), "per_unit_seconds": round(per_unit_seconds, 5),
            "mb": round(mb, 1), "per_unit_mb": round(per_unit_mb, 3), "jobs": len(group),
        }
        print(f"{rule:34s} {len(group):3d} jobs  {seconds:7.2f} s + {per_unit_seconds:.4f} s/unit   "
              f"{mb:7.1f} MB + {per_unit_mb:.3f} MB/unit")
    UNIT_COSTS_FILE.write_text(json.dumps({
        "measured": f"{' + '.join(options.configfile)} -> {options.results} ({platform.node()}, fitted {datetime.date.today()})",
        "rules": rules,
    }, indent=1) + "\n")
    print(f"written: {UNIT_COSTS_FILE}")


if __name__ == "__main__":
    main()
