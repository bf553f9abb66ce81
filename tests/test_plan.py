"""The bill before the run (pipeline.plan): per-example figures against hand counts, the profile
table against a fresh measurement, each job's resources equal to its estimate, populations split
to fit a GPU, and the plan command's totals and critical path from a real dry run."""

import json
import math

import pytest
import yaml
from conftest import REPO, run_snakemake

from pipeline import plan, zoo
from pipeline.config import load_config
from pipeline.data import dataset_geometry, load_dataset
from pipeline.plan.report import bill, critical_path, dry_run_jobs, parse_jobs


def test_mlp_flops_and_saved_activations_are_the_hand_counts():
    from pipeline.plan.profiles import network_profile

    # 2-6-6-2 ReLU MLP: a forward pass is 2 x (2*6 + 6*6 + 6*2) multiply-adds per example
    mlp = {"name": "mlp", "hidden": [6, 6], "activation": "relu", "bias": True, "init": "default", "init_std": 0.01}
    profile = network_profile(mlp, (2,), 2)
    assert profile["forward_flops"] == 2 * (2 * 6 + 6 * 6 + 6 * 2)
    # the backward computes weight and input gradients of every layer but the input's gradient
    assert profile["train_flops"] == profile["forward_flops"] + 2 * (2 * 6 + 6 * 6 + 6 * 2) + 2 * (6 * 6 + 6 * 2)
    assert profile["parameters"] == (2 * 6 + 6) + (6 * 6 + 6) + (6 * 2 + 2)
    assert profile["step_ops"] > 0 and profile["cpu_example_seconds"] >= 0


def test_dataset_geometry_is_what_the_loader_gives():
    for name, options in [("digits", {}), ("moons", {"n_samples": 300}), ("regression2d", {}), ("spheres9", {"n_samples": 600}),
                          ("cifar10", {"stand_in": {"train": 40, "test": 20}})]:
        data = load_dataset(name, **options)
        geometry = dataset_geometry(name, options)
        loaded = {"input_shape": data.input_shape, "outputs": data.num_outputs, "train": len(data.x_train), "test": len(data.x_test)}
        assert geometry == loaded


def test_the_profile_table_is_what_the_engine_measures_now():
    # counted figures (not the timings) of every table entry of an embedded dataset's sweep: a
    # change of the engine or the models that changes them must come with a fresh table
    from pipeline.plan.profiles import network_profile

    table = json.loads(plan.PROFILES_FILE.read_text())
    config = load_config(REPO / "config/config.yaml")
    checked = 0
    for sweep in config["sweeps"].values():
        geometry = dataset_geometry(sweep["dataset"], sweep["dataset_options"])
        key = plan.profile_key(sweep["architecture"], geometry["input_shape"], geometry["outputs"], sweep["precision"])
        assert key in table, f"no profile of {key}: run python -m pipeline plan --write-profiles"
        if sweep["architecture"]["name"] in ("mlp", "cnn") and checked < 4:
            fresh = network_profile(sweep["architecture"], geometry["input_shape"], geometry["outputs"], sweep["precision"])
            for name in ("parameters", "forward_flops", "train_flops", "activation_bytes", "step_ops", "step_syncs"):
                assert table[key][name] == fresh[name], (key, name)
            checked += 1
    assert checked


def _tiny_config(workdir, **compute):
    sweep = {"dataset": "digits", "architecture": {"name": "cnn", "channels": [4, 8], "hidden": 16}, "epochs": 2,
             "grid": {"lr": [0.01, 0.1], "momentum": [0.9], "weight_decay": [0.0], "init_seed": [0, 1, 2]}}
    path = workdir / "plan.yaml"
    path.write_text(yaml.safe_dump({"compute": compute, "sweeps": {"small": {**sweep, "population_size": 6, "device": "cuda"}}}))
    return path


def test_each_jobs_resources_are_its_estimate_with_the_margins(workdir):
    path = _tiny_config(workdir, device="cpu", gpus_per_training_job=1)
    config = load_config(path)
    result = run_snakemake("--dry-run", "--cores", "1", "--configfile", str(path), workdir=workdir)
    jobs = parse_jobs(result.stdout)
    [train] = jobs[jobs["rule"] == "train_population"].to_dict("records")
    figures = plan.Figures.from_config(config)
    spec = zoo.population_spec(config, "small", 0)
    estimate = plan.training_estimate(plan.training_work(spec, "cuda", 1), figures)
    assert train["estimate_s"] == math.ceil(estimate.seconds) and train["estimate_mb"] == math.ceil(estimate.host_mb)
    assert train["runtime"] == max(5, math.ceil(estimate.seconds * figures.runtime_margin / 60))
    assert train["mem_mb"] == max(1000, math.ceil(estimate.host_mb * figures.memory_margin))
    assert train["gpu"] == 1 and train["estimate_gpu_mb"] == math.ceil(estimate.gpu_mb)


