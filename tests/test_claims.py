"""The claims foundation: the verdict rule, bootstrap intervals, the tables and the gathered page."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pipeline import claims as cl


@pytest.mark.parametrize(
    "rule, statistic, low, high, testable, expected",
    [
        # above a chance level of 0.5
        (cl.Rule(0.5), 0.8, 0.7, 0.9, True, cl.REPRODUCED),
        (cl.Rule(0.5), 0.6, 0.45, 0.75, True, cl.PARTLY),  # statistic past, interval straddles
        (cl.Rule(0.5), 0.4, 0.3, 0.55, True, cl.NOT_REPRODUCED),
        (cl.Rule(0.9, partly=0.5), 0.7, 0.6, 0.8, True, cl.PARTLY),  # past the weaker threshold only
        (cl.Rule(0.9, partly=0.5), 0.55, 0.45, 0.65, True, cl.NOT_REPRODUCED),
        (cl.Rule(0.5), 0.8, 0.7, 0.9, False, cl.NOT_TESTABLE),
        (cl.Rule(0.5), math.nan, math.nan, math.nan, True, cl.NOT_TESTABLE),
        # below: a p-value under 0.05
        (cl.Rule(0.05, direction="below"), 0.01, 0.001, 0.03, True, cl.REPRODUCED),
        (cl.Rule(0.05, direction="below"), 0.04, 0.01, 0.2, True, cl.PARTLY),
        (cl.Rule(0.05, direction="below"), 0.3, 0.1, 0.5, True, cl.NOT_REPRODUCED),
        # an exact value sitting on the threshold is not past it
        (cl.Rule(0.0), 0.0, 0.0, 0.0, True, cl.NOT_REPRODUCED),
    ],
)
def test_verdict_rule_reaches_each_verdict(rule, statistic, low, high, testable, expected):
    assert rule.verdict(statistic, low, high, testable) == expected


def test_rule_rejects_inconsistent_settings():
    with pytest.raises(ValueError, match="direction"):
        cl.Rule(0.5, direction="up")
    with pytest.raises(ValueError, match="weaker"):
        cl.Rule(0.5, partly=0.7)
    with pytest.raises(ValueError, match="interval"):
        cl.Rule(0.5).verdict(0.6, 0.7, 0.5)


def test_bootstrap_interval_covers_the_true_mean_95_percent_of_the_time():
    """On samples of a known distribution, the interval holds the true mean in 95 % +- 3 % of 400
    repetitions."""
    truth, hits = 2.0, 0
    for rep in range(400):
        data = np.random.default_rng(1000 + rep).normal(truth, 1.0, 40)
        low, high = cl.bootstrap_interval(len(data), lambda idx: data[idx].mean(), seed=rep, n_resamples=1000)
        hits += low <= truth <= high
    assert 0.92 <= hits / 400 <= 0.98


def test_bootstrap_interval_of_a_constant_and_of_too_few_units():
    assert cl.bootstrap_interval(10, lambda idx: 1.0, seed=0) == (1.0, 1.0)
    low, high = cl.bootstrap_interval(1, lambda idx: 1.0, seed=0)
    assert math.isnan(low) and math.isnan(high)


def test_bootstrap_interval_is_deterministic():
    data = np.random.default_rng(0).normal(size=30)
    first = cl.bootstrap_interval(30, lambda idx: data[idx].mean(), seed=3)
    assert first == cl.bootstrap_interval(30, lambda idx: data[idx].mean(), seed=3)


def _claim(id, value, low, high, rule=cl.Rule(0.5), testable=True):
    return cl.Claim(id, f"claim {id}", "paper: 0.9", "a fraction", value, low, high, "exact", rule, "", testable)


def test_claims_table_and_gathered_page(tmp_path):
    first = tmp_path / "study_a" / "tables" / "claims.html"
    second = tmp_path / "study_b" / "tables" / "claims.html"
    first.parent.mkdir(parents=True)
    second.parent.mkdir(parents=True)
    cl.write_claims_table([_claim("a1", 0.8, 0.7, 0.9), _claim("a2", 0.6, 0.4, 0.7)], first)
    cl.write_claims_table([_claim("b1", 0.1, 0.0, 0.2), _claim("b2", 0.9, 0.8, 1.0, testable=False)], second)
    table = pd.read_csv(first.with_suffix(".csv"))
    assert list(table.columns) == list(cl.COLUMNS)
    assert list(table["verdict"]) == [cl.REPRODUCED, cl.PARTLY]
    with pytest.raises(ValueError, match="unique"):
        cl.claims_frame([_claim("a1", 0.8, 0.7, 0.9), _claim("a1", 0.6, 0.4, 0.7)])

    page = tmp_path / "claims.html"
    summary = tmp_path / "claims_summary.html"
    cl.gather_claims([str(first.with_suffix(".csv")), str(second.with_suffix(".csv"))], str(page), claims_summary=str(summary))
    assert "study_b</b>: 0 reproduced" in summary.read_text() and "<table" not in summary.read_text()
    markdown = page.with_suffix(".md").read_text()
    assert "**study_a**: 1 reproduced, 1 partly, 0 not reproduced, 0 not testable at this scale (of 2)" in markdown
    assert "**study_b**: 0 reproduced, 0 partly, 1 not reproduced, 1 not testable at this scale (of 2)" in markdown
    assert markdown.index("## study_a") < markdown.index("## study_b")
    html = page.read_text()
    assert 'class="claims"' in html and "b2" in html


def test_gather_claims_rejects_a_table_that_is_not_one(tmp_path):
    bad = tmp_path / "study_a" / "tables" / "claims.csv"
    bad.parent.mkdir(parents=True)
    pd.DataFrame({"id": ["x"]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match="not a claims table"):
        cl.gather_claims([str(bad)], str(tmp_path / "claims.html"))
