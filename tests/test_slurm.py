"""Submission to a real SLURM cluster on localhost (tests/slurm/start_cluster.sh starts it).

The workflow goes through `profiles/slurm` with the slurm executor plugin, exactly as a user
submits it: the partitions are the profile's own (profiles/slurm/partitions.yaml names `cpu` and
`gpu`, the localhost cluster's), and its retries apply. Only smaller default resources, `cores`,
a short first status check and where SLURM logs go are added on the command line.
"""

import os
import re
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, TEST_RESULTS, run_snakemake

pytestmark = [pytest.mark.slow, pytest.mark.slurm, pytest.mark.timeout(1200)]

def submit_arguments(node_cpus: int) -> tuple[str, ...]:
    """The profile, plus what it leaves to the user: `cores` set to one node's CPUs.

    A group job asks for the CPUs of the steps it can run at once, up to `cores`; more than the
    node has can never be scheduled (CI machines may have a single CPU). The profile's path is
    absolute: it names partitions.yaml relative to itself, and Snakemake resolves that against
    the directory it was started in, before `--directory` changes it.
    """
    return (
        "--profile", str(REPO / "profiles/slurm"),
        "--default-resources", "mem_mb=1000", "runtime=20",
        "--slurm-init-seconds-before-status-checks", "5",
        # the jobs' SLURM logs, kept in the working folder: which rule (or group) each job ran
        "--slurm-logdir", "slurm_logs", "--slurm-keep-successful-logs",
        "--jobs", "4", "--cores", str(node_cpus),
    )


STATE = Path("/tmp/slurm-local")


def cluster_state() -> str:
    """What the cluster looks like now (queue, node, daemon log tails), for failure messages."""
    parts = []
    for command in (["sinfo"], ["squeue"], ["scontrol", "show", "node", "localhost"]):
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=30)
            parts.append(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}")
        except (OSError, subprocess.TimeoutExpired) as error:
            parts.append(f"$ {' '.join(command)}\n{error}")
    for log in sorted(STATE.glob("log/*")):
        parts.append(f"--- {log}:\n{log.read_text(errors='replace')[-2000:]}")
    return "\n".join(parts)


@pytest.fixture(scope="module")
def slurm_cluster() -> int:
    """A running localhost cluster that can run a job; the number of CPUs of its node."""
    if os.geteuid() != 0 and not os.environ.get("CI"):
        pytest.skip("starting a SLURM cluster needs root (CI runs as root)")
    try:
        started = subprocess.run(
            ["bash", str(REPO / "tests/slurm/start_cluster.sh"), str(STATE)],
            capture_output=True, text=True, timeout=300,
        )
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"start_cluster.sh ran past 300 s:\n{error.stdout}\n{error.stderr}\n{cluster_state()}")
    print(started.stdout)
    assert started.returncode == 0, f"start_cluster.sh failed:\n{started.stdout}\n{started.stderr}\n{cluster_state()}"
    # A trivial job first: when this machine cannot run even that (a sandbox without what slurmd
    # needs), the workflow tests below could only hang; that is this machine's limit, said here.
    try:
        trivial = subprocess.run(
            ["sbatch", "--wait", "--parsable", "--partition", "debug", "--mem", "100", "--time", "2",
             "--output", "/dev/null", "--wrap", "true"],
            capture_output=True, text=True, timeout=120,
        )
        ran = trivial.returncode == 0
        why = f"exit {trivial.returncode}: {trivial.stdout}{trivial.stderr}"
    except subprocess.TimeoutExpired:
        ran, why = False, "no result within 120 s"
    if not ran:
        subprocess.run(["scancel", "--user", "root", "--name", "wrap"], timeout=30)
        pytest.skip(f"the localhost SLURM cluster cannot run a trivial job on this machine ({why}):\n{cluster_state()}")
    cpus = subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True, timeout=30).stdout.split()
    return int(cpus[0])


GROUPED_NETWORK_MANIFOLD = (
    "extract_representations", "compute_network_matrices", "compute_network_distances", "characterize_networks",
    "compute_persistence", "embed_networks", "plot_network_manifold",
)


