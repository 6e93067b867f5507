"""The `runs/` folder of a run: one sub-folder per training job, named by the job's key.
`metrics.json` is written last, so its presence means the training finished; a damaged one
means train again. With train.logger on, the training's log follows (RUN/logs, logger.py)."""

from __future__ import annotations

import io
from pathlib import Path

import torch

from ..data.dataset import Dataset
from ..records import TrainRecord
from ..utils.io import atomic_write_bytes, atomic_write_json, read_json
from .job import TrainJob
from .logger import log_training


class RunStore:
    """The `runs/` folder of a run: one sub-folder per job key."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def folder(self, job: TrainJob) -> Path:
        return self.root / job.key

    def load(self, job: TrainJob) -> TrainRecord | None:
        path = self.folder(job) / "metrics.json"
        if not path.exists():
            return None
        try:
            return TrainRecord.from_json(read_json(path))
        except (ValueError, TypeError):
            return None  # damaged: train again

    def save(self, job: TrainJob, record: TrainRecord, state: dict) -> None:
        # Called in the process that trained the job. Its torch thread count decides the float
        # rounding on CPU, so two counts give two different models from one job: say which.
        if record.threads is None:
            record.threads = torch.get_num_threads()
        folder = self.folder(job)
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(folder / "model.pt", buf.getvalue())
        atomic_write_json(folder / "job.json", {"tag": job.tag, "kind": type(job).__name__,
                                                **job.identity()})
        atomic_write_json(folder / "metrics.json", record.to_json())   # last: means done
        log_training(getattr(job.train, "logger", "none"), self.logs_dir, record)

    @property
    def logs_dir(self) -> Path:
        """RUN/logs: the experiment logger's files (training/logger.py), next to RUN/runs."""
        return self.root.parent / "logs"

    def load_state(self, job: TrainJob) -> dict:
        return torch.load(self.folder(job) / "model.pt", map_location="cpu", weights_only=True)

    def run(self, job: TrainJob, data: Dataset) -> tuple[TrainRecord, bool]:
        """(record, trained_now). A finished job is read back, never trained again."""
        record = self.load(job)
        if record is not None:
            return record, False
        record, state = job.execute(data)
        self.save(job, record, state)
        return record, True
