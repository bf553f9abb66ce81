"""Where steps run: the Dask cluster of the Dask-parallel steps, and each sweep's device.

``compute.dask.cluster`` (passed to the steps as ``dask_cluster``):
- ``local`` (default): an in-process cluster sized by the rule's threads;
- ``address``: connect to a running scheduler at ``compute.dask.address``;
- ``slurm``: a dask-jobqueue SLURMCluster (dask-jobqueue, installed with the pipeline).
"""

from __future__ import annotations

import contextlib
import logging

log = logging.getLogger(__name__)

CLUSTERS = ("local", "address", "slurm")


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
def dask_client(cluster: str = "local", threads: int = 1, address: str | None = None, slurm: dict | None = None):
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
    """
    from dask.distributed import Client, LocalCluster

    if cluster not in CLUSTERS:
        raise ValueError(f"compute.dask.cluster must be one of {CLUSTERS}, got {cluster!r}")
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
    # Threads in one process: the kernels release the GIL (NumPy/BLAS, ripser's C++), and no data
    # has to be serialized between workers.
    with LocalCluster(n_workers=1, threads_per_worker=max(1, threads), processes=False, dashboard_address=None) as local:
        with Client(local) as client:
            log.info("dask: local cluster with %d threads", threads)
            yield client
