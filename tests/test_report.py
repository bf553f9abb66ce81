"""The Snakemake report of the test run reads well: every table under its study (or the claims),
counts as integers, networks by their short labels with the full names kept, keys first."""

import json
import re

import pandas as pd
import pytest
from conftest import TEST_RESULTS, run_snakemake

from pipeline import tables
from pipeline.claims import COLUMNS
from pipeline.studies import registered

CLAIMS_CATEGORY = "0. Claims"  # rules/claims.smk, and the front page (rules/report/workflow.rst)


def _tables(results):
    """Every result table of a run (CSV form): each study's tables/ and per-sweep tables."""
    found = sorted(p for p in results.rglob("*.csv") if not {"zoo", "logs", "benchmarks"} & set(p.parts))
    assert found, results
    return found


@pytest.mark.slow
def test_every_table_in_the_report_sits_under_its_study(copy_of_finished_run, tmp_path):
    report = tmp_path / "report.html"
    run_snakemake("--cores", "1", "--configfile", "config/test.yaml", "--report", str(report), workdir=copy_of_finished_run)
    [categories] = re.findall(r"var categories = (\{.*?\});\n", report.read_text())
    placed = {
        path: (category, subcategory)
        for category, subs in json.loads(categories).items()
        for subcategory, paths in subs.items()
        for path in paths
    }
    results = copy_of_finished_run / TEST_RESULTS
    shown = [p.with_suffix(".html").relative_to(copy_of_finished_run).as_posix() for p in _tables(results)]
    shown.append(f"{TEST_RESULTS}/claims.html")
    for path in shown:
        assert path in placed, f"{path} is not in the report"
        category, subcategory = placed[path]
        study = path.split("/")[1]
        assert category == (CLAIMS_CATEGORY if path == f"{TEST_RESULTS}/claims.html" else study), (path, category)
        assert category in {*registered(), CLAIMS_CATEGORY}, (path, category)
        assert subcategory != "Other", f"{path} has no subcategory"  # Snakemake's name for none


@pytest.mark.slow
def test_tables_print_counts_as_integers_and_networks_by_short_label_keys_first(finished_test_run):
    results = finished_test_run / TEST_RESULTS
    labelled = 0
    for path in _tables(results):
        text = pd.read_csv(path, dtype=str, keep_default_na=False)
        columns = list(text.columns)
        if path.name == "claims.csv":  # what gather_claims and the claims pages read: unchanged
            assert columns == list(COLUMNS), path
            continue
        for column in columns:
            written = [v for v in text[column] if v]
            # a count column of whole numbers never shows them as 3.0000 (split_step, a fractional
            # epoch in steps, is a real value named like a count, and keeps its decimals)
            if tables.COUNT_COLUMN.search(column) and all(re.fullmatch(r"-?\d+(\.0+)?", v) for v in written):
                assert not any("." in v for v in written), f"{path}: {column} holds {written[:3]}"
        # key columns before every measure; the full network name last, its short label beside the keys
        keys = set(tables.key_columns(columns))
        seen_key = [column in keys for column in columns if column != "network"]
        assert seen_key == sorted(seen_key, reverse=True), f"{path}: keys not first in {columns}"
        if "network" in columns:
            assert columns[-1] == "network" and "label" in columns, path
            assert text["label"].str.len().max() < text["network"].str.len().min(), path
            labelled += 1
    assert labelled >= 5  # optima, branchings, branch_counts, partitions, loss_spikes, weightings
    # the counts that used to print as 10.0000 and 12.0000
    written = pd.read_csv(results / "loss_landscape/tables/table1.csv", dtype=str).filter(like="classifiers")
    assert not written.fillna("").map(lambda v: "." in v).any().any()
    partitions = pd.read_csv(results / "relu_complex/tables/partitions.csv", dtype=str, keep_default_na=False)
    for column in ("fit_step", "generalize_step", "delay_steps", "final_regions"):
        assert not partitions[column].str.contains(r"\.").any(), column
    # a count the study names (network_manifold: of the top networks, how many have P near the identity)
    robustness = pd.read_csv(results / "network_manifold/tables/table1_robustness.csv", dtype=str, keep_default_na=False)
    assert not robustness["p_identity_in_top"].str.contains(r"\.").any()