def _slurm_jobs(workdir) -> dict[str, dict[str, str]]:
    """The finished SLURM jobs whose working directory was ``workdir``, by job id: their fields
    in the job completion log (JobState, Partition, NodeList, StartTime, EndTime, ...)."""
    config = Path("/etc/slurm/slurm.conf").read_text()
    [completion_log] = re.findall(r"^JobCompLoc=(.+)$", config, flags=re.M)
    jobs = {}
    for line in Path(completion_log).read_text().splitlines():
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        if fields.get("WorkDir") == str(workdir):
            jobs[fields["JobId"]] = fields
    return jobs


def _slurm_jobs_run_in(workdir) -> list[str]:
    """States of the SLURM jobs whose working directory was ``workdir`` (from the job completion log)."""
    return [fields["JobState"] for fields in _slurm_jobs(workdir).values()]


def _profile_retries() -> int:
    """How many times the profile submits a failed job again."""
    return int(yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text()).get("retries", 0))


def test_test_config_runs_to_the_end_through_slurm(slurm_cluster, workdir):
    result = run_snakemake(*submit_arguments(slurm_cluster), "--configfile", "config/test.yaml", workdir=workdir, check=False, timeout=600)
    assert result.returncode == 0, f"{result.stderr[-6000:]}\n{cluster_state()}"
    log = result.stdout + result.stderr
    assert "Job " in log and "has been submitted with SLURM jobid" in log
    table = pd.read_parquet(workdir / TEST_RESULTS / "zoo/mlp_tiny/metrics.parquet")
    assert len(table) == 8 and table["test_accuracy"].between(0, 1).all()
    assert (workdir / TEST_RESULTS / "network_manifold/tables/table1.csv").exists()
    assert (workdir / TEST_RESULTS / "loss_landscape/tables/table1.csv").exists()
    assert (workdir / TEST_RESULTS / "activation_landscapes/tiny/tables/pvalues.csv").exists()
    # SLURM really ran every submission, and the network-manifold sweep's seven analysis steps as
    # one group job (the rules' group:): one SLURM log for the group, none for the steps alone
    submitted = log.count("has been submitted with SLURM jobid")
    assert submitted >= 5 and _slurm_jobs_run_in(workdir) == ["COMPLETED"] * submitted
    slurm_logs = workdir / "slurm_logs"
    grouped = [log for folder in slurm_logs.glob("group_network_manifold*") for log in folder.rglob("*.log")]
    assert len(grouped) == 1, sorted(p.name for p in slurm_logs.iterdir())
    for rule in GROUPED_NETWORK_MANIFOLD:
        assert not (slurm_logs / f"rule_{rule}").exists(), f"{rule} was submitted on its own"


def test_failing_rule_is_reported_failed_not_waited_on(slurm_cluster, workdir):
    # MNIST was prepared (its record is there) and its files were emptied since: the workflow
    # starts (an absent dataset would stop it before any job) and the training job itself fails
    # under SLURM when it reads them.
    raw = workdir / "bad_data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"")
    (workdir / "results" / "data").mkdir(parents=True)
    (workdir / "results" / "data" / "mnist.json").write_text("{}")
    failing = workdir / "failing.yaml"
    failing.write_text(
        yaml.safe_dump(
            {
                "data": {"root": str(workdir / "bad_data"), "download": False},
                "sweeps": {
                    "mlp_mnist": {
                        "dataset": "mnist",
                        "architecture": {"name": "mlp", "hidden": [8]},
                        "grid": {"lr": [0.1]},
                        "epochs": 1,
                        "population_size": 1,
                    }
                },
                "network_manifold": {"sweeps": []},
            }
        )
    )
    start = time.monotonic()
    result = run_snakemake(*submit_arguments(slurm_cluster), "--configfile", str(failing), workdir=workdir, check=False, timeout=600)
    seconds = time.monotonic() - start
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Error in rule train_population" in log
    # the first submission and each of the profile's retries, every one failed
    assert _slurm_jobs_run_in(workdir) == ["FAILED"] * (1 + _profile_retries())
    print(f"SLURM: the failed job (and its {_profile_retries()} retries) was reported failed {seconds:.0f} s after snakemake started")
    # each attempt is reported failed within 120 s of the last (a check that cannot see a finished
    # job would wait on it forever)
    bound = 120 * (1 + _profile_retries())
    assert seconds < bound, f"the failure took {seconds:.0f} s to be reported (bound {bound} s)"
    job_logs = list((workdir / "results/logs/train_population").rglob("*.log"))
    assert job_logs and "data.download: true" in job_logs[0].read_text()


