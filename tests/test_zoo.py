"""Sweeps to population jobs; a population job's store; resume after SIGKILL; fine-tuning."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from pipeline import store, zoo
from pipeline.config import validate_config

REPO = Path(__file__).resolve().parents[1]


def _config(**sweep):
    base = {
        "dataset": "digits",
        "dataset_options": {"n_samples": 240},
        "architecture": {"name": "mlp", "hidden": [12, 6]},
        "grid": {"lr": [0.05, 0.1, 0.2], "momentum": [0.5, 0.9]},
        "epochs": 2,
        "batch_size": 50,
        "population_size": 4,
    }
    return validate_config({"sweeps": {"s": {**base, **sweep}}})


def test_sweep_is_the_grid_product_split_into_populations():
    config = _config()
    sweep = config["sweeps"]["s"]
    table = zoo.sweep_table(sweep)
    assert len(table) == zoo.sweep_size(sweep) == 6
    assert table[["lr", "momentum"]].values.tolist()[:3] == [[0.05, 0.5], [0.05, 0.9], [0.1, 0.5]]
    assert zoo.n_populations(sweep) == 2
    first, last = (zoo.population_spec(config, "s", p) for p in (0, 1))
    assert [m["member"] for m in first["members"]] == [0, 1, 2, 3]
    assert [m["member"] for m in last["members"]] == [4, 5]
    assert last["members"][0]["network"].startswith("lr~0.2_momentum~0.5")
    with pytest.raises(ValueError, match="no population 2"):
        zoo.population_spec(config, "s", 2)


def test_population_job_writes_a_complete_store_and_table(tmp_path):
    config = _config()
    out = tmp_path / "population_000.zarr"
    zoo.train_population_job(zoo.population_spec(config, "s", 0), out, progress=False)
    root = store.open_population(out)
    assert root["snapshot_step"][...].tolist() == [0, 5, 10]  # 240 training points / 50 per batch
    params = store.snapshot_arrays(out)
    assert params["layers.0.weight"].shape[:2] == (4, 3)
    final, _ = store.read_final_params(out)
    np.testing.assert_array_equal(params["layers.0.weight"][:, -1].compute(), final["layers.0.weight"])
    table = zoo.collect_sweep_metrics([out], tmp_path / "metrics.parquet")
    assert len(table) == 4 and table["test_accuracy"].between(0, 1).all()
    assert set(zoo.GRID_KEYS) <= set(table.columns)


def _run_job(args_path, log_path):
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "train_population", "--args-file", str(args_path)],
        stdout=open(log_path, "w"),
        stderr=subprocess.STDOUT,
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def test_job_killed_mid_way_resumes_to_identical_weights(tmp_path):
    config = _config(epochs=40, snapshot_every=5, grid={"lr": [0.05, 0.1]}, dataset_options={"n_samples": 480})
    spec = zoo.population_spec(config, "s", 0)
    reference = tmp_path / "reference.zarr"
    zoo.train_population_job(spec, reference, progress=False)

    out = tmp_path / "killed.zarr"
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"spec": spec, "output": str(out), "progress": False}))
    job = _run_job(args, tmp_path / "first.log")
    partial = store.partial_path(out)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if zarr.open_group(str(partial), mode="r").attrs.get("state_step", 0) >= 30:
                break
        except Exception:
            pass
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert not out.exists(), "the killed job must not leave a finished-looking store"
    killed_at = zarr.open_group(str(partial), mode="r").attrs["state_step"]
    assert 0 < killed_at < 40 * 10

    rerun = _run_job(args, tmp_path / "second.log")
    assert rerun.wait(timeout=300) == 0, (tmp_path / "second.log").read_text()
    assert "resuming from step" in (tmp_path / "second.log").read_text()
    got, _ = store.read_final_params(out)
    want, _ = store.read_final_params(reference)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])


def test_fine_tuning_starts_from_the_source_network(tmp_path):
    config = validate_config(
        {
            "sweeps": {
                "pre": _config()["sweeps"]["s"],
                "tune": {
                    **_config()["sweeps"]["s"],
                    "init_from": {"sweep": "pre", "member": 5},
                    "grid": {"lr": [0.01, 0.02]},
                    "epochs": 1,
                },
            }
        }
    )
    source_sweep, population, index = zoo.source_network(config, "tune")
    assert (source_sweep, population, index) == ("pre", 1, 1)
    source = tmp_path / "pre1.zarr"
    zoo.train_population_job(zoo.population_spec(config, "pre", 1), source, progress=False)
    tuned = tmp_path / "tune.zarr"
    zoo.train_population_job(
        zoo.population_spec(config, "tune", 0), tuned, init_store=source, init_member=index, progress=False
    )
    start = {k: v[:, 0].compute() for k, v in store.snapshot_arrays(tuned).items()}
    trained, _ = store.read_final_params(source, member=index)
    for name, value in trained.items():
        np.testing.assert_array_equal(start[name][0], value)
        np.testing.assert_array_equal(start[name][1], value)
