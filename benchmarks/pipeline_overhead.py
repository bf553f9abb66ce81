"""Benchmark: what the workflow costs around the work itself.

Measures, in one run, side by side with its target:
1. the paper config's dry run: DAG build time and job count (target <= 30 s);
2. the default workflow end to end from an empty results folder, as `make run` runs it once the
   environment exists (target <= 15 minutes on 2 cores);
3. the no-op re-run of that finished workflow: Snakemake starts, builds the DAG, finds nothing to
   do (target <= 5 s).

    .venv/bin/python benchmarks/pipeline_overhead.py [--cores 2] [--workdir DIR] [--configfile F]

With --workdir naming a folder where the default workflow has already run (for example the
repository itself after `make run`), step 2 is skipped and step 3 runs there.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run by `make benchmark` (benchmarks/run_all.py) under this environment.
BENCHMARK_ENV = {}

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def snakemake(workdir: Path, *args: str) -> tuple[float, str]:
    """Run the real Snakemake CLI on this workflow; return (wall seconds, stdout + stderr)."""
    command = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *args]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    seconds = time.perf_counter() - start
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(args)} failed:\n{output[-4000:]}")
    return seconds, output


def total_jobs(output: str) -> int:
    """The 'total' line of Snakemake's job stats (0 when there is nothing to do)."""
    for line in output.splitlines():
        parts = line.split()
        if parts[:1] == ["total"] and len(parts) == 2 and parts[1].isdigit():
            return int(parts[1])
    return 0


def verdict(value: float, target: float) -> str:
    return f"{value / target:5.2f} of target ({'met' if value <= target else 'MISSED'})"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cores", default="2")
    parser.add_argument("--workdir", type=Path, help="a folder where the default workflow already ran")
    parser.add_argument("--configfile", help="workflow config for steps 2 and 3 (default: config/config.yaml)")
    options = parser.parse_args()
    config = ("--configfile", options.configfile) if options.configfile else ()

    with tempfile.TemporaryDirectory() as tmp:
        paper_dir = Path(tmp) / "paper"
        shutil.copytree(REPO / "config", paper_dir / "config")
        seconds, output = snakemake(paper_dir, "--dry-run", "--cores", options.cores, "--configfile", "config/paper.yaml")
        print(f"paper config dry run : {seconds:8.1f} s   {total_jobs(output)} jobs   {verdict(seconds, 30)}")

        if options.workdir:
            workdir = options.workdir.resolve()
        else:
            workdir = Path(tmp) / "default"
            shutil.copytree(REPO / "config", workdir / "config")
            seconds, output = snakemake(workdir, "--cores", options.cores, *config)
            print(f"default run, 0 -> end: {seconds:8.1f} s   {total_jobs(output)} jobs   {verdict(seconds, 15 * 60)}")

        seconds, output = snakemake(workdir, "--cores", options.cores, *config)
        if "Nothing to be done" not in output:
            raise SystemExit(f"the re-run in {workdir} was not a no-op:\n{output[-3000:]}")
        print(f"no-op re-run         : {seconds:8.1f} s   {verdict(seconds, 5)}")


if __name__ == "__main__":
    main()
