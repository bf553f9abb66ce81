"""Recovery after kill -9 of Snakemake: pipeline.recovery stops the orphaned job and removes the
stale lock, and the same command then finishes the run (what `make run` does)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, SNAKEMAKE, TEST_RESULTS, run_snakemake

from pipeline import recovery, store

TARGET = f"{TEST_RESULTS}/zoo/mlp_tiny/population_000.zarr"


def _step_pids(workdir: Path, step: str) -> list[int]:
    return [pid for pid, argv in recovery._processes_in(workdir.resolve()) if argv[3:4] == [step]]


@pytest.mark.slow
def test_a_killed_run_is_recovered_by_recover_and_the_same_command(workdir):
    command = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--cores", "1", TARGET, "--configfile", "config/test.yaml"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    run = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    lock = store.lock_path(workdir / TARGET)
    # until the training job has claimed its store (it says so in the lock file)
    while not (lock.exists() and lock.read_text().startswith("pid ")):
        assert run.poll() is None and time.monotonic() < deadline, "the training job never started"
        time.sleep(0.1)
    run.send_signal(signal.SIGKILL)  # kill -9: the job lives on as an orphan, the lock stays
    run.wait()
    orphans = _step_pids(workdir, "train_population")
    assert orphans and any((workdir / ".snakemake/locks").iterdir())

    # while the orphan lives, a second writer of its store is refused, naming it
    with pytest.raises(store.OutputBusyError, match=rf"pid {orphans[0]} "):
        store.claim_output(workdir / TARGET)

    done = recovery.recover(workdir)
    assert any(f"stopped pid {orphans[0]} (train_population)" in line for line in done)
    assert any("removed the lock" in line for line in done)
    assert not _step_pids(workdir, "train_population")
    # the same command, with what make run adds, finishes the run
    run_snakemake("--cores", "1", "--rerun-incomplete", TARGET, "--configfile", "config/test.yaml", workdir=workdir)
    store.open_population(workdir / TARGET)


def test_recover_refuses_while_snakemake_runs_here(workdir):
    # a process that looks like snakemake (its program is named so), running in workdir
    fake = workdir / "snakemake"
    fake.write_text("import time\ntime.sleep(60)\n")
    process = subprocess.Popen([sys.executable, str(fake)], cwd=workdir)
    try:
        deadline = time.monotonic() + 30
        while not any(pid == process.pid for pid, _ in recovery._processes_in(workdir.resolve())):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with pytest.raises(RuntimeError, match=rf"snakemake is running in .* \(pid {process.pid}\)"):
            recovery.recover(workdir)
    finally:
        process.kill()
        process.wait()
