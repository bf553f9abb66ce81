"""The Dask cluster chosen by compute.dask: a local one sized by the rule's threads, or a running
scheduler at an address (a SLURM-backed one is exercised in test_slurm.py on a real cluster)."""

import os

import dask.array as da
import numpy as np
import pytest
from dask.distributed import LocalCluster

from pipeline.parallel import dask_client


def test_local_cluster_has_the_rules_threads():
    with dask_client(threads=2) as client:
        assert sum(client.nthreads().values()) == 2
        x = da.arange(100, chunks=10)
        assert int(client.compute(x.sum()).result()) == 4950


def test_a_gil_bound_step_gets_single_threaded_processes_when_asked():
    # gil_bound: processes gives a step that holds the GIL one worker process per thread, each
    # with one thread, none of them this process; any other step, and the default, keep threads
    with dask_client(threads=2, gil_bound="processes", holds_gil=True) as client:
        assert sorted(client.nthreads().values()) == [1, 1]
        assert os.getpid() not in client.run(os.getpid).values()
        assert int(client.compute(da.arange(100, chunks=10).sum()).result()) == 4950
    for kwargs in ({"gil_bound": "processes"}, {"holds_gil": True}):
        with dask_client(threads=2, **kwargs) as client:
            assert list(client.nthreads().values()) == [2]
            assert set(client.run(os.getpid).values()) == {os.getpid()}


def test_existing_scheduler_at_an_address_does_the_work():
    # A scheduler with one worker process of its own: the step's tasks must run in that process.
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with dask_client(cluster="address", address=cluster.scheduler_address) as client:
            assert client.scheduler.address == cluster.scheduler_address
            [worker_pid] = client.run(os.getpid).values()
            assert worker_pid != os.getpid()
            x = da.from_array(np.arange(12.0).reshape(3, 4), chunks=(1, 4))
            np.testing.assert_array_equal(client.compute(x.sum(axis=1)).result(), [6.0, 22.0, 38.0])
        # the step's client is closed, the user's cluster is left running
        assert cluster.status.name == "running"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"cluster": "address"}, "compute.dask.address is not set"),
        ({"cluster": "kubernetes"}, "compute.dask.cluster must be one of"),
        ({"gil_bound": "fibers"}, "compute.dask.gil_bound must be one of"),
    ],
)
def test_bad_cluster_settings_name_the_key(kwargs, message):
    with pytest.raises(ValueError, match=message):
        with dask_client(**kwargs):
            pass
