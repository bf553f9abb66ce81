"""Shared by the benchmarks that compare the code with an earlier revision in the same run.

``measure_at(rev, script, args)`` extracts ``rev``'s ``pipeline/`` and ``config/`` (``git archive``) into a
temporary directory and runs ``script`` (this checkout's copy, so both sides are measured the
same way) in a subprocess whose ``PYTHONPATH`` points there; the script prints one JSON line,
which is returned. Same machine, same run, so the two sides see the same load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# the last commit before issue 18's item 5 (fewer launches per step)
DEFAULT_BASELINE = "2ffb281"


def measure_at(rev: str, script: str | Path, args: list[str]) -> dict:
    """Run ``script args --baseline none --json`` against revision ``rev``'s ``pipeline`` package;
    return the JSON object it prints last."""
    with tempfile.TemporaryDirectory(prefix="baseline-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", "--format=tar", rev, "pipeline", "config"], check=True, capture_output=True
        ).stdout
        archive_path = Path(tmp) / "pipeline.tar"
        archive_path.write_bytes(archive)
        with tarfile.open(archive_path) as tar:
            tar.extractall(tmp, filter="data")
        env = {**os.environ, "PYTHONPATH": tmp}
        result = subprocess.run(
            [sys.executable, str(script), *args, "--baseline", "none", "--json"],
            env=env, cwd=str(REPO), capture_output=True, text=True,
        )
    if result.returncode:
        raise RuntimeError(f"measuring {rev} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])
