"""Population store: layout, completion marker, resume slots, checksums."""

import os

import numpy as np
import pytest
import zarr
from conftest import REPO

from pipeline import store

SPEC = {"sweep": "s", "population": 0, "members": [{"member": 0}, {"member": 1}]}


def _new(tmp_path, spec=SPEC):
    path = store.partial_path(tmp_path / "pop.zarr")
    root = store.create_population_store(
        path, spec, {"w": (3, 2)}, {"bn.running_mean": ((2,), "float32")}, n_snapshots=3, n_epochs=2
    )
    return path, root


def _finish(tmp_path, root):
    params = {"w": np.arange(12, dtype=np.float32).reshape(2, 3, 2)}
    buffers = {"bn.running_mean": np.ones((2, 2), np.float32)}
    return store.finalize_store(root, tmp_path / "pop.zarr", params, buffers)


def test_snapshots_and_metrics_round_trip(tmp_path):
    path, root = _new(tmp_path)
    weights = np.random.default_rng(0).normal(size=(2, 3, 2)).astype(np.float32)
    store.write_snapshot(root, 1, 7, {"w": weights}, {"bn.running_mean": np.zeros((2, 2), np.float32)})
    store.write_epoch_metrics(root, 0, {"test_accuracy": np.array([0.5, 0.25])})
    store.write_epoch_metrics(root, 0, {"train_loss": np.array([[1.0, 2.0], [3.0, 4.0]])})  # a block of 2 epochs
    final = _finish(tmp_path, root)
    assert not path.exists()  # moved into place
    arrays = store.snapshot_arrays(final)
    assert arrays["w"].shape == (2, 3, 3, 2)
    assert arrays["w"].chunksize == (1, 1, 3, 2)  # one member's snapshot per Dask task
    np.testing.assert_array_equal(arrays["w"][:, 1].compute(), weights)
    assert np.isnan(arrays["w"][:, 2].compute()).all()  # never written
    assert zarr.open_group(str(final))["snapshot_step"][...].tolist() == [-1, 7, -1]
    metrics = store.read_metrics(final)
    assert metrics["test_accuracy"][:, 0].tolist() == [0.5, 0.25]
    assert np.isnan(metrics["test_accuracy"][:, 1]).all()
    assert metrics["train_loss"].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    params, buffers = store.read_final_params(final, member=1)
    np.testing.assert_array_equal(params["w"], np.arange(6, 12, dtype=np.float32).reshape(3, 2))


def test_incomplete_store_is_refused(tmp_path):
    path, _ = _new(tmp_path)
    with pytest.raises(store.StoreError, match="incomplete"):
        store.open_population(path)
    with pytest.raises(store.StoreError, match="does not exist"):
        store.open_population(tmp_path / "nothing.zarr")


def test_resume_state_alternates_slots_and_keeps_the_last(tmp_path):
    path, root = _new(tmp_path)
    assert store.load_resume_state(root) is None
    store.save_resume_state(root, 5, {"a": np.full(3, 5.0)})
    store.save_resume_state(root, 9, {"a": np.full(3, 9.0)})
    assert root.attrs["state_slot"] == "b"
    reopened = store.open_partial(path, SPEC)
    step, state = store.load_resume_state(reopened)
    assert step == 9 and state["a"].tolist() == [9.0, 9.0, 9.0]


def test_partial_store_of_another_spec_is_not_resumed(tmp_path):
    path, root = _new(tmp_path)
    store.save_resume_state(root, 5, {"a": np.zeros(1)})
    other = {**SPEC, "members": [{"member": 0}, {"member": 2}]}
    assert store.open_partial(path, other) is None
    assert store.open_partial(path, SPEC) is not None


def test_corrupted_chunk_fails_on_read(tmp_path):
    _, root = _new(tmp_path)
    final = _finish(tmp_path, root)
    chunk = next((final / "final" / "params" / "w" / "c").rglob("*"))
    while chunk.is_dir():
        chunk = next(chunk.iterdir())
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    with pytest.raises(store.CorruptStoreError, match=str(final)):
        store.read_final_params(final)
    # moved aside, not deleted: the producer's output is missing (so it re-runs), the bytes are kept
    assert not final.exists() and store.quarantine_path(final).is_dir()


