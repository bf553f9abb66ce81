"""``python -m pipeline plan``: the bill of a config before it runs, and its check against a run.

    python -m pipeline plan --configfile config/paper.yaml
    python -m pipeline plan --configfile config/paper.yaml config/rehearsal.yaml --against results-rehearsal
    python -m pipeline plan --write-profiles --configfile config/config.yaml --configfile config/paper.yaml config/rehearsal.yaml ...

The jobs and their estimates come from Snakemake's own dry run of the config (in a scratch
folder, so that nothing already computed hides a job): the estimate of each job is among its
resources (``estimate_s``, ``estimate_mb``, ``estimate_gpu_mb``, ``storage_mb``; rules/common.smk
sets them from :mod:`pipeline.plan`), beside what it asks the scheduler for (``runtime``,
``mem_mb``, ``gpu``). The DAG (``--d3dag``) gives the critical path: the longest chain of
estimated job times, the least wall time of the run with unlimited parallel jobs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from . import PROFILES_FILE, Figures

REPO = Path(__file__).resolve().parents[2]


def _snakemake(configfiles, extra, scratch) -> str:
    # many cores: a job's threads are what its rule asks for, not capped by this machine's cores
    command = [
        str(Path(sys.executable).with_name("snakemake")), "--snakefile", str(REPO / "Snakefile"), "--directory", str(scratch),
        "--cores", "512", "--configfile", *map(str, configfiles), *extra,
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"snakemake failed ({' '.join(command)}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout


def parse_jobs(dry_run: str) -> pd.DataFrame:
    """One row per job block of a Snakemake dry run's output: rule, jobid, wildcards, threads,
    benchmark path and every resource."""
    rows, job = [], None
    for line in dry_run.splitlines():
        stripped = line.strip()
        if stripped.startswith(("rule ", "localrule ")) and stripped.endswith(":"):
            job = {"rule": stripped.split()[1].rstrip(":"), "wildcards": {}, "threads": 1, "benchmark": None}
        elif job is None:
            continue
        elif stripped.startswith("jobid:"):
            job["jobid"] = int(stripped.split(":", 1)[1])
        elif stripped.startswith("wildcards:"):
            job["wildcards"] = dict(item.split("=", 1) for item in stripped.removeprefix("wildcards:").strip().split(", "))
        elif stripped.startswith("threads:"):
            job["threads"] = int(stripped.split(":", 1)[1])
        elif stripped.startswith("benchmark:"):
            job["benchmark"] = stripped.split(":", 1)[1].strip()
        elif stripped.startswith("resources:"):
            for item in stripped.removeprefix("resources:").strip().split(", "):
                name, value = item.split("=", 1)
                if value.lstrip("-").isdigit():
                    job[name] = int(value)
            rows.append(job)
            job = None
    return pd.DataFrame(rows)


def critical_path(jobs: pd.DataFrame, d3dag: dict) -> tuple[float, list[str]]:
    """The longest chain of estimated seconds through the DAG, and its rules in order."""
    seconds = dict(zip(jobs["jobid"], jobs["estimate_s"]))
    rule_of = dict(zip(jobs["jobid"], jobs["rule"]))
    node_job = {node["id"]: node["value"]["jobid"] for node in d3dag["nodes"]}
    # the two dry runs number their jobs alike (the same DAG, built the same way): checked
    mismatched = [
        node["value"]["jobid"] for node in d3dag["nodes"]
        if node["value"]["jobid"] in rule_of and rule_of[node["value"]["jobid"]] != node["value"]["rule"]
    ]
    if mismatched:
        raise RuntimeError(f"the DAG and the dry run number jobs differently (jobs {mismatched[:5]})")
    parents: dict[int, list[int]] = {}
    for link in d3dag["edges"]:
        parents.setdefault(node_job[link["v"]], []).append(node_job[link["u"]])
    best: dict[int, tuple[float, list[int]]] = {}

    def longest(job: int) -> tuple[float, list[int]]:
        if job not in best:
            chains = [longest(parent) for parent in parents.get(job, [])]
            before = max(chains, default=(0.0, []))
            best[job] = (before[0] + seconds.get(job, 0), before[1] + [job])
        return best[job]

    sys.setrecursionlimit(max(10_000, 4 * len(node_job)))
    total, chain = max((longest(job) for job in node_job.values()), default=(0.0, []))
    return total, [rule_of[job] for job in chain if job in rule_of]


def dry_run_jobs(configfiles) -> tuple[pd.DataFrame, dict]:
    """The config's jobs (:func:`parse_jobs`) and its DAG, from a dry run in a scratch folder."""
    with tempfile.TemporaryDirectory() as scratch:
        jobs = parse_jobs(_snakemake(configfiles, ["--dry-run"], scratch))
        dag = json.loads(_snakemake(configfiles, ["--d3dag"], scratch))
    jobs = jobs[jobs["rule"] != "all"].reset_index(drop=True)
    for name in ("gpu", "estimate_gpu_mb", "storage_mb"):
        jobs[name] = jobs.get(name, pd.Series(0, index=jobs.index)).fillna(0)
    return jobs, dag


