"""The real Snakemake workflow: DAGs of every shipped config, validation before any job, an end-to-end run."""

import pandas as pd
import pytest
import yaml
from conftest import run_snakemake


def _job_counts(output: str) -> dict:
    """Jobs per rule from the first "Job stats" table of Snakemake's output ({} when nothing to do)."""
    counts, started = {}, False
    for line in output.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            started = True
        elif started and parts[:1] == ["total"]:
            break
        elif started and len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def test_paper_config_builds_its_dag(workdir):
    result = run_snakemake("--dry-run", "--cores", "2", "--configfile", "config/paper.yaml", workdir=workdir)
    counts = _job_counts(result.stdout)
    # 1 MLP + 4 CNN + 1 ResNet-9 pre-train + 11 fine-tune populations (200 in populations of 25
    # would not fit one 80 GB GPU at batch 512: split to 19) + the WResNets (36 sweeps of 3, each
    # population's jump-and-retrain, 16 members per optimum, fitting one GPU: at batch 512 the
    # WRN-16-2s and WRN-22-2s split into 3 populations, the WRN-22-1s into 2) + 1 random-label;
    # 10 x 10 nine-disk MLPs (one population per training draw) and 10 MNIST MLPs; the
    # learning-graph MLPs: zero init, tiny init, 4 variants of 2 comparisons; the ReLU-complex
    # MLPs, one population per sweep (moons, circles, both dense, regression)
    wresnets = 30 * 1 + 4 * 3 + 2 * 2
    assert counts["train_population"] == 1 + 4 + 1 + 11 + wresnets + 1 + 10 + 1 + 1 + 1 + 4 + 5
    assert counts["collect_sweep_metrics"] == 4 + 36 + 1 + 10 + 1 + 1 + 1 + 4 + 5  # one table per sweep
    # loss landscapes: every population of the 108 WResNets and the memorizer, sampled
    assert counts["sample_jump_retrain"] == counts["sample_probes"] == counts["embed_landscape"] == wresnets + 1
    assert counts["tabulate_loss_landscape"] == counts["plot_loss_landscape"] == 1
    # activation landscapes: each step once per experiment (synthetic, MNIST)
    for rule in ("extract_layer_activations", "compute_layer_landscapes", "summarize_activation_landscapes", "plot_activation_landscapes"):
        assert counts[rule] == 2
    # learning graphs: each step once per run (zero init, tiny init, comparisons), one table job
    for rule in ("extract_weight_trajectories", "build_learning_graphs", "plot_learning_graphs"):
        assert counts[rule] == 3
    assert counts["tabulate_learning_graphs"] == 1
    # ReLU complexes: one decomposition job per sweep, partition figures for the 4 classification sweeps
    assert counts["analyse_relu_complexes"] == 5 and counts["tabulate_relu_complex"] == 1
    assert counts["plot_relu_classification"] == 4 and counts["plot_relu_regression"] == 1


def test_default_config_builds_its_dag(workdir):
    result = run_snakemake("--dry-run", "--cores", "2", workdir=workdir)
    counts = _job_counts(result.stdout)
    # 2 MLP + 2 CNN populations of 100, 1 ResNet-9 pre-train, 1 population of 50 fine-tunes; the
    # loss-landscape CNNs (4 variants of 6) and their memorizer; the nine-disk MLPs (2 training
    # draws of 2) and the deep digit MLPs; the learning-graph MLPs (zero init, tiny init, 2 x 2
    # comparisons); the ReLU-complex MLPs (moons, circles, both dense, regression)
    assert counts["train_population"] == 2 + 2 + 1 + 1 + 4 + 1 + 2 + 1 + 1 + 1 + 2 + 5
    assert counts["sample_jump_retrain"] == counts["embed_landscape"] == 4 + 1
    # every analysis step of network_manifold once per analysed sweep, the tables once
    assert counts["extract_representations"] == counts["plot_network_manifold"] == 3
    assert counts["train_suggested_network"] == counts["tabulate_suggestion"] == 3
    assert counts["tabulate_network_manifold"] == 1
    assert counts["compute_layer_landscapes"] == counts["plot_activation_landscapes"] == 2
    assert counts["build_learning_graphs"] == counts["plot_learning_graphs"] == 3
    assert counts["analyse_relu_complexes"] == 5 and counts["plot_relu_classification"] == 4


def test_a_study_target_runs_that_study_and_its_trainings_only(workdir):
    result = run_snakemake("--dry-run", "--cores", "2", "study_activation_landscapes", workdir=workdir)
    counts = _job_counts(result.stdout)
    assert counts.pop("train_population") == 2 + 1  # the nine-disk draws and the deep digit MLPs
    assert counts.pop("collect_sweep_metrics", 0) == 0 and counts.pop("study_activation_landscapes") == 1
    assert counts.pop("tabulate_activation_landscapes_claims") == 1
    assert counts == {rule: 2 for rule in (
        "extract_layer_activations", "compute_layer_landscapes", "summarize_activation_landscapes", "plot_activation_landscapes"
    )}


