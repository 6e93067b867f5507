"""Dask: a LocalCluster started here (`dask-local:N`), or a running cluster (`dask://HOST:PORT`),
e.g. Slurm workers started with dask-jobqueue. Workers need the run folder on a shared
filesystem, since each job reads the run's dataset and writes its own folder there."""

from __future__ import annotations

from ..errors import HmtlError
from .base import Executor, cpu_share, execute


def _distributed():
    try:
        import distributed
    except ImportError:
        raise HmtlError("the dask executors need Dask: pip install 'hmtl[dask]' "
                        "(or 'dask[distributed]')") from None
    return distributed


class DaskExecutor(Executor):
    name = "dask"

    def __init__(self, workers: int | None = None, address: str | None = None,
                 threads: int | None = None):
        super().__init__(threads or (cpu_share(workers) if workers else None))
        self.workers, self.address = workers, address
        self._client = self._cluster = None

    def _ensure_client(self):
        if self._client is None:
            distributed = _distributed()
            if self.address:
                try:
                    self._client = distributed.Client(self.address, timeout="20s")
                except OSError as e:
                    raise HmtlError(f"executor dask: cannot reach {self.address} ({e})") from None
            else:
                self._cluster = distributed.LocalCluster(
                    n_workers=self.workers, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=40)
                self._client = distributed.Client(self._cluster)
        return self._client

    def _submit(self, jobs, store, data):
        if not jobs:
            return
        distributed = _distributed()
        client = self._ensure_client()
        run_dir = str(store.root.parent)
        futures = [client.submit(execute, job, run_dir, self.threads, pure=False,
                                 key=f"hmtl-train-{job.key}-{j}") for j, job in enumerate(jobs)]
        index = {f.key: j for j, f in enumerate(futures)}
        for future in distributed.as_completed(futures):
            rec, trained = future.result()
            yield index[future.key], rec, trained

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None
