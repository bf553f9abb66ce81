"""The real Snakemake workflow: DAGs of every shipped config, validation before any job, an end-to-end run."""

import inspect
import json
import re
import shlex
import shutil
from collections import Counter

import pandas as pd
import pytest
import yaml
from conftest import REPO, TEST_RESULTS, run_snakemake


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


def _expected_jobs(config) -> dict:
    """Jobs per rule of a whole run of a validated config, from the config and the registry alone:
    the foundation's (one training job per population, one metrics table per sweep, one
    prepare_datasets per torchvision dataset, the claims page) and what each study declares
    (``Study.jobs``). Rules of no job are left out, as Snakemake's job stats leave them out."""
    from pipeline import zoo
    from pipeline.data import TORCHVISION_SIZES
    from pipeline.studies import registered

    sweeps = config["sweeps"].values()
    counts = Counter({
        "train_population": sum(zoo.n_populations(sweep) for sweep in sweeps),
        "collect_sweep_metrics": len(config["sweeps"]),
        "prepare_datasets": len({sweep["dataset"] for sweep in sweeps if sweep["dataset"] in TORCHVISION_SIZES}),
        "all": 1,
    })
    claims = [f"{config['results']}/{name}/tables/claims.csv" for name in registered()]
    for study in registered().values():
        counts.update(study.jobs(config))
        counts["gather_claims"] |= any(path in claims for path in study.outputs(config))
    return {rule: count for rule, count in counts.items() if count}


@pytest.fixture(scope="module")
def test_config_dry_run(tmp_path_factory):
    """The test config's dry run, every job's shell command printed (-p)."""
    workdir = tmp_path_factory.mktemp("dry_run")
    shutil.copytree(REPO / "config", workdir / "config")
    return run_snakemake("--dry-run", "-p", "--cores", "2", "--configfile", "config/test.yaml", workdir=workdir).stdout


@pytest.mark.parametrize("configfile", ["config/paper.yaml", "config/config.yaml"])
def test_each_rule_makes_the_jobs_the_config_and_its_study_declare(workdir, configfile):
    from pipeline.config import load_config

    counts = _job_counts(run_snakemake("--dry-run", "--cores", "2", "--configfile", configfile, workdir=workdir).stdout)
    assert counts == _expected_jobs(load_config(workdir / configfile))


def test_the_test_config_makes_the_jobs_its_studies_declare(test_config_dry_run):
    from pipeline.config import load_config

    assert _job_counts(test_config_dry_run) == _expected_jobs(load_config(REPO / "config/test.yaml"))


def test_a_study_target_runs_that_study_and_its_trainings_only(workdir):
    from pipeline import zoo
    from pipeline.config import load_config
    from pipeline.studies import activation_landscapes as al

    config = load_config(workdir / "config/config.yaml")
    counts = _job_counts(run_snakemake("--dry-run", "--cores", "2", "study_activation_landscapes", workdir=workdir).stdout)
    # the study's own jobs, and the trainings of the sweeps its experiments read; no metrics table
    read = {sweep for experiment in config[al.NAME]["experiments"] for sweep in al.experiment_sweeps(config, experiment)}
    trainings = sum(zoo.n_populations(config["sweeps"][sweep]) for sweep in read)
    study = {rule: count for rule, count in al.STUDY.jobs(config).items() if count}
    assert counts == {**study, "train_population": trainings, "study_activation_landscapes": 1}


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
    assert not (workdir / TEST_RESULTS).exists()


@pytest.mark.slow
def test_test_config_runs_end_to_end(finished_test_run):
    workdir = finished_test_run
    table = pd.read_parquet(workdir / TEST_RESULTS / "zoo/mlp_tiny/metrics.parquet")
    assert len(table) == 8 and table["member"].tolist() == list(range(8))
    assert table["test_accuracy"].between(0, 1).all()
    tuned = pd.read_parquet(workdir / TEST_RESULTS / "zoo/mlp_tiny_finetune/metrics.parquet")
    assert len(tuned) == 2
    assert (workdir / TEST_RESULTS / "benchmarks/train_population/mlp_tiny/000.tsv").exists()
    assert "population" in (workdir / TEST_RESULTS / "logs/train_population/mlp_tiny/000.log").read_text()


@pytest.mark.slow
def test_every_study_writes_its_claims_table_and_the_page_gathers_them(finished_test_run):
    from pipeline.claims import COLUMNS, VERDICTS
    from pipeline.studies import registered

    results = finished_test_run / TEST_RESULTS
    page = (results / "claims.md").read_text()
    for name in registered():
        table = pd.read_csv(results / name / "tables/claims.csv")
        assert list(table.columns) == list(COLUMNS) and len(table) > 0, name
        assert table["verdict"].isin(VERDICTS).all() and table["id"].is_unique, name
        assert f"- **{name}**:" in page and f"## {name}" in page
    assert (results / "claims.html").read_text().count('class="claims"') == 1


