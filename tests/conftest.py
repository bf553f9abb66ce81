import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
# Where a run of config/test.yaml writes (its `results` key): each shipped config has its own folder.
TEST_RESULTS = yaml.safe_load((REPO / "config" / "test.yaml").read_text())["results"]


def run_snakemake(*args, workdir, check=True, timeout=900, repo=REPO):
    """Run the real Snakemake CLI on this repository's workflow (or that of a copy, ``repo``) with
    results under ``workdir``."""
    command = [SNAKEMAKE, "--snakefile", str(Path(repo) / "Snakefile"), "--directory", str(workdir), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(repo)}
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stdout, stderr = _stop_session(process)
            raise AssertionError(
                f"snakemake {' '.join(args)} ran past {timeout} s:\n{stderr[-4000:]}\n{_log_tails(workdir)}"
            ) from None
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


def _stop_session(process, grace=60) -> tuple[str, str]:
    """SIGTERM the process's whole session, SIGKILL it after ``grace`` s; return what it printed.

    SIGTERM first so that every running step dumps its threads' stacks into its log; SIGKILL after,
    because Snakemake cancelling its jobs can itself hang, and nothing here may wait unbounded.
    """
    os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.communicate(timeout=grace)


def _log_tails(workdir, chars=3000) -> str:
    logs = sorted(Path(workdir).glob("results*/logs/**/*.log"), key=lambda p: p.stat().st_mtime)
    return "\n".join(f"--- {p}:\n{p.read_text(errors='replace')[-chars:]}" for p in logs[-3:])


@pytest.fixture
def workdir(tmp_path):
    """An empty working directory with the repository's config folder beside the results."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    return tmp_path


@pytest.fixture(scope="session")
def finished_test_run(tmp_path_factory):
    """A working directory where the test config has run to the end once (shared: read only)."""
    path = tmp_path_factory.mktemp("finished_test_run")
    shutil.copytree(REPO / "config", path / "config")
    run_snakemake("--cores", "2", "--configfile", "config/test.yaml", workdir=path)
    return path


@pytest.fixture
def copy_of_finished_run(finished_test_run, tmp_path):
    """A private copy of the finished run (timestamps kept, so Snakemake sees it as up to date)."""
    path = tmp_path / "run"
    shutil.copytree(finished_test_run, path, symlinks=True)
    return path
