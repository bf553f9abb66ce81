"""Run the deliberate breakages of tests/mutations/breakages.yaml against the tests.

Each breakage is applied alone in a copy of the repository (every file git does not ignore, so
the working tree is never touched), its ``tests`` file runs without the slow tests, and the
row says which test failed first. A breakage that every test survives is a gap in the tests,
unless the file marks it ``equivalent`` (it changes no output). Exit status 1 when any
non-equivalent breakage survived or an ``old`` text no longer occurs once in its file.

Usage (about 10 minutes on one core for all 62)::

    .venv/bin/python tests/mutations/run.py [ID ...]
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BREAKAGES = Path(__file__).with_name("breakages.yaml")
def copy_of_repository(destination: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO,
                            check=True, capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, destination / name)
    return destination


def run_one(copy: Path, breakage: dict) -> tuple[str, str]:
    """Apply one breakage in ``copy``, run its test file, restore the file; (outcome, detail)."""
    target = copy / breakage["file"]
    source = target.read_text()
    if source.count(breakage["old"]) != 1:
        return "stale", f"its old text occurs {source.count(breakage['old'])} times in {breakage['file']}"
    target.write_text(source.replace(breakage["old"], breakage["new"]))
    try:
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow", breakage["tests"]]
        result = subprocess.run(command, cwd=copy, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(copy)})
    finally:
        target.write_text(source)
    failed = re.findall(r"^FAILED (\S+)", result.stdout, re.M)
    if result.returncode == 0:
        return "survived", result.stdout.strip().splitlines()[-1]
    return "caught", failed[0] if failed else result.stdout.strip().splitlines()[-1]


def main(ids: list[str]) -> int:
    breakages = yaml.safe_load(BREAKAGES.read_text())
    chosen = [b for b in breakages if not ids or b["id"] in ids]
    outcomes = {}
    with tempfile.TemporaryDirectory() as folder:
        copy = copy_of_repository(Path(folder))
        for breakage in chosen:
            outcome, detail = run_one(copy, breakage)
            if outcome == "survived" and breakage.get("equivalent"):
                outcome = "equivalent"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            print(f"{breakage['id']:4} {outcome:10} {breakage['file']}: {breakage['what']}\n     {detail}", flush=True)
    print(f"{len(chosen)} breakages: " + ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())))
    gaps = outcomes.get("survived", 0) + outcomes.get("stale", 0)
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
