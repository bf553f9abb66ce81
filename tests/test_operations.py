"""Operations through the real workflow: faults (kills, a corrupted store), determinism across
runs, and what a changed setting re-runs (read from Snakemake's dry-run summary)."""

import filecmp
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
import zarr
from conftest import TEST_RESULTS, run_snakemake
from test_workflow import _job_counts

from pipeline import store, zoo
from pipeline.config import validate_config

pytestmark = pytest.mark.slow

TEST_CONFIG = ("--configfile", "config/test.yaml")


def _dry_run_counts(workdir, *extra_configs) -> dict:
    result = run_snakemake("--dry-run", "--cores", "2", *TEST_CONFIG, *extra_configs, workdir=workdir)
    return _job_counts(result.stdout)


def _write_override(folder, override) -> str:
    path = folder / "override.yaml"
    path.write_text(yaml.safe_dump(override))
    return str(path)


def _step_processes(step: str, workdir: Path) -> list[int]:
    """PIDs of `python -m pipeline STEP` processes working in ``workdir``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if b"pipeline" in argv and step.encode() in argv and cwd == str(workdir):
            pids.append(int(proc.name))
    return pids


def _wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _start_snakemake(workdir, *args, env=None) -> subprocess.Popen:
    from conftest import REPO, SNAKEMAKE

    command = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


# ------------------------------------------------------------------------------- recomputation
def test_unchanged_workflow_reruns_nothing(finished_test_run):
    assert _dry_run_counts(finished_test_run) == {}


def test_figure_setting_reruns_only_that_figure(finished_test_run, tmp_path):
    override = _write_override(tmp_path, {"network_manifold": {**_test_config()["network_manifold"], "figure_seed": 7}})
    assert _dry_run_counts(finished_test_run, override) == {"plot_network_manifold": 1, "all": 1}


def test_training_setting_reruns_its_sweep_and_what_depends_on_it(finished_test_run, tmp_path):
    sweeps = _test_config()["sweeps"]
    # the fine-tuned sweep: nothing reads it but its metrics table
    tuned = {**sweeps["mlp_tiny_finetune"], "epochs": 2}
    override = _write_override(tmp_path, {"sweeps": {**sweeps, "mlp_tiny_finetune": tuned}})
    assert _dry_run_counts(finished_test_run, override) == {"train_population": 1, "collect_sweep_metrics": 1, "all": 1}
    # the base sweep: its 2 populations, the fine-tunes started from it, and every analysis of it
    base = {**sweeps["mlp_tiny"], "epochs": 3}
    override = _write_override(tmp_path, {"sweeps": {**sweeps, "mlp_tiny": base}})
    counts = _dry_run_counts(finished_test_run, override)
    assert counts["train_population"] == 2 + 1 and counts["collect_sweep_metrics"] == 2
    for step in ("extract_representations", "compute_persistence", "plot_network_manifold", "suggest_hyperparameters"):
        assert counts[step] == 1


def test_permutation_count_reruns_only_the_statistics_and_their_figures(finished_test_run, tmp_path):
    # the landscapes (the expensive part) do not depend on how the tests between them are run
    override = _write_override(tmp_path, {"activation_landscapes": {**_test_config()["activation_landscapes"], "permutations": 500}})
    experiments = len(_test_config()["activation_landscapes"]["experiments"])
    expected = {
        "summarize_activation_landscapes": experiments, "plot_activation_landscapes": experiments,
        "tabulate_activation_landscapes_claims": 1, "gather_claims": 1, "all": 1,
    }
    assert _dry_run_counts(finished_test_run, override) == expected


def test_accuracy_jump_count_reruns_only_the_branching_tables(finished_test_run, tmp_path):
    # the learning graphs (and their pages) do not depend on how many accuracy jumps are listed
    override = _write_override(tmp_path, {"learning_graphs": {**_test_config()["learning_graphs"], "accuracy_jumps": 5}})
    assert _dry_run_counts(finished_test_run, override) == {"tabulate_learning_graphs": 1, "all": 1}


def test_spike_ratio_reruns_only_the_relu_tables_and_loss_figures(finished_test_run, tmp_path):
    # the decompositions (one per network and recorded step) do not depend on what counts as a spike
    override = _write_override(tmp_path, {"relu_complex": {**_test_config()["relu_complex"], "spike_ratio": 1.2}})
    sweeps = _test_config()["relu_complex"]
    expected = {
        "tabulate_relu_complex": 1, "plot_relu_classification": len(sweeps["classification"]),
        "plot_relu_regression": len(sweeps["regression"]), "tabulate_relu_complex_claims": 1, "gather_claims": 1, "all": 1,
    }
    assert _dry_run_counts(finished_test_run, override) == expected


def test_resource_settings_rerun_nothing(finished_test_run, tmp_path):
    # memory and time limits, and the device, say where and how a job runs, not what it computes
    sweeps = _test_config()["sweeps"]
    roomier = {**sweeps["mlp_tiny"], "mem_mb": 3000, "runtime": 90, "device": "cpu"}
    override = _write_override(tmp_path, {"sweeps": {**sweeps, "mlp_tiny": roomier}})
    assert _dry_run_counts(finished_test_run, override) == {}


def _test_config() -> dict:
    from conftest import REPO

    return yaml.safe_load((REPO / "config/test.yaml").read_text())


# ---------------------------------------------------------------------------------- determinism
def test_two_runs_give_byte_identical_tables(finished_test_run, workdir):
    run_snakemake("--cores", "2", *TEST_CONFIG, workdir=workdir)
    tables = sorted(
        p.relative_to(finished_test_run)
        for p in (finished_test_run / TEST_RESULTS).rglob("*")
        if p.suffix in (".csv", ".md", ".html", ".parquet", ".json")
    )
    assert len(tables) >= 9
    for table in tables:
        assert filecmp.cmp(finished_test_run / table, workdir / table, shallow=False), f"{table} differs between runs"


# ---------------------------------------------------------------------------------------- faults
LONG_TRAINING = {
    "sweeps": {
        "mlp_long": {
            "dataset": "digits",
            "dataset_options": {"n_samples": 480},
            "architecture": {"name": "mlp", "hidden": [12, 6]},
            "grid": {"lr": [0.05, 0.1]},
            "epochs": 60,
            "batch_size": 50,
            "snapshot_every": 5,
            "population_size": 2,
        }
    },
    "network_manifold": {"sweeps": []},
}


def test_training_job_killed_mid_way_resumes_bit_identical(workdir):
    config = workdir / "long.yaml"
    config.write_text(yaml.safe_dump(LONG_TRAINING))
    run = _start_snakemake(workdir, "--cores", "1", "--configfile", str(config))
    store_path = workdir / "results/zoo/mlp_long/population_000.zarr"
    partial = store.partial_path(store_path)

    def resume_state_saved():
        try:
            return zarr.open_group(str(partial), mode="r").attrs.get("state_step", 0) >= 50
        except Exception:
            return False

    _wait_for(resume_state_saved, 300, "a saved resume state")
    [pid] = _step_processes("train_population", workdir)
    os.kill(pid, signal.SIGKILL)
    output, _ = run.communicate(timeout=120)
    assert run.returncode != 0 and "Error in rule train_population" in output
    assert not store_path.exists(), "the killed job left a store that looks finished"

    run_snakemake("--cores", "1", "--configfile", str(config), workdir=workdir)
    log = (workdir / "results/logs/train_population/mlp_long/000.log").read_text()
    assert "resuming from step" in log
    reference = workdir / "reference.zarr"
    spec = zoo.population_spec(validate_config(LONG_TRAINING), "mlp_long", 0)
    zoo.train_population_job(spec, reference, progress=False)
    got, _ = store.read_final_params(store_path)
    want, _ = store.read_final_params(reference)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])


def _corrupt_one_chunk(array_dir: Path) -> Path:
    chunk = next(p for p in sorted((array_dir / "c").rglob("*")) if p.is_file())
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    return chunk


def test_corrupted_store_is_detected_named_and_recreated(copy_of_finished_run):
    run = copy_of_finished_run
    population = run / TEST_RESULTS / "zoo/mlp_tiny/population_001.zarr"
    _corrupt_one_chunk(population / "final/params/layers.0.weight")
    # the consumer reads the corrupted chunk: it fails, naming the store
    failed = run_snakemake(
        "--cores", "2", *TEST_CONFIG, "--forcerun", "extract_representations", workdir=run, check=False
    )
    assert failed.returncode != 0
    log = (run / TEST_RESULTS / "logs/extract_representations/mlp_tiny.log").read_text()
    assert "CorruptStoreError" in log and f"{TEST_RESULTS}/zoo/mlp_tiny/population_001.zarr is corrupted" in log
    assert store.quarantine_path(population).is_dir()
    # the run's end (onerror) names the failed rule, its log and how the log ends
    ending = failed.stdout[failed.stdout.rindex("Failed: rule extract_representations"):]
    assert f"{TEST_RESULTS}/logs/extract_representations/mlp_tiny.log" in ending and "is corrupted" in ending
    # the next run re-creates the store (its producer re-runs) and everything after it
    counts = _dry_run_counts(run)
    assert counts["train_population"] == 1 and counts["extract_representations"] == 1
    finished = run_snakemake("--cores", "2", *TEST_CONFIG, workdir=run)
    # and its end (onsuccess) says where the results are, per study
    assert f"Finished. Results under {TEST_RESULTS}/:" in finished.stdout and "network_manifold" in finished.stdout
    # and rule all's block says how many outputs it gathers, not each of them twice
    assert re.search(r"rule all:\n    input: the \d+ final outputs of the run", finished.stderr), finished.stderr[-3000:]
    assert max(map(len, (finished.stdout + finished.stderr).splitlines())) < 1000
    store.read_final_params(population)  # whole again
    assert _dry_run_counts(run) == {}


def test_a_corrupt_analysis_store_read_by_a_later_step_is_named_moved_aside_and_rebuilt(copy_of_finished_run):
    """embed_landscape reads probes.zarr through the store's checked reader: a corrupt chunk is
    named (store, array, chunk), the store moved aside, and a plain re-run rebuilds it with
    tables identical to before."""
    run = copy_of_finished_run
    probes = run / TEST_RESULTS / "loss_landscape/mlp_landscape__augmentFalse/population_000/probes.zarr"
    tables = sorted((run / TEST_RESULTS / "loss_landscape/tables").glob("*.csv"))
    before = {t.name: t.read_bytes() for t in tables}
    _corrupt_one_chunk(probes / "grid/basis_gram")
    failed = run_snakemake("--cores", "2", *TEST_CONFIG, "--forcerun", "embed_landscape", workdir=run, check=False)
    assert failed.returncode != 0
    log = "\n".join(p.read_text() for p in (run / TEST_RESULTS / "logs/embed_landscape").rglob("*.log"))
    assert re.search(r"store \S*probes\.zarr is corrupted: chunk \(0, 0, 0\) of array 'grid/basis_gram'", log), log[-2000:]
    assert store.quarantine_path(probes).is_dir() and not probes.exists()
    run_snakemake("--cores", "2", *TEST_CONFIG, workdir=run)
    store.read_array(probes, "grid/basis_gram")  # whole again
    assert {t.name: t.read_bytes() for t in tables} == before


# Loaded by every Python process of a Snakemake run whose PYTHONPATH starts with its folder: the
# step that publishes PAUSE_OUTPUT (the last act of its atomic write) says so and waits to be killed.
_PAUSE_IN_PUBLISH = """
import os
if os.environ.get("PAUSE_OUTPUT"):
    import pathlib
    import time

    import sys

    import pipeline.store
    from pipeline.store import outputs

    publish = outputs.publish

    def paused(written, path):
        if pathlib.Path(path).name == os.environ["PAUSE_OUTPUT"]:
            pathlib.Path(os.environ["PAUSED_MARKER"]).write_text(str(os.getpid()))
            time.sleep(600)
        return publish(written, path)

    # every module of the store package that calls publish holds its own name for it
    for name, module in list(sys.modules.items()):
        if name.startswith("pipeline.store") and getattr(module, "publish", None) is publish:
            module.publish = paused
