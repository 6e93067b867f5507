"""Dask: a LocalCluster started here (`dask-local:N`), or a running cluster (`dask://HOST:PORT`),
e.g. Slurm workers started with dask-jobqueue. Workers need the run folder on a shared
filesystem, since each unit reads the run's dataset and writes its own folders there.

A worker that dies mid-training (killed, out of memory, a node lost) loses nothing that was
finished: Dask gives its unit to another worker (`RETRIES` times per unit beyond Dask's own
rescheduling of a lost worker's tasks), the training starts over from its seed, and since a
training's result depends only on its job and thread count, the run's results are those of an
uninterrupted run. Only a unit whose every try fails stops the run, naming the job."""

from __future__ import annotations

from ..errors import HmtlError
from .base import Executor, cpu_share, execute, register_executor

RETRIES = 3


def _distributed():
    try:
        import distributed
    except ImportError:
        raise HmtlError("the dask executors need Dask: pip install 'hmtl[dask]' "
                        "(or 'dask[distributed]')") from None
    return distributed


class _Dask(Executor):
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

    def parallel(self) -> int:
        if self.workers:
            return self.workers
        if self.pack <= 1:                      # only packing asks: stay unconnected
            return 1
        return max(1, len(self._ensure_client().scheduler_info().get("workers", {})))

    def _submit(self, units, run):
        if not units:
            return
        distributed = _distributed()
        client = self._ensure_client()
        futures = [client.submit(execute, unit, run, self.threads, pure=False, retries=RETRIES,
                                 key=f"hmtl-train-{unit[0].key}-{u}")
                   for u, unit in enumerate(units)]
        index = {f.key: u for u, f in enumerate(futures)}
        for future in distributed.as_completed(futures):
            try:
                outcomes = future.result()
            except distributed.KilledWorker as e:
                unit = units[index[future.key]]
                raise HmtlError(f"executor dask: the workers running {unit[0].tag or unit[0].key} "
                                f"kept dying ({e}); finished trainings are kept, run again to "
                                "resume") from None
            yield index[future.key], outcomes

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None


@register_executor("dask-local", "dask-local:N")
class DaskLocalExecutor(_Dask):
    @classmethod
    def from_spec(cls, arg: str, threads: int | None) -> "DaskLocalExecutor":
        return cls(workers=int(arg), threads=threads)


@register_executor("dask", "dask://HOST:PORT")
class DaskExecutor(_Dask):
    @classmethod
    def from_spec(cls, arg: str, threads: int | None) -> "DaskExecutor":
        if "://" not in arg:
            raise ValueError(arg)
        return cls(address=arg.replace("dask://", "tcp://", 1), threads=threads)