def _shell_commands(output: str) -> list[tuple[str, str]]:
    """(rule, shell command) of every job of a dry run's output (-p) that runs one (target rules
    such as ``all`` print None)."""
    jobs, rule = [], None
    for line in output.splitlines():
        stripped = line.strip()
        if stripped.startswith(("rule ", "localrule ")) and stripped.endswith(":"):
            rule = stripped.split()[1].rstrip(":")
        elif rule and stripped.startswith("Shell command:"):
            command = stripped.removeprefix("Shell command:").strip()
            if command != "None":
                jobs.append((rule, command))
            rule = None
    return jobs


def test_every_rule_runs_its_own_step_and_no_config_value_reaches_the_shell_unquoted(test_config_dry_run):
    # One command for every rule (step() in rules/common.smk), which names no rule: each
    # placeholder in it is quoted (:q), an integer Snakemake computes ({threads}) or the rule's
    # own name ({rule}, an identifier)
    common = (REPO / "rules/common.smk").read_text()
    [source] = re.findall(r"^def step\(.*\n(?:(?:    .*)?\n)+", common, flags=re.M)
    namespace = {}
    exec(source, namespace)
    fields = re.findall(r"(?<!\{)\{([^{}]+)\}(?!\})", namespace["step"]())
    assert set(fields) == {"rule", "params.paths:q", "params.settings:q", "threads", "log:q"}, fields
    rules = 0
    texts = [path.read_text() for path in sorted((REPO / "rules").glob("*.smk"))]
    for text in texts:
        for rule, shell in re.findall(r"^rule (\w+):\n(?:.*\n)*?    shell:\n\s+(.*)\n", text, flags=re.M):
            assert shell == "step()", f"rule {rule} runs {shell!r}"
            rules += 1
    # every rule with a shell command was seen (rule all has none)
    assert rules == sum(len(re.findall(r"^rule \w+:", text, flags=re.M)) for text in texts) >= 13
    # and each job of the test config runs the step of its rule's name
    jobs = _shell_commands(test_config_dry_run)
    assert jobs and all(shlex.split(command)[1:4] == ["-m", "pipeline", rule] for rule, command in jobs)


def test_each_rules_settings_are_its_steps_keyword_only_parameters(test_config_dry_run):
    """What each job of the test config's dry run passes (--args: the paths, --settings: the
    settings) against the signature of the step the registry resolves: a study step's settings are
    exactly its keyword-only parameters without a default (those with one are where/how settings
    from the runtime), and every step takes its paths and settings."""
    from pipeline.__main__ import FOUNDATION_STEPS, resolve

    checked = set()
    for rule, command in _shell_commands(test_config_dry_run):
        words = shlex.split(command)
        paths, settings = (json.loads(words[words.index(option) + 1]) for option in ("--args", "--settings"))
        signature = inspect.signature(resolve(rule))
        signature.bind(**paths, **settings)  # a name the step does not take raises TypeError
        if rule not in FOUNDATION_STEPS:
            required = {
                name for name, p in signature.parameters.items() if p.kind == p.KEYWORD_ONLY and p.default is p.empty
            }
            assert set(settings) == required, f"{rule}: settings {sorted(settings)}, keyword-only {sorted(required)}"
        checked.add(rule)
    # every rule of rules/ has a job here but prepare_datasets (the test config reads no
    # torchvision data set); the Snakefile's target for unknown study names runs no step
    texts = "".join(path.read_text() for path in sorted((REPO / "rules").glob("*.smk")))
    assert checked == set(re.findall(r"^rule (\w+):", texts, flags=re.M)) - {"prepare_datasets"}


def test_checkpoints_are_never_unpickled():
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


@pytest.mark.slow
def test_a_run_records_its_settings_and_a_run_with_other_settings_is_refused_before_any_job(workdir):
    first = f"{TEST_RESULTS}/zoo/mlp_tiny/population_000.zarr"
    run_snakemake("--cores", "1", first, "--configfile", "config/test.yaml", workdir=workdir)
    recorded = yaml.safe_load((workdir / TEST_RESULTS / "config.yaml").read_text())
    assert recorded["results"] == TEST_RESULTS and "mlp_tiny" in recorded["sweeps"]
    # another setting into the same folder: refused at the start, naming the folder and the setting
    second = f"{TEST_RESULTS}/zoo/mlp_tiny/population_001.zarr"
    changed = ("--config", 'relu_complex={"spike_ratio": 1.3}')
    refused = run_snakemake("--cores", "1", second, "--configfile", "config/test.yaml", *changed, workdir=workdir, check=False)
    assert refused.returncode != 0
    message = refused.stdout + refused.stderr
    assert f"{TEST_RESULTS}/ was made with other settings" in message and "relu_complex.spike_ratio: 1.5 -> 1.3" in message
    assert not (workdir / second).exists() and not list((workdir / TEST_RESULTS / "zoo/mlp_tiny").glob("*001*"))
    # the default config writes beside it, into its own folder
    assert yaml.safe_load((workdir / "config/config.yaml").read_text())["results"] != TEST_RESULTS