def test_a_population_over_the_gpu_memory_splits_to_fit(workdir):
    roomy = load_config(_tiny_config(workdir, device="cpu"))
    assert roomy["sweeps"]["small"]["population_size"] == 6
    spec = zoo.population_spec(roomy, "small", 0)
    figures = plan.Figures.from_config(roomy)
    one = plan.training_estimate(plan.training_work({**spec, "members": spec["members"][:1]}, "cuda", 1), figures).gpu_mb
    two = plan.training_estimate(plan.training_work({**spec, "members": spec["members"][:2]}, "cuda", 1), figures).gpu_mb
    # a GPU that holds two members and a half: populations of 2, each estimated within it
    budget_gb = (one + 1.5 * (two - one)) / 1000
    tight = load_config(_tiny_config(workdir, device="cpu", plan={"gpu_memory_gb": budget_gb}))
    assert tight["sweeps"]["small"]["population_size"] == 2 and zoo.n_populations(tight["sweeps"]["small"]) == 3
    for population in range(3):
        work = plan.training_work(zoo.population_spec(tight, "small", population), "cuda", 1)
        assert plan.training_estimate(work, plan.Figures.from_config(tight)).gpu_mb <= budget_gb * 1000
    # what each network computes is the same: its recorded settings exclude the population size
    assert [m["network"] for p in range(3) for m in zoo.population_spec(tight, "small", p)["members"]] == [
        m["network"] for m in spec["members"]
    ]


def test_critical_path_is_the_longest_chain_of_estimates():
    import pandas as pd

    # a -> c, b -> c, c -> d; b is the long branch: b, c, d
    jobs = pd.DataFrame({"jobid": [1, 2, 3, 4], "rule": ["a", "b", "c", "d"], "estimate_s": [5, 50, 10, 1]})
    dag = {"nodes": [{"id": i, "value": {"jobid": i, "rule": r}} for i, r in zip(range(1, 5), "abcd")],
           "edges": [{"u": 1, "v": 3}, {"u": 2, "v": 3}, {"u": 3, "v": 4}]}
    assert critical_path(jobs, dag) == (61, ["b", "c", "d"])


@pytest.mark.slow
def test_the_paper_plan_fits_one_gpu_and_bills_every_job():
    jobs, dag = dry_run_jobs([str(REPO / "config/paper.yaml")])
    config = load_config(REPO / "config/paper.yaml")
    budget_mb = config["compute"]["plan"]["gpu_memory_gb"] * 1000
    assert (jobs["estimate_gpu_mb"] <= budget_mb).all(), jobs.loc[jobs["estimate_gpu_mb"] > budget_mb, ["rule", "wildcards"]]
    # GPUs only for the training-type jobs of cuda sweeps, and every job has an estimate
    assert set(jobs.loc[jobs["gpu"] > 0, "rule"]) <= {"train_population", "sample_jump_retrain", "sample_probes", "train_suggested_network"}
    assert (jobs["estimate_s"] > 0).all() and (jobs["estimate_mb"] > 0).all()
    table = bill(jobs)
    assert table.loc["total", "jobs"] == len(jobs) and table.loc["total", "gpu_hours"] > 0
    seconds, chain = critical_path(jobs, dag)
    # at least the longest job, less than all of them in series, and a chain of the DAG's rules
    assert jobs["estimate_s"].max() <= seconds < jobs["estimate_s"].sum()
    assert chain[0] in ("prepare_datasets", "train_population") and set(chain) <= set(jobs["rule"])


def test_a_resumable_job_past_the_time_limit_asks_for_the_limit_and_counts_its_attempts():
    config = load_config(overrides={"compute": {"plan": {"max_runtime_min": 30}}})
    figures = plan.Figures.from_config(config)
    long = plan.Estimate(seconds=3600, host_mb=500)  # 2 h requested with the x2 margin
    assert plan.requests(long, figures, resumable=True)["runtime"] == 30
    assert plan.resources(long, figures, resumable=True)["attempts"] == 4
    # one that cannot resume asks for all of it, and the plan marks it as unable to fit
    assert plan.requests(long, figures)["runtime"] == 120 and plan.resources(long, figures)["attempts"] == 0
    short = plan.Estimate(seconds=60, host_mb=500)
    assert plan.resources(short, figures)["attempts"] == plan.resources(short, figures, resumable=True)["attempts"] == 1


@pytest.mark.slow
def test_the_gpu_check_script_runs_on_the_cpu():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/gpu_check.py"), "--device", "cpu", "--seconds", "0.1",
         "--configfile", str(REPO / "config/test.yaml"), "--sweeps", "mlp_tiny"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| mlp")]
    # one row per precision; CPU float32 against itself is exact
    assert [row.split("|")[3].strip() for row in rows] == ["fp32", "tf32", "bf16"]
    assert rows[0].split("|")[-3].strip() == "0.0e+00"
