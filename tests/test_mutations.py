"""The deliberate breakages of tests/mutations/ still apply to the code as it is: each one's text
occurs exactly once in its file, so `python tests/mutations/run.py` measures the tests of today's
kernels (a refactor that moves such a line updates the breakage with it)."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_every_breakage_still_applies_once_and_names_its_tests():
    breakages = yaml.safe_load((REPO / "tests/mutations/breakages.yaml").read_text())
    assert len({b["id"] for b in breakages}) == len(breakages)
    for breakage in breakages:
        source = (REPO / breakage["file"]).read_text()
        found = source.count(breakage["old"])
        assert found == 1, f"{breakage['id']}: its old text occurs {found} times in {breakage['file']}"
        assert breakage["new"] != breakage["old"] and (REPO / breakage["tests"]).is_file(), breakage["id"]