@pytest.mark.parametrize(
    "override, key",
    [
        ({"sweeps": {"mlp_tiny": {"epochs": 0}}}, "sweeps.mlp_tiny.epochs"),
        ({"sweeps": {"mlp_tiny": {"optimiser": "sgd"}}}, "sweeps.mlp_tiny.optimiser"),
    ],
)
def test_bad_config_stops_snakemake_before_any_job(workdir, override, key):
    bad = workdir / "bad.yaml"
    bad.write_text(yaml.safe_dump(override))
    result = run_snakemake(
        "--cores", "1", "--configfile", "config/test.yaml", str(bad), workdir=workdir, check=False
    )
    assert result.returncode != 0
    assert key in result.stdout + result.stderr
    assert not (workdir / "results").exists()


@pytest.mark.slow
def test_test_config_runs_end_to_end(finished_test_run):
    workdir = finished_test_run
    table = pd.read_parquet(workdir / "results/zoo/mlp_tiny/metrics.parquet")
    assert len(table) == 8 and table["member"].tolist() == list(range(8))
    assert table["test_accuracy"].between(0, 1).all()
    tuned = pd.read_parquet(workdir / "results/zoo/mlp_tiny_finetune/metrics.parquet")
    assert len(tuned) == 2
    assert (workdir / "results/benchmarks/train_population/mlp_tiny/000.tsv").exists()
    assert "population" in (workdir / "results/logs/train_population/mlp_tiny/000.log").read_text()


@pytest.mark.slow
def test_every_study_writes_its_claims_table_and_the_page_gathers_them(finished_test_run):
    from pipeline.claims import COLUMNS, VERDICTS
    from pipeline.studies import registered

    results = finished_test_run / "results"
    page = (results / "claims.md").read_text()
    for name in registered():
        table = pd.read_csv(results / name / "tables/claims.csv")
        assert list(table.columns) == list(COLUMNS) and len(table) > 0, name
        assert table["verdict"].isin(VERDICTS).all() and table["id"].is_unique, name
        assert f"- **{name}**:" in page and f"## {name}" in page
    assert (results / "claims.html").read_text().count('class="claims"') == 1


def test_every_rule_runs_its_own_step_and_no_config_value_reaches_the_shell_unquoted():
    import re

    from conftest import REPO

    # One command for every rule (step() in rules/common.smk): each placeholder in it is quoted
    # (:q) or an integer Snakemake computes ({threads}); the step's name is the rule's own.
    common = (REPO / "rules/common.smk").read_text()
    [body] = re.findall(r"^def step\(name\):\n(?:.*\n)*?    return \(\n((?:\s+f?\".*\"\n)+)\s+\)", common, flags=re.M)
    fields = re.findall(r"(?<!\{)\{([^{}]+)\}(?!\})", body.replace("{{", "{").replace("}}", "}"))
    assert set(fields) == {"name", "params.paths:q", "params.settings:q", "threads", "log:q"}, fields
    rules = 0
    texts = [path.read_text() for path in sorted((REPO / "rules").glob("*.smk"))]
    for text in texts:
        for rule, shell in re.findall(r"^rule (\w+):\n(?:.*\n)*?    shell:\n\s+(.*)\n", text, flags=re.M):
            assert shell == f'step("{rule}")', f"rule {rule} runs {shell!r}"
            rules += 1
    # every rule with a shell command was seen (rule all has none)
    assert rules == sum(len(re.findall(r"^rule \w+:", text, flags=re.M)) for text in texts) >= 13


def test_checkpoints_are_never_unpickled():
    from conftest import REPO

    # Every stored state is Zarr arrays + JSON attributes; nothing is ever deserialized with
    # pickle, so no torch.load (whose default would unpickle) and no allow_pickle anywhere.
    for path in sorted((REPO / "pipeline").rglob("*.py")):
        text = path.read_text()
        for unsafe in ("torch.load(", "pickle.load", "allow_pickle=True"):
            assert unsafe not in text, f"{path}: {unsafe}"


def test_an_absent_dataset_stops_snakemake_at_dag_time_naming_its_files(workdir):
    # download off and no MNIST under data.root: nothing runs, and the message names the files
    config = workdir / "absent.yaml"
    root = workdir / "no_data"
    config.write_text(yaml.safe_dump({
        "data": {"root": str(root), "download": False},
        "sweeps": {"mnist_mlp": {"dataset": "mnist", "architecture": {"name": "mlp", "hidden": [8]}, "epochs": 1}},
    }))
    result = run_snakemake("--cores", "1", "--configfile", str(config), workdir=workdir, check=False)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert str(root / "MNIST" / "raw" / "train-images-idx3-ubyte") in message and "data.download" in message
    assert not (workdir / "results").exists()
    # the same config with download on plans one prepare_datasets job before the training
    config.write_text(config.read_text().replace("download: false", "download: true"))
    counts = _job_counts(run_snakemake("--dry-run", "--cores", "1", "--configfile", str(config), workdir=workdir).stdout)
    assert counts["prepare_datasets"] == 1 and counts["train_population"] == 1