@pytest.mark.parametrize("uncompressed", [(), ("diffusion",)], ids=["zstd", "checksum-only"])
def test_corrupted_chunk_read_by_dask_names_the_store(tmp_path, uncompressed):
    import dask.array as da

    from pipeline.kernels import distances

    path = tmp_path / "matrices.zarr"
    values = da.from_array(np.arange(64.0).reshape(4, 4, 4), chunks=(1, 2, 4))
    store.write_array_store(path, {"diffusion": values}, uncompressed=uncompressed)
    codecs = [type(c).__name__ for c in store.open_array_store(path)["diffusion"].compressors]
    assert codecs == (["VerifyingCrc32c"] if uncompressed else ["ZstdCodec", "VerifyingCrc32c"])
    # on disk it is zarr's own crc32c codec, readable by any zarr reader
    assert '"name": "crc32c"' in (path / "diffusion" / "zarr.json").read_text()
    chunk = sorted(p for p in (path / "diffusion" / "c").rglob("*") if p.is_file())[3]
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    with pytest.raises(store.CorruptStoreError, match=str(path)):
        with store.checked(path):
            distances.gram_frobenius_distances(store.dask_array(path, "diffusion", all_items=True))
    assert not path.exists() and store.quarantine_path(path).is_dir()


def test_a_value_error_that_is_not_a_checksum_passes_through_unchanged(tmp_path):
    path = tmp_path / "kept.zarr"
    store.write_array_store(path, {"x": np.zeros(3)})
    with pytest.raises(ValueError, match="checksum of my own"):  # the word alone no longer matters
        with store.checked(path):
            raise ValueError("a checksum of my own")
    assert path.is_dir() and not store.quarantine_path(path).exists()


def test_an_output_appears_only_when_its_writing_completes(tmp_path):
    target = tmp_path / "sub" / "table.parquet"
    with pytest.raises(RuntimeError):
        with store.atomic_output(target) as written:
            written.write_text("half")
            raise RuntimeError("killed mid-way")
    assert not target.exists()
    target.parent.joinpath("table.parquet.partial").write_text("stale leftover")
    with store.atomic_output(target) as written:
        assert not written.exists()  # a leftover is cleared first
        written.write_text("whole")
    assert target.read_text() == "whole" and not written.exists()


def test_parameter_matrix_rows_are_the_stored_vectors_in_order(tmp_path):
    # two stores: one's final parameters, the other's snapshots of members 0, 1 and 3 (two runs)
    shapes = {"a.weight": (5, 3), "b.weight": (7, 2, 2)}
    rng = np.random.default_rng(4)
    paths = []
    for name, members in (("final.zarr", 2), ("snapshots.zarr", 4)):
        spec = {"sweep": name, "population": 0, "members": [{"member": i} for i in range(members)]}
        root = store.create_population_store(store.partial_path(tmp_path / name), spec, shapes, {}, 3, 1)
        for s in range(3):
            store.write_snapshot(root, s, s, {k: rng.normal(size=(members, *v)).astype(np.float32) for k, v in shapes.items()}, {})
        final = {k: rng.normal(size=(members, *v)).astype(np.float32) for k, v in shapes.items()}
        paths.append(store.finalize_store(root, tmp_path / name, final, {}))
    matrix = store.parameter_matrix([(paths[0], "final", [1]), (paths[1], "snapshots", [0, 1, 3])], target_bytes=64)
    assert matrix.numblocks[1] > 2  # slabs of the tensors' leading axes
    final, _ = store.read_final_params(paths[0], member=1)
    snapshots = store.snapshot_arrays(paths[1])
    expected = [np.concatenate([final[k].ravel() for k in sorted(shapes)])]
    for member in (0, 1, 3):
        for s in range(3):
            expected.append(np.concatenate([snapshots[k][member, s].compute().ravel() for k in sorted(shapes)]))
    np.testing.assert_array_equal(matrix.compute(), np.stack(expected))


def test_a_second_writer_of_an_output_fails_at_once_and_a_killed_writers_lock_goes_with_it(tmp_path):
    """Two writers of one output: the second is refused, naming the first, and touches nothing;
    once the first is killed (-9), the output can be written again."""
    import signal
    import subprocess
    import sys
    import textwrap

    output = tmp_path / "population_000.zarr"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pipeline import store
            with store.atomic_output({str(output)!r}) as partial:
                partial.mkdir()
                (partial / "chunk").write_text("first writer")
                print("writing", flush=True)
                time.sleep(120)
        """)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout.readline().strip() == "writing"
        with pytest.raises(store.OutputBusyError, match=rf"being written by another process \(pid {holder.pid} "):
            with store.atomic_output(output):
                raise AssertionError("the second writer must not get here")
        assert (store.partial_path(output) / "chunk").read_text() == "first writer"  # untouched
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with store.atomic_output(output) as partial:  # the kernel released the dead writer's lock
        partial.mkdir()
    assert output.is_dir() and not store.partial_path(output).exists()
