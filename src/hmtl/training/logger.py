"""Experiment loggers (train.logger): every training's per-epoch loss and validation score in
the run folder, for the tools people already watch runs with.

    none          nothing (the history stays in each training's metrics.json all the same)
    csv           RUN/logs/<tag>-seed<N>-<key>.csv: epoch, loss, score, best; no dependency
    tensorboard   RUN/logs/tensorboard/<same name>/: the same as scalars, plus each task's test
                  metrics at the best epoch; needs the tensorboard package

A log is written from the record's history when a training has been stored, not from inside
the epoch loop: trainings of every kind and executor (packed, pooled, on Dask workers) log
alike, and training itself is untouched. The logger is not part of a training's identity
(training/job.py HOW_IT_RUNS): switching it on retrains nothing, and trainings finished before
are not logged again."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from ..errors import HmtlError
from ..metrics import NOT_METRICS
from ..records import TrainRecord
from ..utils.io import atomic_write_text
from ..utils.progress import say

LOGGERS = ("none", "csv", "tensorboard")
TENSORBOARD_HINT = "pip install tensorboard"


def check_logger(kind: str) -> None:
    """Before any training: a logger that cannot write is a one-line error now, not a failure
    after the first training."""
    if kind not in LOGGERS:
        raise HmtlError(f"train.logger: one of {list(LOGGERS)}, got {kind!r}")
    if kind == "tensorboard":
        _summary_writer()


def _summary_writer():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise HmtlError(f"train.logger=tensorboard needs the tensorboard package: "
                        f"{TENSORBOARD_HINT} (or set train.logger=csv)") from None
    return SummaryWriter


def log_name(record: TrainRecord) -> str:
    """One file name per training: its tag (made file-safe), seed and key, since one tag
    names every seed of a model and can come back in another configuration."""
    tag = re.sub(r"[^A-Za-z0-9.+=-]+", "_", record.tag or "training").strip("_") or "training"
    return f"{tag}-seed{record.seed}-{record.key[:8]}"


def csv_text(record: TrainRecord) -> str:
    """The record's history as CSV: one row per epoch, best = 1 on the epoch whose weights were
    kept."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["epoch", "loss", "score", "best"])
    for h in record.history or []:
        w.writerow([h["epoch"], h["loss"], h["score"], int(h["epoch"] == record.best_epoch)])
    return buf.getvalue()


def write_log(kind: str, logs_dir: Path, record: TrainRecord) -> Path | None:
    """Write one training's log; returns where (None for no logger or no history)."""
    if kind == "none" or not record.history:
        return None
    logs_dir = Path(logs_dir)
    if kind == "csv":
        path = logs_dir / f"{log_name(record)}.csv"
        atomic_write_text(path, csv_text(record))
        return path
    if kind == "tensorboard":
        path = logs_dir / "tensorboard" / log_name(record)
        writer = _summary_writer()(log_dir=str(path))
        try:
            for h in record.history:
                writer.add_scalar("train/loss", h["loss"], h["epoch"])
                writer.add_scalar("val/score", h["score"], h["epoch"])
            for task, metrics in record.test.items():
                for name, value in metrics.items():
                    if name not in NOT_METRICS and isinstance(value, (int, float)):
                        writer.add_scalar(f"test/{task}/{name}", value, record.best_epoch)
        finally:
            writer.close()
        return path
    raise HmtlError(f"train.logger: one of {list(LOGGERS)}, got {kind!r}")


def log_training(kind: str, logs_dir: Path, record: TrainRecord) -> Path | None:
    """write_log for a training just stored: a log that cannot be written is said, never a
    reason to lose the training."""
    try:
        return write_log(kind, logs_dir, record)
    except (OSError, HmtlError) as e:
        say(f"train.logger={kind}: no log for {record.tag or record.key} ({e})")
        return None