def _job_resources(output: str) -> list[tuple[str, dict, dict]]:
    """(rule, wildcards, resources) of every job block of a dry run's output."""
    jobs, rule = [], None
    for line in output.splitlines():
        stripped = line.strip()
        if stripped.startswith(("rule ", "localrule ")) and stripped.endswith(":"):
            rule, wildcards = stripped.split()[1].rstrip(":"), {}
        elif rule and stripped.startswith("wildcards:"):
            wildcards = dict(item.split("=", 1) for item in stripped.removeprefix("wildcards:").strip().split(", "))
        elif rule and stripped.startswith("resources:"):
            resources = dict(item.split("=", 1) for item in stripped.removeprefix("resources:").strip().split(", "))
            jobs.append((rule, wildcards, resources))
            rule = None
    return jobs


def test_gpu_requests_come_from_each_sweeps_device_not_from_this_host(workdir):
    # this host has no GPU: a cuda sweep's jobs ask for one all the same, a cpu sweep's never do
    config = workdir / "devices.yaml"
    sweep = {"dataset": "digits", "architecture": {"name": "mlp", "hidden": [8]}, "epochs": 1}
    config.write_text(yaml.safe_dump({
        "compute": {"device": "cpu", "gpus_per_training_job": 2},
        "sweeps": {"on_gpu": {**sweep, "device": "cuda"}, "on_cpu": sweep, "also_cpu": {**sweep, "device": "auto"}},
    }))
    result = run_snakemake("--dry-run", "--cores", "1", "--configfile", str(config), workdir=workdir)
    training = {w["sweep"]: int(r["gpu"]) for rule, w, r in _job_resources(result.stdout) if rule == "train_population"}
    assert training == {"on_gpu": 2, "on_cpu": 0, "also_cpu": 0}


def test_the_paper_dag_asks_gpus_for_its_cuda_sweeps_jobs_only(workdir):
    from pipeline.config import load_config

    paper = load_config(workdir / "config/paper.yaml")
    result = run_snakemake("--dry-run", "--cores", "2", "--configfile", "config/paper.yaml", workdir=workdir)
    jobs = _job_resources(result.stdout)
    asking = {(rule, w.get("sweep")) for rule, w, r in jobs if int(r.get("gpu", 0)) > 0}
    assert asking, "no job of the paper DAG asks for a GPU"
    # only training-type jobs of cuda sweeps ask: training, J&R retraining, probes, suggested networks
    assert {rule for rule, _ in asking} == {"train_population", "sample_jump_retrain", "sample_probes", "train_suggested_network"}
    assert all(paper["sweeps"][sweep]["device"] == "cuda" for _, sweep in asking)
    # and every training job of a cuda sweep asks
    cuda_trainings = {w["sweep"] for rule, w, r in jobs if rule == "train_population" and paper["sweeps"][w["sweep"]]["device"] == "cuda"}
    assert cuda_trainings and cuda_trainings <= {sweep for _, sweep in asking}


def test_the_slurm_profile_sends_gpu_jobs_to_its_gpu_partition_and_the_others_to_its_cpu_partition(workdir):
    """The partition of each job of the paper DAG, as the slurm plugin picks it from the profile's
    partitions.yaml and the job's resources (tests/test_slurm.py submits for real)."""
    import logging
    from types import SimpleNamespace

    from conftest import REPO
    from snakemake_executor_plugin_slurm.partitions import get_best_partition, read_partition_file

    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    # no slurm_partition anywhere: it would override the partitions file for every job
    assert "slurm_partition" not in (profile.get("default-resources") or {})
    partitions = read_partition_file(REPO / "profiles/slurm" / profile["slurm-partition-config"])
    [gpu_partition] = [p.name for p in partitions if p.limits.max_gpu > 0]
    [cpu_partition] = [p.name for p in partitions if p.limits.max_gpu == 0]
    result = run_snakemake("--dry-run", "--cores", "2", "--configfile", "config/paper.yaml", workdir=workdir)
    chosen = {}
    for rule, wildcards, resources in _job_resources(result.stdout):
        job = SimpleNamespace(name=rule, threads=1, resources=resources)
        partition = get_best_partition(partitions, job, logging.getLogger("test"))
        chosen.setdefault(int(resources.get("gpu", 0)) > 0, set()).add(partition)
    assert chosen == {True: {gpu_partition}, False: {cpu_partition}}