def _sbatch_flags(call: str) -> str:
    """An sbatch call's options, without the command it wraps (which names sweeps and rules)."""
    return call.split(" --wrap=", 1)[0]


def test_gpu_jobs_ask_for_gpus_on_the_gpu_partition_and_cpu_jobs_do_not(slurm_cluster, workdir):
    """Issue 18: the devices come from the config, never from the submitting host (this one has no
    GPU). The cuda sweep's training asks SLURM for a GPU on the profile's GPU partition, is
    scheduled there (the node's fake GPUs satisfy it) and stops at once, finding no CUDA device,
    rather than train on the CPU; the cpu sweep's training and a study's analysis of it ask for no
    GPU, go to the CPU partition and run to the end."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this host has a GPU: the cuda job would train instead of failing")
    partitions = yaml.safe_load((REPO / "profiles/slurm/partitions.yaml").read_text())["partitions"]
    [gpu_partition] = [name for name, limits in partitions.items() if (limits or {}).get("max_gpu", 0) > 0]
    [cpu_partition] = [name for name, limits in partitions.items() if not (limits or {}).get("max_gpu", 0)]
    cluster_partitions = subprocess.run(["sinfo", "-h", "-o", "%R"], capture_output=True, text=True, timeout=30).stdout.split()
    assert {gpu_partition, cpu_partition} <= set(cluster_partitions), cluster_partitions
    config = workdir / "devices.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "compute": {"device": "cpu", "gpus_per_training_job": 1},
                "sweeps": {
                    "mlp_on_gpu": {
                        "dataset": "digits", "architecture": {"name": "mlp", "hidden": [8]},
                        "grid": {"lr": [0.05, 0.2]}, "epochs": 1, "batch_size": 64, "population_size": 2,
                        "device": "cuda",
                    },
                    # the relu_complex study's sweep of config/test.yaml, on the CPU
                    "relu_on_cpu": {
                        "dataset": "moons", "dataset_options": {"n_samples": 200},
                        "architecture": {"name": "mlp", "hidden": [6, 6]}, "optimizer": "adam",
                        "grid": {"lr": [0.01], "momentum": [0.9], "weight_decay": [0.001]},
                        "epochs": 4, "batch_size": 40, "snapshot_every": 4, "snapshot_metrics": True,
                        "population_size": 1, "device": "cpu",
                    },
                },
                "relu_complex": {"classification": ["relu_on_cpu"], "betti_orders": 2, "filtration_points": 11},
            }
        )
    )
    # --verbose: the plugin logs each sbatch command line exactly as it runs it ("sbatch call: ...")
    result = run_snakemake(
        *submit_arguments(slurm_cluster), "--configfile", str(config), "--keep-going", "--verbose",
        workdir=workdir, check=False, timeout=600,
    )
    log = result.stdout + result.stderr
    calls = re.findall(r"^sbatch call: (sbatch .*)$", log, flags=re.M)
    assert calls, f"no sbatch call logged:\n{log[-4000:]}"
    gpu_calls = [c for c in calls if "--comment rule_train_population_wildcards_mlp_on_gpu_" in c]
    cpu_calls = [c for c in calls if c not in gpu_calls]
    print(f"\nsbatch of the GPU training job (cuda sweep mlp_on_gpu):\n{gpu_calls[0]}")
    cpu_training = next(c for c in cpu_calls if "--comment rule_train_population_wildcards_relu_on_cpu_" in c)
    print(f"\nsbatch of a CPU job (training of the cpu sweep relu_on_cpu):\n{cpu_training}")
    # the GPU job: submitted once and again at each of the profile's retries, each time asking
    # for the GPU on the GPU partition
    assert len(gpu_calls) == 1 + _profile_retries()
    for call in gpu_calls:
        flags = _sbatch_flags(call)
        assert re.search(r" --gpus=1( |$)", flags) and f" -p {gpu_partition} " in flags, call
    # the CPU jobs: the cpu sweep's training, the study's group job; no GPU, the CPU partition
    assert any("--comment rule_relu_complex_" in c for c in cpu_calls), cpu_calls
    assert len(cpu_calls) >= 2
    for call in cpu_calls:
        flags = _sbatch_flags(call)
        assert "--gpus" not in flags and "--gres" not in flags and f" -p {cpu_partition} " in flags, call

    # What SLURM did with each: the jobs' ids from Snakemake's log, their ends from the cluster's.
    submitted = dict(re.findall(r"has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.", log))
    jobs = _slurm_jobs(workdir)
    assert set(submitted) == set(jobs), f"{submitted}\n{jobs}\n{cluster_state()}"
    gpu_jobs = [jobs[i] for i, path in submitted.items() if "/rule_train_population/mlp_on_gpu_" in path]
    cpu_jobs = [jobs[i] for i, path in submitted.items() if "/rule_train_population/mlp_on_gpu_" not in path]
    assert len(gpu_jobs) == len(gpu_calls) and len(cpu_jobs) == len(cpu_calls)
    for job in gpu_jobs:
        # scheduled on the node (its fake GPUs satisfy --gpus) and failed at once
        assert job["JobState"] == "FAILED" and job["Partition"] == gpu_partition and job["NodeList"] == "localhost", job
        ran = datetime.fromisoformat(job["EndTime"]) - datetime.fromisoformat(job["StartTime"])
        assert ran.total_seconds() < 60, job
    for job in cpu_jobs:
        assert job["JobState"] == "COMPLETED" and job["Partition"] == cpu_partition, job
    print(f"SLURM: GPU job {[j['JobId'] + ' ' + j['JobState'] + ' on ' + j['Partition'] for j in gpu_jobs]}, "
          f"CPU jobs {[j['JobId'] + ' ' + j['JobState'] + ' on ' + j['Partition'] for j in cpu_jobs]}")
    assert result.returncode != 0 and "Error in rule train_population" in log
    # it stopped before training: the message in its log, no store of the sweep
    train_log = (workdir / "results/logs/train_population/mlp_on_gpu/000.log").read_text()
    assert "this host has no CUDA device" in train_log and "stops rather than train on the CPU" in train_log
    assert not (workdir / "results/zoo/mlp_on_gpu/population_000.zarr").exists()
    # the CPU side ran to the end (--keep-going)
    assert (workdir / "results/zoo/relu_on_cpu/metrics.parquet").exists()
    assert (workdir / "results/relu_complex/tables/partitions.csv").exists()


@pytest.mark.timeout(400)
def test_dask_slurm_cluster_runs_its_workers_as_slurm_jobs(slurm_cluster, tmp_path):
    import dask.array as da

    from pipeline.parallel import dask_client

    # compute.dask: {cluster: slurm, slurm: {...}} as a user would set it for the Dask-parallel steps
    settings = {
        "cores": 1, "memory": "1GB", "queue": "debug", "walltime": "00:10:00", "jobs": 1,
        "scheduler_options": {"dashboard_address": None}, "log_directory": str(tmp_path),
    }
    with dask_client(cluster="slurm", slurm=settings) as client:
        try:
            client.wait_for_workers(1, timeout=180)
        except TimeoutError as error:
            raise AssertionError(f"no Dask worker joined within 180 s:\n{cluster_state()}") from error
        job_ids = client.run(lambda: os.environ.get("SLURM_JOB_ID"))
        assert len(job_ids) == 1 and all(job_id and job_id.isdigit() for job_id in job_ids.values())
        x = da.ones((100, 100), chunks=(10, 100))
        assert float(client.compute(x.sum()).result()) == 10_000.0
    # the worker's job is gone once the step's cluster closes
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        queue = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, timeout=30).stdout.split()
        if not set(queue) & set(job_ids.values()):
            break
        time.sleep(1)
    else:
        raise AssertionError(f"the Dask worker job is still queued: {queue}")
