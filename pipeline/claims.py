"""Claims tables: each paper's headline claims beside this run's evidence.

A study states each claim it tests as a :class:`Claim`: the claim in one sentence, the paper's
number(s), our statistic with its 95 % interval and how the interval was obtained, and a
:class:`Rule` that turns statistic and interval into a verdict. The rule is part of the study's
code, written before the numbers are seen; no verdict is ever typed by hand. Each study writes
``results/<study>/tables/claims.{csv,md,html}`` (:func:`write_claims_table`), and the foundation's
step ``gather_claims`` gathers every study's table into ``results/claims.{md,html}`` with one line
per study, the page the report opens with.

Intervals come from :func:`bootstrap_interval`, a thin layer over :func:`scipy.stats.bootstrap`
that resamples units (networks, seeds, folds or classifiers: the caller names them) and recomputes
any statistic of the resampled units. No torch or matplotlib here.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from .store import atomic_output
from .tables import write_result_table

REPRODUCED = "reproduced"
PARTLY = "partly"
NOT_REPRODUCED = "not reproduced"
NOT_TESTABLE = "not testable at this scale"
VERDICTS = (REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_TESTABLE)
COLUMNS = (
    "id",
    "claim",
    "paper",
    "statistic",
    "ours",
    "interval_low",
    "interval_high",
    "interval_method",
    "rule",
    "verdict",
    "scale_note",
)
LEVEL = 0.95


# ----------------------------------------------------------------------------- the verdict rule
@dataclass(frozen=True)
class Rule:
    """How a claim's verdict follows from its statistic and 95 % interval, fixed in code before
    the numbers are seen.

    The claim holds where the statistic lies past ``threshold`` in ``direction`` (``"above"``:
    greater than it, ``"below"``: less than it). The verdict is

    - *reproduced* when the whole interval lies past ``threshold``;
    - *partly* when the statistic itself lies past ``threshold`` but the interval reaches back
      over it, or when the interval lies past the weaker ``partly`` threshold (where given);
    - *not reproduced* otherwise;
    - *not testable at this scale* when the statistic is not finite or the study says the test
      cannot decide at this scale (:class:`Claim` ``testable``).

    Parameters
    ----------
    threshold : float
        The value the claim says the statistic passes (a chance level, 0 for a difference, ...).
    direction : {"above", "below"}
    partly : float, optional
        A weaker threshold, on the same side: past it (whole interval), the claim holds in part.
    """

    threshold: float
    direction: str = "above"
    partly: float | None = None

    def __post_init__(self):
        if self.direction not in ("above", "below"):
            raise ValueError(f"a rule's direction is 'above' or 'below', got {self.direction!r}")
        if not math.isfinite(self.threshold):
            raise ValueError(f"a rule's threshold must be finite, got {self.threshold}")
        if self.partly is not None:
            weaker = self.partly <= self.threshold if self.direction == "above" else self.partly >= self.threshold
            if not weaker:
                raise ValueError(
                    f"a rule's partly threshold ({self.partly}) must be weaker than its threshold ({self.threshold}) "
                    f"for direction {self.direction!r}"
                )

    def _past(self, value: float, bound: float) -> bool:
        return value > bound if self.direction == "above" else value < bound

    def verdict(self, statistic: float, low: float, high: float, testable: bool = True) -> str:
        """The verdict of one claim (one of :data:`VERDICTS`)."""
        if not testable or not math.isfinite(statistic):
            return NOT_TESTABLE
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            raise ValueError(f"a claim's interval must be finite with low <= high, got [{low}, {high}]")
        # the interval's end nearest the threshold decides whether the whole interval is past it
        near = low if self.direction == "above" else high
        if self._past(near, self.threshold):
            return REPRODUCED
        if self._past(statistic, self.threshold):
            return PARTLY
        if self.partly is not None and self._past(near, self.partly):
            return PARTLY
        return NOT_REPRODUCED

    def describe(self) -> str:
        """The rule in words, for the table."""
        sign = ">" if self.direction == "above" else "<"
        text = f"{sign} {self.threshold:g} (whole interval)"
        if self.partly is not None:
            text += f"; partly: {sign} {self.partly:g}"
        return text


# ----------------------------------------------------------------------------- one claim
@dataclass(frozen=True)
class Claim:
    """One headline claim of a paper and this run's evidence for it.

    Parameters
    ----------
    id : str
        Short and stable (``"T1-mlp-top10"``), unique within the study.
    claim : str
        The claim in one sentence.
    paper : str
        The paper's number(s), as the paper states them (table, figure or page named).
    statistic : str
        What ``value`` is, in a few words (``"fraction of the top 10 among their nearest 10"``).
    value, low, high : float
        Our statistic and its 95 % interval (``low == high == value`` for an exact count).
    interval_method : str
        How the interval was obtained: ``"bootstrap over 40 networks (2000 resamples, BCa)"``,
        ``"exact (no sampling)"``, ...
    rule : Rule
    scale_note : str
        What differs from the paper's scale and how that may bear on the verdict.
    testable : bool
        False where this scale cannot decide (too few networks for the test to reach its level,
        ...); say why in ``scale_note``.
    """

    id: str
    claim: str
    paper: str
    statistic: str
    value: float
    low: float
    high: float
    interval_method: str
    rule: Rule
    scale_note: str = ""
    testable: bool = True

    @property
    def verdict(self) -> str:
        return self.rule.verdict(self.value, self.low, self.high, self.testable)

    def row(self) -> dict:
        return {
            "id": self.id,
            "claim": self.claim,
            "paper": self.paper,
            "statistic": self.statistic,
            "ours": float(self.value),
            "interval_low": float(self.low),
            "interval_high": float(self.high),
            "interval_method": self.interval_method,
            "rule": self.rule.describe(),
            "verdict": self.verdict,
            "scale_note": self.scale_note,
        }


def claims_frame(claims: Sequence[Claim]) -> pd.DataFrame:
    """The claims as a table (:data:`COLUMNS`); ids must be unique."""
    ids = [c.id for c in claims]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ValueError(f"claim ids must be unique within a study; repeated: {duplicated}")
    return pd.DataFrame([c.row() for c in claims], columns=list(COLUMNS))


def write_claims_table(claims: Sequence[Claim], path: str | Path) -> list[Path]:
    """Write ``claims`` as ``claims.csv``, ``.md`` and ``.html`` (``path`` names any of them)."""
    return write_result_table(claims_frame(claims), path, digits=4)


# ----------------------------------------------------------------------------- intervals
def bootstrap_interval(
    units: int,
    statistic: Callable[[np.ndarray], float],
    *,
    seed: int,
    n_resamples: int = 2000,
    level: float = LEVEL,
    method: str = "BCa",
) -> tuple[float, float]:
    """A bootstrap interval of ``statistic`` over ``units`` resampled with replacement.

    ``statistic(indices)`` gets an integer array of ``units`` unit indices (repeats allowed) and
    returns the statistic of those units: the caller keeps the data and names the units (networks,
    seeds, folds, classifiers), so that any statistic of a set of units can be bootstrapped,
    paired ones included (resample networks, then recompute a ranking of them). A thin layer over
    :func:`scipy.stats.bootstrap` (its BCa interval by default; ``"percentile"`` or ``"basic"``
    where the statistic is not smooth).

    Returns
    -------
    (low, high) : the interval; ``(value, value)`` when every resample gives the same value, and
        ``(nan, nan)`` for fewer than 2 units.
    """
    from scipy.stats import bootstrap

    if units < 2:
        return (math.nan, math.nan)
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if n_resamples < 100:
        raise ValueError(f"n_resamples must be at least 100 for a 95 % interval, got {n_resamples}")
    indices = np.arange(units)
    values = None
    try:
        with warnings.catch_warnings():
            # BCa is undefined for a degenerate resampling distribution; handled below
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.filterwarnings("ignore", message="The BCa confidence interval cannot be calculated")
            result = bootstrap(
                (indices,),
                lambda sample: float(statistic(np.asarray(sample, dtype=np.int64))),
                vectorized=False,
                n_resamples=n_resamples,
                confidence_level=level,
                method=method,
                random_state=np.random.default_rng(seed),
            )
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        values = result.bootstrap_distribution
    except ValueError:
        low = high = math.nan
    if not (math.isfinite(low) and math.isfinite(high)):
        # a degenerate resampling distribution (every resample the same, as for a statistic that
        # cannot move): BCa is undefined there; the interval is that one value
        whole = float(statistic(indices))
        if values is not None and np.all(np.asarray(values) == whole):
            return (whole, whole)
        low, high = _percentile(statistic, units, seed, n_resamples, level)
    return (low, high)


def _percentile(statistic, units, seed, n_resamples, level):
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(rng.integers(0, units, units)) for _ in range(n_resamples)], dtype=float)
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return (math.nan, math.nan)
    tail = (1 - level) / 2 * 100
    return (float(np.percentile(draws, tail)), float(np.percentile(draws, 100 - tail)))


def describe_bootstrap(units: int, unit_name: str, n_resamples: int = 2000, method: str = "BCa") -> str:
    """The ``interval_method`` text of a :func:`bootstrap_interval`."""
    return f"bootstrap over {units} {unit_name} ({n_resamples} resamples, {method})"


# ----------------------------------------------------------------------------- the gathered page
def summary_line(frame: pd.DataFrame) -> str:
    """``"3 reproduced, 1 partly, 0 not reproduced, 1 not testable at this scale (of 5)"``."""
    counts = frame["verdict"].value_counts()
    unknown = sorted(set(counts.index) - set(VERDICTS))
    if unknown:
        raise ValueError(f"claims table holds verdicts outside {VERDICTS}: {unknown}")
    parts = [f"{int(counts.get(v, 0))} {v}" for v in VERDICTS]
    return ", ".join(parts) + f" (of {len(frame)})"


# A page that also reads as a fragment: the report's front page includes it inside its own, so the
# style is scoped to the claims' div.
_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Claims</title>
<style>
.claims {{ font-family: system-ui, sans-serif; font-size: 13px; color: #1e293b; }}
.claims table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
.claims th, .claims td {{ padding: 4px 8px; border-bottom: 1px solid #cbd5e1; text-align: left; vertical-align: top; }}
.claims th {{ background: #f1f5f9; }}
.claims td.num {{ text-align: right; white-space: nowrap; }}
.claims .reproduced {{ background: #dcfce7; }} .claims .partly {{ background: #fef9c3; }}
.claims .not-reproduced {{ background: #fee2e2; }} .claims .not-testable {{ background: #e2e8f0; }}
</style></head><body>
<div class="claims">
{body}
</div>
</body></html>
"""


