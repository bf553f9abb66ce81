"""The add-a-study checklist of docs/architecture.md holds: a sixth study made of its own files
alone (tests/fixtures/toy_study: a registry entry, one rule file, one step, its schema block) is
found by the workflow, with no edit to any file of the foundation or of another study."""

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, TEST_RESULTS, run_snakemake
from test_workflow import _job_counts

FIXTURE = Path(__file__).parent / "fixtures" / "toy_study"


def _git(*args, cwd) -> str:
    command = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org", *args]
    return subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def house_with_a_toy_study(tmp_path):
    """A copy of the repository (every file git does not ignore, committed in a repository of its
    own), the toy study's files added beside them, and a config that runs the toy on mlp_tiny.
    Returns the copy, the added files (relative paths) and the config (outside the copy)."""
    house = tmp_path / "house"
    listed = _git("ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=REPO).split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (house / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, house / name)
    _git("init", "-q", cwd=house)
    _git("add", "--all", cwd=house)
    _git("commit", "-q", "-m", "the house before the toy study", cwd=house)
    added = []
    for source in sorted(FIXTURE.rglob("*")):
        if source.is_file() and "__pycache__" not in source.parts:
            relative = source.relative_to(FIXTURE)
            assert not (house / relative).exists(), f"the toy study would replace {relative}"
            (house / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, house / relative)
            added.append(relative.as_posix())
    config = tmp_path / "toy.yaml"
    config.write_text(yaml.safe_dump({"toy": {"sweep": "mlp_tiny", "top": 3}}))
    return house, added, config


def _changed(house) -> set[str]:
    """Every path git sees changed, added or removed in the copy (ignored outputs left out)."""
    return {line[3:] for line in _git("status", "--porcelain", "--untracked-files=all", cwd=house).splitlines()}


def test_a_sixth_study_is_found_from_its_own_files_alone(house_with_a_toy_study):
    from pipeline import zoo
    from pipeline.config import load_config

    house, added, toy = house_with_a_toy_study
    assert sorted(added) == ["config/schema/toy.yaml", "pipeline/studies/toy/__init__.py",
                             "pipeline/studies/toy/steps.py", "rules/toy.smk"]
    # unconfigured, the toy makes no job; named a sweep, the whole run gains its one job
    before = _job_counts(run_snakemake("--dry-run", "--cores", "1", "--configfile", "config/test.yaml", workdir=house,
                                       repo=house).stdout)
    assert "rank_toy_networks" not in before
    whole = _job_counts(run_snakemake("--dry-run", "--cores", "1", "--configfile", "config/test.yaml", str(toy), workdir=house,
                                      repo=house).stdout)
    assert whole == {**before, "rank_toy_networks": 1}
    # its study target: its job and the trainings and metrics table of the sweep it reads
    target = _job_counts(run_snakemake("--dry-run", "--cores", "1", "study_toy", "--configfile", "config/test.yaml", str(toy),
                                       workdir=house, repo=house).stdout)
    populations = zoo.n_populations(load_config(REPO / "config/test.yaml")["sweeps"]["mlp_tiny"])
    assert target == {"rank_toy_networks": 1, "train_population": populations, "collect_sweep_metrics": 1, "study_toy": 1}
    # its config block is validated by its own schema and check
    bad = run_snakemake("--dry-run", "--cores", "1", "--configfile", "config/test.yaml", str(toy), "--config", "toy={'sweep': 'nope'}",
                        workdir=house, repo=house, check=False)
    assert bad.returncode != 0 and "config key 'toy.sweep': no sweep named 'nope'" in bad.stdout + bad.stderr
    # and no file but the toy's own changed
    assert _changed(house) == set(added)


@pytest.mark.slow
def test_the_sixth_study_runs_and_writes_its_table(house_with_a_toy_study):
    house, added, toy = house_with_a_toy_study
    run_snakemake("--cores", "1", "study_toy", "--configfile", "config/test.yaml", str(toy), workdir=house, repo=house)
    metrics = pd.read_parquet(house / TEST_RESULTS / "zoo/mlp_tiny/metrics.parquet")
    ranking = pd.read_csv(house / TEST_RESULTS / "toy/tables/ranking.csv")
    assert ranking["member"].tolist() == metrics.sort_values(["test_accuracy", "member"], ascending=[False, True])["member"][:3].tolist()
    assert _changed(house) == set(added)
