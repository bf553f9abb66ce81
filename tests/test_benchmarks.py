"""make benchmark finds its benchmarks by file (benchmarks/run_all.py): each program that declares
BENCHMARK_ENV, run under that environment; helpers and other programs are not run."""

import sys

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import run_all  # noqa: E402


def test_a_benchmark_is_a_file_that_declares_its_environment(tmp_path):
    (tmp_path / "b_threads.py").write_text('"""A benchmark."""\nimport os\n\nBENCHMARK_ENV = {"OMP_NUM_THREADS": "1"}\n')
    (tmp_path / "a_plain.py").write_text("BENCHMARK_ENV: dict = {}\n\ndef main():\n    pass\n")
    (tmp_path / "helper.py").write_text("def measured(f):\n    BENCHMARK_ENV = {}  # not at the top level\n")
    (tmp_path / "notes.txt").write_text("BENCHMARK_ENV = {}\n")
    found = run_all.benchmarks(tmp_path)
    assert [(path.name, env) for path, env in found] == [("a_plain.py", {}), ("b_threads.py", {"OMP_NUM_THREADS": "1"})]
    (tmp_path / "c_bad.py").write_text("import os\nBENCHMARK_ENV = {'OMP_NUM_THREADS': os.cpu_count()}\n")
    with pytest.raises(ValueError, match="c_bad.py: BENCHMARK_ENV must be a literal dict of strings"):
        run_all.benchmarks(tmp_path)


def test_this_folders_benchmarks_and_their_environments():
    found = {path.stem: env for path, env in run_all.benchmarks()}
    # the ReLU-complex benchmarks measure one thread; the helpers, the GPU programs, the rehearsal's
    # reader and the writer of the plan's unit costs are not benchmarks
    assert found["relu_complex"] == found["relu_complex_stress"] == {"OMP_NUM_THREADS": "1"}
    assert not {"measure", "baseline", "gpu_check", "precision", "rehearsal", "unit_costs", "run_all"} & set(found)
    assert len(found) >= 11 and all(env == {} for name, env in found.items() if not name.startswith("relu_complex"))