def _verdict_class(verdict: str) -> str:
    return {REPRODUCED: "reproduced", PARTLY: "partly", NOT_REPRODUCED: "not-reproduced"}.get(verdict, "not-testable")


def _html_table(frame: pd.DataFrame) -> str:
    import html

    head = ["claim", "paper", "statistic", "ours [95 % interval]", "interval", "rule", "verdict", "scale"]
    rows = []
    for r in frame.itertuples(index=False):
        ours = f"{r.ours:.4g} [{r.interval_low:.4g}, {r.interval_high:.4g}]" if math.isfinite(r.ours) else "n/a"
        cells = [
            f"<td><b>{html.escape(str(r.id))}</b>: {html.escape(str(r.claim))}</td>",
            f"<td>{html.escape(str(r.paper))}</td>",
            f"<td>{html.escape(str(r.statistic))}</td>",
            f'<td class="num">{html.escape(ours)}</td>',
            f"<td>{html.escape(str(r.interval_method))}</td>",
            f"<td>{html.escape(str(r.rule))}</td>",
            f'<td class="{_verdict_class(r.verdict)}">{html.escape(str(r.verdict))}</td>',
            f"<td>{html.escape(str(r.scale_note) if isinstance(r.scale_note, str) else '')}</td>",
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>"


def _markdown_table(frame: pd.DataFrame) -> str:
    shown = frame.assign(
        ours=[
            f"{o:.4g} [{lo:.4g}, {hi:.4g}]" if math.isfinite(o) else "n/a"
            for o, lo, hi in zip(frame["ours"], frame["interval_low"], frame["interval_high"])
        ]
    )[["id", "claim", "paper", "statistic", "ours", "interval_method", "verdict", "scale_note"]]
    return shown.astype(object).where(shown.notna(), "").to_markdown(index=False)


def gather_claims(
    claims_tables: Iterable[str], claims: str, claims_md: str | None = None, claims_summary: str | None = None
) -> None:
    """Step ``gather_claims``: every study's ``claims.csv`` -> ``results/claims.{md,html}``.

    The page opens with one line per study (its verdict counts), then each study's table; the
    report shows the HTML first. ``claims`` names the HTML page, ``claims_md`` the Markdown one
    (default: beside it), ``claims_summary`` an HTML fragment of the one line per study alone (the
    report's front page shows it; a page of every table there would push its top out of view).
    """
    import html

    title = "Every paper claim with its evidence"

    tables = {}
    for path in claims_tables:
        path = Path(path)
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
        missing = sorted(set(COLUMNS) - set(frame.columns))
        if missing:
            raise ValueError(f"{path} is not a claims table: columns {missing} are missing")
        tables[path.parent.parent.name] = frame
    if not tables:
        raise ValueError("gather_claims needs at least one study's claims table")
    summary = {study: summary_line(frame) for study, frame in tables.items()}
    markdown = [f"# {title}", ""]
    markdown += [
        "Each row: a paper's claim, the paper's number, our statistic with its 95 % interval, and the",
        "verdict its rule gives (a rule fixed in the study's code before the numbers; never typed by",
        "hand). The scale note says what differs from the paper. Study pages: docs/studies/<study>.md.",
        "",
    ]
    markdown += [f"- **{study}**: {line}" for study, line in summary.items()] + [""]
    parts = [f"<h2>{html.escape(title)}</h2>", "<p>" + html.escape(" ".join(markdown[2:5])) + "</p>", "<ul>"]
    parts += [f"<li><b>{html.escape(study)}</b>: {html.escape(line)}</li>" for study, line in summary.items()]
    parts.append("</ul>")
    summary_end = len(parts)
    for study, frame in tables.items():
        markdown += [f"## {study}", "", _markdown_table(frame), ""]
        parts += [f'<h3 id="{study}">{html.escape(study)}</h3>', _html_table(frame)]
    if claims_summary is not None:
        with atomic_output(claims_summary) as target:
            target.write_text("\n".join(parts[:summary_end]) + "\n")
    with atomic_output(claims_md or Path(claims).with_suffix(".md")) as target:
        target.write_text("\n".join(markdown))
    with atomic_output(claims) as target:
        target.write_text(_PAGE.format(body="\n".join(parts)))
