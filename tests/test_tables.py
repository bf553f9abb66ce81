"""Result tables: one frame, three files that agree."""

import re

import numpy as np
import pandas as pd
import pytest

from pipeline.tables import write_result_table


def test_three_forms_hold_the_same_rounded_values(tmp_path):
    frame = pd.DataFrame({"kind": ["diffusion", "knn"], "top10": [0.079012345, np.nan], "n": [200, 50]})
    written = write_result_table(frame, tmp_path / "sub" / "table1.csv")
    assert [p.name for p in written] == ["table1.csv", "table1.md", "table1.html"]
    back = pd.read_csv(tmp_path / "sub" / "table1.csv")
    assert back["top10"].iloc[0] == 0.079 and np.isnan(back["top10"].iloc[1])
    assert re.search(r"\|\s*diffusion\s*\|\s*0\.0790\s*\|", (tmp_path / "sub" / "table1.md").read_text())
    html = (tmp_path / "sub" / "table1.html").read_text()
    assert "<td>0.0790</td>" in html and "<td>diffusion</td>" in html and "<title>table1</title>" in html


def test_a_table_path_must_be_csv(tmp_path):
    with pytest.raises(ValueError, match="must end in one of"):
        write_result_table(pd.DataFrame({"a": [1]}), tmp_path / "t.txt")


NAMES = [
    "lr~0.05_momentum~0.9_weight_decay~0.0001_init_seed~0_label_noise~0.0",
    "lr~0.2_momentum~0.9_weight_decay~0.01_init_seed~0_label_noise~0.0",
]


def test_counts_print_as_integers_and_real_values_keep_their_decimals(tmp_path):
    # a missing count (NaN) made pandas hold these counts as floats; an accuracy of exactly 1.0
    # and a correlation of -1.0 are real values that happen to be whole, and stay floats
    frame = pd.DataFrame({
        "features": ["chance", "grid"], "accuracy mean": [50.0, 75.0], "accuracy classifiers": [np.nan, 10.0],
        "fit_step": [12.0, np.nan], "delay_steps": [300.0, 40.0], "split_step": [206.1111, 12.0],
        "nn_is_sibling": [1.0, 1.0], "rho": [-1.0, -1.0], "samples": [2, 4],
    })
    write_result_table(frame, tmp_path / "t.html")
    csv = (tmp_path / "t.csv").read_text().splitlines()
    assert csv[1:] == ["chance,50.0000,,12,300,206.1111,1.0000,-1.0000,2", "grid,75.0000,10,,40,12.0000,1.0000,-1.0000,4"]
    md = (tmp_path / "t.md").read_text()
    assert re.search(r"\|\s+10 \|", md) and "10.0000" not in md and "300.0000" not in md and "nan" not in md.split("\n")[2]
    html = (tmp_path / "t.html").read_text()
    assert "<td>10</td>" in html and "<td>300</td>" in html and "<td>1.0000</td>" in html and "None" not in html
    back = pd.read_csv(tmp_path / "t.csv")
    assert back["accuracy classifiers"].iloc[1] == 10 and back["delay_steps"].dtype.kind == "i"
    # a column the caller names as counts prints as integers too
    write_result_table(frame.rename(columns={"rho": "flips"}), tmp_path / "u.csv", counts=["flips"])
    assert pd.read_csv(tmp_path / "u.csv")["flips"].dtype.kind == "i"
    with pytest.raises(ValueError, match="'split_step' is given as counts"):  # never rounded
        write_result_table(frame, tmp_path / "v.csv", counts=["split_step"])


def test_networks_get_a_short_label_first_and_keep_their_full_name_last(tmp_path):
    frame = pd.DataFrame({
        "failed_items": [0, 1], "network": NAMES, "lr": [0.05, 0.2], "accuracy": [0.5, 0.25], "weight_decay": [1e-4, 1e-2],
        "series": ["cells", "cells"], "sweep": ["s", "s"],
    })
    write_result_table(frame, tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv")
    # keys first: the sweep, the label, then the other keys (grid values, series) in the table's
    # order; the measures in their order; the full network name last
    assert list(back.columns) == ["sweep", "label", "lr", "weight_decay", "series", "failed_items", "accuracy", "network"]
    assert back["label"].tolist() == ["lr 0.05, wd 1e-4", "lr 0.2, wd 0.01"]
    assert back["network"].tolist() == NAMES  # the key other steps join on, unchanged
    assert list(frame.columns)[:2] == ["failed_items", "network"]  # the caller's frame is left as it is
    html = (tmp_path / "t.html").read_text()
    assert "<td>lr 0.05, wd 1e-4</td>" in html
    # in the report's HTML the label, like every key, stays on one line, and text is left-aligned
    assert "td:nth-child(2), th:nth-child(2) { text-align: left; white-space: nowrap; }" in html
    assert "td:nth-child(7), th:nth-child(7) { white-space: nowrap; }" not in html  # accuracy: a measure


def test_a_sweep_prefix_is_left_out_of_labels_unless_two_networks_would_read_the_same(tmp_path):
    prefixed = ["a/" + NAMES[0], "a/" + NAMES[1], "b/" + NAMES[0]]
    write_result_table(pd.DataFrame({"run": ["r", "r", "r"], "network": prefixed}), tmp_path / "t.csv")
    assert pd.read_csv(tmp_path / "t.csv")["label"].tolist() == ["a: lr 0.05, wd 1e-4", "lr 0.2, wd 0.01", "b: lr 0.05, wd 1e-4"]
    # one sweep per run: no prefix needed
    write_result_table(pd.DataFrame({"run": ["r", "r", "q"], "network": prefixed}), tmp_path / "u.csv")
    assert pd.read_csv(tmp_path / "u.csv")["label"].tolist() == ["lr 0.05, wd 1e-4", "lr 0.2, wd 0.01", "lr 0.05, wd 1e-4"]


def test_a_network_column_of_other_names_gets_no_label_and_keys_can_be_given(tmp_path):
    write_result_table(pd.DataFrame({"value": [1.5], "network": ["network0"]}), tmp_path / "t.csv")
    assert list(pd.read_csv(tmp_path / "t.csv").columns) == ["value", "network"]
    frame = pd.DataFrame({"b": [1.5], "a": ["x"], "sweep": ["s"]})
    write_result_table(frame, tmp_path / "u.csv", keys=("a", "sweep"))
    assert list(pd.read_csv(tmp_path / "u.csv").columns) == ["sweep", "a", "b"]
    # keys already first keep the step's order (the rows are sorted by threshold, then layer)
    frame = pd.DataFrame({"threshold": [0.6], "layer": [0], "layer_name": ["input"], "samples": [4]})
    write_result_table(frame, tmp_path / "v.csv")
    assert list(pd.read_csv(tmp_path / "v.csv").columns) == list(frame.columns)


def test_grid_values_are_keys_only_in_a_table_of_networks(tmp_path):
    # the GFT smoothness of accuracy and of each hyperparameter: measures named like grid keys
    frame = pd.DataFrame({"sweep": ["s"], "test_accuracy": [11.3], "lr": [20.9], "weight_decay": [31.0]})
    write_result_table(frame, tmp_path / "t.csv")
    assert list(pd.read_csv(tmp_path / "t.csv").columns) == list(frame.columns)


def test_a_claims_table_is_written_as_it_was():
    from pipeline.claims import COLUMNS
    from pipeline.tables import report_layout

    frame = pd.DataFrame([{c: f"{c} text" for c in COLUMNS} | {"ours": 7.0, "interval_low": 7.0, "interval_high": 1.0}])
    assert report_layout(frame).equals(frame)
