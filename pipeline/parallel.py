"""Where steps run: the Dask cluster of the Dask-parallel steps, and each sweep's device.

``compute.dask.cluster`` (passed to the steps as ``dask_cluster``):
- ``local`` (default): an in-process cluster sized by the rule's threads;
- ``address``: connect to a running scheduler at ``compute.dask.address``;
- ``slurm``: a dask-jobqueue SLURMCluster (dask-jobqueue, installed with the pipeline).

``compute.dask.gil_bound`` (``threads`` or ``processes``) says how the local cluster runs a step
whose work holds the GIL (it says so: ``holds_gil=True``; today ``analyse_relu_complexes``, whose
decomposition is NumPy calls on small arrays driven by Python loops): as threads of one process,
which take turns, or as that many single-threaded worker processes, which pay a start-up and
the pickling of each task's inputs and results (docs/performance.md measures both).
"""

from __future__ import annotations

import contextlib
import logging

log = logging.getLogger(__name__)

CLUSTERS = ("local", "address", "slurm")
GIL_BOUND = ("threads", "processes")


def device_of(device, sweep: str) -> str:
    """The device setting of ``sweep``: ``device`` is the runtime's (``{"default": ..., "sweeps":
    {name: ...}}``, as the workflow passes it, each sweep's ``device`` or ``compute.device``) or one
    name for every sweep (``auto``, ``cpu``, ``cuda``: a step called by hand)."""
    if isinstance(device, str):
        return device
    return device["sweeps"].get(sweep) or device["default"]


def _verify_checksums_on_workers(client) -> None:
    """Make every worker read chunks with the pipeline's checksum codec (``pipeline.store``), so a
    corrupted chunk read on a worker of a remote cluster raises the same error type as here."""
    from dask.distributed import WorkerPlugin

    class ImportStore(WorkerPlugin):
        name = "pipeline-store"

        def setup(self, worker):
            import pipeline.store  # noqa: F401  (registers the codec)

    client.register_plugin(ImportStore())


@contextlib.contextmanager
def dask_client(
    cluster: str = "local", threads: int = 1, address: str | None = None, slurm: dict | None = None,
    gil_bound: str = "threads", holds_gil: bool = False,
):
    """Yield a ``dask.distributed.Client`` for one step, closed afterwards.

    Parameters
    ----------
    cluster : {"local", "address", "slurm"}
    threads : int
        Threads of the local cluster (the rule's ``threads``).
    address : str, optional
        Scheduler address, for ``cluster="address"``.
    slurm : dict, optional
        Keyword arguments of ``dask_jobqueue.SLURMCluster`` plus ``jobs`` (workers to start).
    gil_bound : {"threads", "processes"}
        How a local cluster runs a step that ``holds_gil`` (``compute.dask.gil_bound``).
    holds_gil : bool
        The step's tasks hold the GIL (the step says so, not the config).
    """
    from dask.distributed import Client, LocalCluster

    if cluster not in CLUSTERS:
        raise ValueError(f"compute.dask.cluster must be one of {CLUSTERS}, got {cluster!r}")
    if gil_bound not in GIL_BOUND:
        raise ValueError(f"compute.dask.gil_bound must be one of {GIL_BOUND}, got {gil_bound!r}")
    if cluster == "address":
        if not address:
            raise ValueError("compute.dask.cluster is 'address' but compute.dask.address is not set")
        client = Client(address)
        try:
            _verify_checksums_on_workers(client)
            yield client
        finally:
            client.close()
        return
    if cluster == "slurm":
        try:
            from dask_jobqueue import SLURMCluster
        except ImportError as error:
            raise RuntimeError("compute.dask.cluster 'slurm' needs the dask-jobqueue package: pip install dask-jobqueue") from error
        options = dict(slurm or {})
        jobs = options.pop("jobs", 1)
        with SLURMCluster(**options) as slurm_cluster:
            slurm_cluster.scale(jobs=jobs)
            with Client(slurm_cluster) as client:
                _verify_checksums_on_workers(client)
                yield client
        return
    threads = max(1, threads)
    if holds_gil and gil_bound == "processes" and threads > 1:
        # One single-threaded process per thread: the step's Python holds the GIL, so its threads
        # would take turns. Workers import the pipeline afresh; the store plugin makes them check
        # chunks like this process.
        with LocalCluster(n_workers=threads, threads_per_worker=1, processes=True, dashboard_address=None) as local:
            with Client(local) as client:
                _verify_checksums_on_workers(client)
                log.info("dask: local cluster of %d single-threaded processes", threads)
                yield client
        return
    # Threads in one process: the kernels release the GIL (NumPy/BLAS, ripser's C++), and no data
    # has to be serialized between workers.
    with LocalCluster(n_workers=1, threads_per_worker=threads, processes=False, dashboard_address=None) as local:
        with Client(local) as client:
            log.info("dask: local cluster with %d threads", threads)
            yield client
