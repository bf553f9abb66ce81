"""Every benchmark of this folder, found by file: ``make benchmark`` runs them all.

A benchmark is a program here that sets ``BENCHMARK_ENV`` at its top level: a literal dict of the
environment variables it runs under (``{}``: none), such as ``{"OMP_NUM_THREADS": "1"}`` for one
that measures one thread. Helpers (measure.py, baseline.py), programs for a GPU (gpu_check.py,
precision.py), ones that read a finished run (rehearsal.py) or write the plan's figures
(unit_costs.py) set none and are not run. Found from the source (ast), not by importing it: no
benchmark's imports run before its turn. Each runs in a process of its own, in order of name;
the first that fails stops the rest.

    .venv/bin/python benchmarks/run_all.py           (~1 h on 2 cores)
    .venv/bin/python benchmarks/run_all.py --list    (what would run, with its environment)
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
MARKER = "BENCHMARK_ENV"


def benchmark_env(path: Path) -> dict[str, str] | None:
    """The environment a benchmark file declares (``BENCHMARK_ENV``), or None for a file that is
    not a benchmark. A marker that is not a literal dict of strings is an error naming the file."""
    for node in ast.parse(path.read_text(), filename=str(path)).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == MARKER for t in targets):
            try:
                env = ast.literal_eval(node.value)
            except ValueError:
                env = None
            if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
                raise ValueError(f"{path}: {MARKER} must be a literal dict of strings, such as {{'OMP_NUM_THREADS': '1'}}")
            return env
    return None


def benchmarks(folder: Path = FOLDER) -> list[tuple[Path, dict[str, str]]]:
    """(file, environment) of every benchmark in ``folder``, in order of name."""
    found = [(path, benchmark_env(path)) for path in sorted(folder.glob("*.py"))]
    return [(path, env) for path, env in found if env is not None]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="print each benchmark's command and run none")
    options = parser.parse_args(argv)
    for path, env in benchmarks():
        words = [*(f"{k}={v}" for k, v in env.items()), "python", os.path.relpath(path)]
        print(" ".join(words), flush=True)
        if not options.list:
            subprocess.run([sys.executable, str(path)], env={**os.environ, **env}, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
