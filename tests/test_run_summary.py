"""pipeline.run_summary: what the end of a run prints, on hand-made results and logs."""

from __future__ import annotations

from pathlib import Path

from pipeline import run_summary

SNAKEMAKE_LOG = """\
[Wed Dec  2 17:47:02 2026]
Error in rule compute_persistence:
    message: None
    jobid: 42
    input: results/network_manifold/mlp/distances.zarr
    output: results/network_manifold/mlp/persistence.zarr
    log: {log} (check log file(s) for error details)
    shell:
        python -m pipeline compute_persistence
        (command exited with non-zero exit code)
Shutting down, this might take some time.
"""


def test_results_summary_counts_each_studys_tables_figures_and_pages(tmp_path):
    study = tmp_path / "network_manifold"
    (study / "tables").mkdir(parents=True)
    (study / "mlp" / "figures").mkdir(parents=True)
    (study / "mlp" / "pages").mkdir(parents=True)
    for ext in ("csv", "md", "html"):  # one table in three forms
        (study / "tables" / f"table1.{ext}").write_text("x")
    (study / "tables" / "claims.csv").write_text("x")
    for name in ("a", "b", "c"):  # each figure as PNG and PDF
        (study / "mlp" / "figures" / f"{name}.png").write_bytes(b"x")
        (study / "mlp" / "figures" / f"{name}.pdf").write_bytes(b"x")
    (study / "mlp" / "pages" / "graph.html").write_text("x")
    (tmp_path / "claims.md").write_text("x")
    text = run_summary.results_summary(tmp_path, ["network_manifold", "not_run"], ["config/test.yaml"])
    assert "2 tables, 3 figures, 1 page" in text
    assert "not_run" not in text and "claims" in text
    assert f'`make report CONFIG="config/test.yaml"` writes {tmp_path}/report.html' in text
    assert "`make report` writes results/report.html" in run_summary.results_summary("results", [], ["config/config.yaml"])


def test_failure_summary_names_the_rule_its_log_and_the_logs_last_lines(tmp_path):
    job_log = tmp_path / "compute_persistence.log"
    job_log.write_text("\n".join(f"line {i}" for i in range(1, 31)) + "\nValueError: the diagram is empty\n")
    snakemake_log = tmp_path / "run.snakemake.log"
    snakemake_log.write_text(SNAKEMAKE_LOG.format(log=job_log))
    text = run_summary.failure_summary([snakemake_log], tail=5)
    assert "Failed: rule compute_persistence (job 42)" in text
    assert str(job_log) in text and "ValueError: the diagram is empty" in text
    assert "line 27" in text and "line 26" not in text  # the last 5 lines only


def test_failure_summary_when_no_job_failed(tmp_path):
    snakemake_log = tmp_path / "run.snakemake.log"
    snakemake_log.write_text("Building DAG of jobs...\nWorkflowError: bad config\n")
    assert "before any job" in run_summary.failure_summary([snakemake_log])


def test_finished_targets_name_the_studies_whose_outputs_all_exist(tmp_path):
    from conftest import REPO

    from pipeline.config import load_config
    from pipeline.studies import registered

    config = load_config(REPO / "config/test.yaml", overrides={"results": str(tmp_path / "results")})
    assert run_summary.finished_targets(config) == []
    for path in registered()["relu_complex"].outputs(config):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).touch()
    assert run_summary.finished_targets(config) == ["study_relu_complex"]
    Path(config["results"], "claims.html").touch()
    assert run_summary.finished_targets(config) == ["study_relu_complex", f"{config['results']}/claims.html"]
