"""Sweeps to population jobs; a population job's store; fine-tuning. (Resume after a kill: in
process in test_train.py, through Snakemake with a real SIGKILL in test_operations.py.)"""

from pathlib import Path

import numpy as np
import pytest

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


def test_threshold_snapshots_are_stored_with_their_steps(tmp_path):
    config = _config(epochs=4, snapshot_every=1, snapshot_thresholds=[0.1, 0.2, 0.3, 0.99999])
    out = tmp_path / "population_000.zarr"
    zoo.train_population_job(zoo.population_spec(config, "s", 0), out, progress=False)
    saved = store.read_thresholds(out)
    snapshots = store.snapshot_arrays(out)
    steps = store.open_population(out)["snapshot_step"][...].tolist()
    assert saved["step"].shape == (4, 4) and (saved["step"][:, -1] == -1).all()  # 99.999 %: never
    for member, threshold in zip(*np.nonzero(saved["step"] >= 0)):
        index = steps.index(saved["step"][member, threshold])
        for name, value in saved["params"].items():
            np.testing.assert_array_equal(value[member, threshold], snapshots[name][member, index].compute())
    assert np.isnan(saved["params"]["layers.0.weight"][:, -1]).all()


def test_a_cuda_sweep_fails_at_once_where_there_is_no_gpu(tmp_path):
    import torch

    from pipeline.parallel import device_of

    if torch.cuda.is_available():
        pytest.skip("this host has a GPU")
    config = validate_config({"sweeps": {
        "s": {"dataset": "digits", "architecture": {"name": "mlp", "hidden": [4]}, "epochs": 1, "device": "cuda"},
    }})
    # the runtime's per-sweep devices, as the workflow passes them
    runtime = {"default": "cpu", "sweeps": {"s": "cuda"}}
    assert device_of(runtime, "s") == "cuda" and device_of(runtime, "other") == "cpu" and device_of("auto", "s") == "auto"
    path = tmp_path / "population_000.zarr"
    with pytest.raises(RuntimeError, match="cuda"):
        zoo.train_population_job(zoo.population_spec(config, "s", 0), path, device=runtime, progress=False)
    # never trained on the CPU instead: nothing was written
    assert not path.exists() and not store.partial_path(path).exists()