def bill(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per rule: jobs, GPU-hours and CPU-hours (estimated seconds x GPUs, or x threads for a job
    without GPUs), peak host and GPU memory, storage written, and the requested hours."""
    hours = jobs["estimate_s"] / 3600
    frame = pd.DataFrame({
        "rule": jobs["rule"],
        "jobs": 1,
        "gpu_hours": hours * jobs["gpu"],
        "cpu_hours": hours * jobs["threads"] * (jobs["gpu"] == 0),
        "peak_host_gb": jobs["estimate_mb"] / 1000,
        "peak_gpu_gb": jobs["estimate_gpu_mb"] / 1000,
        "storage_gb": jobs["storage_mb"] / 1000,
        "requested_hours": jobs["runtime"] / 60 * jobs["gpu"].where(jobs["gpu"] > 0, jobs["threads"]),
    })
    table = frame.groupby("rule", sort=False).agg(
        jobs=("jobs", "sum"), gpu_hours=("gpu_hours", "sum"), cpu_hours=("cpu_hours", "sum"),
        peak_host_gb=("peak_host_gb", "max"), peak_gpu_gb=("peak_gpu_gb", "max"), storage_gb=("storage_gb", "sum"),
        requested_hours=("requested_hours", "sum"),
    )
    table = table.sort_values(["gpu_hours", "cpu_hours"], ascending=False)
    total = table.agg({
        "jobs": "sum", "gpu_hours": "sum", "cpu_hours": "sum", "peak_host_gb": "max", "peak_gpu_gb": "max",
        "storage_gb": "sum", "requested_hours": "sum",
    })
    table.loc["total"] = total
    return table


def against(jobs: pd.DataFrame, results: Path) -> pd.DataFrame:
    """Estimate against measurement for every job of ``jobs`` that ran into ``results``: its
    Snakemake benchmark file's wall seconds and peak RSS beside ``estimate_s`` and ``estimate_mb``."""
    rows = []
    for job in jobs.itertuples():
        if not job.benchmark:
            continue
        relative = Path(job.benchmark).relative_to(Path(job.benchmark).parts[0])  # drop the config's results folder
        path = results / relative
        if not path.exists():
            continue
        measured = pd.read_csv(path, sep="\t").iloc[-1]
        rss = pd.to_numeric(measured["max_rss"], errors="coerce")
        rows.append({
            "rule": job.rule, "benchmark": str(relative), "seconds": float(measured["s"]), "estimate_s": job.estimate_s,
            "max_rss_mb": float(rss), "estimate_mb": job.estimate_mb,
        })
    frame = pd.DataFrame(rows)
    frame["time_ratio"] = frame["estimate_s"] / frame["seconds"].clip(lower=1)
    frame["memory_ratio"] = frame["estimate_mb"] / frame["max_rss_mb"]
    return frame


def _within(ratios: pd.Series) -> pd.Series:
    return ratios.between(0.5, 2.0)


def against_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per rule: jobs compared, the median estimate/measured ratio of time and of peak memory, and
    the jobs within 0.5-2x of both."""
    frame = frame.assign(within=_within(frame["time_ratio"]) & _within(frame["memory_ratio"]))
    table = frame.groupby("rule").agg(
        jobs=("rule", "size"), measured_s=("seconds", "sum"), estimate_s=("estimate_s", "sum"),
        time_ratio=("time_ratio", "median"), memory_ratio=("memory_ratio", "median"), within=("within", "sum"),
    )
    table.loc["total"] = [
        len(frame), frame["seconds"].sum(), frame["estimate_s"].sum(), frame["time_ratio"].median(),
        frame["memory_ratio"].median(), frame["within"].sum(),
    ]
    return table.sort_values("measured_s", ascending=False)


def write_profiles(configfiles_list) -> None:
    """Measure the profile of every architecture (and input shape) the configs train, and write
    them to :data:`PROFILES_FILE` (what the estimates read without importing torch)."""
    from ..config import load_config
    from ..data import dataset_geometry
    from . import profile_key
    from .profiles import network_profile

    table = {}
    for configfiles in configfiles_list:
        config = load_config(*configfiles)
        for sweep in config["sweeps"].values():
            geometry = dataset_geometry(sweep["dataset"], sweep["dataset_options"])
            key = profile_key(sweep["architecture"], geometry["input_shape"], geometry["outputs"], sweep["precision"])
            if key not in table:
                table[key] = network_profile(sweep["architecture"], geometry["input_shape"], geometry["outputs"], sweep["precision"])
                print(f"{key}: {table[key]}", file=sys.stderr)
    PROFILES_FILE.write_text(json.dumps(dict(sorted(table.items())), indent=1) + "\n")
    print(f"{len(table)} profiles written to {PROFILES_FILE}")


def _hours(h: float) -> str:
    return f"{h:,.1f}" if h >= 0.1 or h == 0 else f"{h:.3f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline plan", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configfile", nargs="+", action="append", required=True,
        help="config files, merged in order (as Snakemake's); with --write-profiles, repeat it for each config to profile",
    )
    parser.add_argument("--against", type=Path, help="a finished run's results folder: estimate against measurement per job")
    parser.add_argument(
        "--write-profiles", action="store_true",
        help="measure the architectures that the configs (one per --configfile) train and write the profile table",
    )
    options = parser.parse_args(argv)
    if options.write_profiles:
        write_profiles(options.configfile)
        return 0
    if len(options.configfile) > 1:
        parser.error("one --configfile (with as many files as it merges) unless --write-profiles")
    options.configfile = options.configfile[0]
    from ..config import load_config

    config = load_config(*options.configfile)
    figures = Figures.from_config(config)
    jobs, dag = dry_run_jobs(options.configfile)
    table = bill(jobs)
    seconds, chain = critical_path(jobs, dag)
    print(f"# Plan of {' + '.join(options.configfile)}: {len(jobs)} jobs\n")
    shown = table.copy()
    for column in ("gpu_hours", "cpu_hours", "requested_hours"):
        shown[column] = shown[column].map(_hours)
    for column in ("peak_host_gb", "peak_gpu_gb", "storage_gb"):
        shown[column] = shown[column].map(lambda v: f"{v:,.1f}")
    shown["jobs"] = shown["jobs"].astype(int)
    print(shown.to_markdown())
    total = table.loc["total"]
    print(
        f"\nTotal: {int(total['jobs'])} jobs, {_hours(total['gpu_hours'])} GPU-hours, {_hours(total['cpu_hours'])} CPU-hours "
        f"(requested: {_hours(total['requested_hours'])} device-hours), peak {total['peak_host_gb']:.1f} GB host and "
        f"{total['peak_gpu_gb']:.1f} GB GPU memory per job, {total['storage_gb']:.1f} GB written."
    )
    print(f"Critical path: {seconds / 3600:.1f} h ({len(chain)} jobs: {' -> '.join(dict.fromkeys(chain))}).")
    over = jobs[jobs["estimate_gpu_mb"] > figures.gpu_memory_gb * 1000]
    if len(over):
        print(f"\nOver the GPU's {figures.gpu_memory_gb:g} GB (compute.plan.gpu_memory_gb): {len(over)} jobs, "
              f"up to {over['estimate_gpu_mb'].max() / 1000:.1f} GB ({', '.join(sorted(set(over['rule'])))}).")
    if figures.max_runtime_min is not None:
        several = jobs[jobs["attempts"] > 1]
        unfit = jobs[jobs["attempts"] == 0]
        most = int(several["attempts"].max()) if len(several) else 1
        print(f"\nTime limit {figures.max_runtime_min} min (compute.plan.max_runtime_min): "
              + (f"{len(several)} resumable jobs run as several attempts, up to {most} "
                 f"(the profile's retries must be at least {most - 1}); " if len(several) else "every job fits one attempt; ")
              + (f"{len(unfit)} jobs cannot fit ({', '.join(sorted(set(unfit['rule'])))})." if len(unfit)
                 else "no job over it that cannot resume."))
    print(
        f"\nDevice figures (compute.plan): GPU {dict(figures.gpu_tflops)} TFLOP/s achieved, {figures.gpu_op_us:g} us per op on the "
        f"host; CPU x{figures.cpu_speed:g} the reference core; start-up {figures.startup_s:g} s; margins x{figures.runtime_margin:g} "
        f"time, x{figures.memory_margin:g} memory."
    )
    if options.against:
        frame = against(jobs, options.against)
        within = (_within(frame["time_ratio"]) & _within(frame["memory_ratio"])).mean()
        print(f"\n## Estimate against {options.against}: {len(frame)} jobs measured\n")
        print(against_table(frame).to_markdown(floatfmt=".2f"))
        print(
            f"\nWithin 0.5-2x in time and memory: {within:.0%} of jobs (time alone {_within(frame['time_ratio']).mean():.0%}, "
            f"memory alone {_within(frame['memory_ratio']).mean():.0%})."
        )
    return 0
