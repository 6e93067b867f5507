"""A run folder as trainings see it: one small picklable handle that owns the folder's layout.

    RUN/data/     the prepared dataset (features, labels, split): written once, read by every job
    RUN/runs/     one folder per training job, named by the job's key (training/store.py)
    RUN/.lock     one hmtl process per run folder (utils/lock.py)

Executors receive the handle and nothing else about the run: any process (a pool worker, a Dask
worker on another host with the folder on a shared filesystem) opens the dataset from it once
and stores every training it finishes there."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..data.dataset import Dataset, load_dataset
from ..training.store import RunStore
from ..utils.lock import RunLock

_OPEN: dict[str, Dataset] = {}          # per process: run folder -> its dataset, loaded once


@dataclass(frozen=True)
class RunHandle:
    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def store(self) -> RunStore:
        return RunStore(self.runs_dir)

    def dataset(self, key: str | None = None) -> Dataset:
        """The run's dataset, loaded once per process (memory-mapped when large); loaded again
        when it is not the one of fingerprint `key` (the folder was prepared anew since)."""
        folder = str(self.root.resolve())
        if folder not in _OPEN or (key is not None and _OPEN[folder].key != key):
            _OPEN[folder] = load_dataset(self.data_dir)
        return _OPEN[folder]

    def adopt(self, data: Dataset) -> None:
        """The process that prepared the dataset keeps it instead of loading it again."""
        _OPEN[str(self.root.resolve())] = data

    def lock(self) -> RunLock:
        return RunLock(self.root)
