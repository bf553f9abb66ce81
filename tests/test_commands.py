"""The commands a new user types: every Snakemake command of the README builds its DAG as written,
an overlay and a --config override change the setting they name, and a bad study target lists
the real ones."""

from __future__ import annotations

import re
import shlex

from conftest import REPO, run_snakemake

OVERLAY = "compute:\n  analysis_threads: 1\n"


def _readme_snakemake_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith(".venv/bin/snakemake "):
                commands.append(line.removeprefix(".venv/bin/snakemake "))
    return commands


def _threads_of_an_analysis_job(stdout: str) -> set[int]:
    # the threads of each compute_network_matrices job, from the commands the dry run prints (-p)
    return {int(n) for n in re.findall(r"-m pipeline compute_network_matrices .* --threads (\d+)", stdout)}


def test_each_readme_command_builds_its_dag_as_written_and_overrides_reach_the_jobs(workdir):
    commands = _readme_snakemake_commands()
    assert len(commands) >= 4
    (workdir / "my.yaml").write_text(OVERLAY)
    threads = {}
    for command in commands:
        # Snakemake reads config files from its working directory: the user's my.yaml is the workdir's
        words = [str(workdir / "my.yaml") if word == "my.yaml" else word for word in shlex.split(command)]
        result = run_snakemake("--dry-run", "-p", *words, workdir=workdir)
        assert "Job stats" in result.stdout, command
        threads[command] = _threads_of_an_analysis_job(result.stdout)
    # the default asks for 2 analysis threads; the overlay and the nested --config value for 1
    assert threads["--cores 2"] == {2}
    overridden = [c for c in commands if "my.yaml" in c or "--config " in c]
    assert len(overridden) == 2 and all(threads[c] == {1} for c in overridden)


def test_an_unknown_study_target_lists_the_study_targets(workdir):
    result = run_snakemake("--dry-run", "--cores", "1", "study_nonesuch", workdir=workdir, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "unknown study target study_nonesuch" in output and "study_relu_complex" in output