"""


def test_analysis_job_killed_inside_its_atomic_write_leaves_nothing_taken_for_finished(copy_of_finished_run, tmp_path):
    from conftest import REPO

    run = copy_of_finished_run
    output = run / TEST_RESULTS / "network_manifold/mlp_tiny/persistence.zarr"
    # a changed setting of compute_persistence: it re-runs, and pauses where its store is complete
    # under its temporary name but not yet moved into place
    override = _write_override(tmp_path, {"network_manifold": {**_test_config()["network_manifold"], "homology_max_dim": 0}})
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(_PAUSE_IN_PUBLISH)
    marker = tmp_path / "paused"
    env = {"PYTHONPATH": f"{hooks}:{REPO}", "PAUSE_OUTPUT": output.name, "PAUSED_MARKER": str(marker)}
    accept = ("--config", "accept_config_change=true")  # the folder was made with homology_max_dim 1
    process = _start_snakemake(run, "--cores", "2", *TEST_CONFIG, override, *accept, env=env)
    try:
        _wait_for(marker.exists, 300, "compute_persistence to reach the end of its atomic write")
        os.kill(int(marker.read_text()), signal.SIGKILL)
        process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0
    assert not output.exists(), "the killed step left its output in place"
    assert store.partial_path(output).is_dir()  # killed with its store complete under the temporary name
    assert _dry_run_counts(run, override)["compute_persistence"] == 1
    run_snakemake("--cores", "2", *TEST_CONFIG, override, *accept, workdir=run)
    assert store.open_array_store(output).attrs["max_dim"] == 0
