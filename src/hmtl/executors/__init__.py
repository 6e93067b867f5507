"""Executors run training jobs. A stage hands over a list of jobs and gets their records back in
order; where and how they run is the executor's business:

    serial          one after the other in this process (the reference)
    local:N         a pool of N worker processes on this machine
    dask-local:N    a Dask LocalCluster of N single-threaded workers
    dask://H:P      the workers of a running Dask cluster (the run folder must be on a shared
                    filesystem; see README for Slurm with dask-jobqueue)
    packed[:K]      up to K jobs of the same shape trained at once as one grouped network, in
                    this process, on train.device (the GPU's way to run a sweep)

Every job writes its own hashed run folder, so any executor resumes any run, and with the same
threads per training they all give the same results."""

from __future__ import annotations

from ..errors import HmtlError
from .base import Executor, describe, log_record  # noqa: F401


def make_executor(spec: str = "serial", threads: int | None = None) -> Executor:
    kind, _, arg = spec.partition(":")
    try:
        if spec == "serial":
            from .base import SerialExecutor

            return SerialExecutor(threads)
        if kind == "local":
            from .local import LocalPoolExecutor

            return LocalPoolExecutor(int(arg), threads)
        if kind == "dask-local":
            from .dask import DaskExecutor

            return DaskExecutor(workers=int(arg), threads=threads)
        if spec.startswith("dask://") or spec.startswith("tcp://"):
            from .dask import DaskExecutor

            return DaskExecutor(address=spec.replace("dask://", "tcp://", 1), threads=threads)
        if kind == "packed":
            from .packed import PackedExecutor

            return PackedExecutor(int(arg) if arg else 64, threads)
    except ValueError:
        pass
    raise HmtlError(f"executor '{spec}': expected serial, local:N, dask-local:N, dask://HOST:PORT "
                    f"or packed[:K]")
