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
threads per training the unpacked ones give the same results. A packed training differs from
its unpacked twin by float rounding only, but training amplifies that: on RAVDESS the same job's
test accuracy moved by 2-4 points per task, as another seed would (BENCHMARKS.md), so compare
methods within one executor's run, or over enough seeds that training noise is in the interval. A new executor is a class registered with
`register_executor(name, usage)` (see base.py); executors get a RunHandle (handle.py), never the
run's internals."""

from __future__ import annotations

# registration order is the order `make_executor`'s error lists them in
from . import local  # noqa: F401,I001  (each module registers its executor)
from . import dask  # noqa: F401,I001
from . import packed  # noqa: F401,I001
from .base import EXECUTORS, Executor, describe, log_record, make_executor, register_executor  # noqa: F401
from .handle import RunHandle  # noqa: F401
