"""The prepared dataset of a run: features of every clip, labels of every task, and the split,
as arrays in the run folder (`data/`, written by prepare.py). Every training of the run loads
these arrays (memory-mapped when large) instead of touching audio."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..config import TaskConfig
from ..tasks import TaskInfo, task_type
from ..utils.io import read_json
from .manifest import SPLITS

# how a prepared dataset is stored; not part of the data key (prepare.py), which says what the
# clips, features, labels and split are: a new FORMAT that changes what a model sees (e.g. the
# stored precision) must also bump prepare.DATA_KEY_FORMAT, so no training is reused across it
FORMAT = 1


@dataclass
class Dataset:
    """Everything a training needs, as tensors. `x` keeps the stored frames (model window plus
    crop jitter); models see `frames` of them."""

    x: torch.Tensor            # (N, C, T_stored) float16
    y: torch.Tensor            # (N, n_tasks) int64: class or identity, -1 = unlabelled
    split: torch.Tensor        # (N,) int8: 0 train, 1 val, 2 test
    tasks: list[str]
    classes: dict[str, list[str]]
    frames: int
    mean: torch.Tensor         # (C,) per-channel statistics of the training clips
    std: torch.Tensor
    key: str                   # fingerprint: features, labels and split
    values: torch.Tensor | None = None        # (N, n_tasks) float32: regression targets, NaN
    types: dict[str, str] = field(default_factory=dict)
    info: dict[str, TaskInfo] = field(default_factory=dict)   # per task: classes, stats, identities
    task_cfg: dict[str, TaskConfig] = field(default_factory=dict)
    trials: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # task -> split -> (M, 3)

    def indices(self, split: str) -> torch.Tensor:
        return torch.nonzero(self.split == SPLITS.index(split)).flatten()

    def val_halves(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The validation clips in two halves, (selection, decision), each in dataset order: the
        first picks a training's best epoch, the second measures it without that selection's
        bias. Balanced on the first task's classes and the same for every training of the run
        (the shuffle is seeded by the dataset's fingerprint)."""
        val = self.indices("val")
        gen = torch.Generator().manual_seed(int(hashlib.sha256(self.key.encode()).hexdigest()[:8], 16))
        order = val[torch.randperm(len(val), generator=gen)]
        labels = self.y[order, 0]
        first = torch.zeros(len(order), dtype=torch.bool)
        for c in torch.unique(labels):                    # alternate within each class
            rows = torch.nonzero(labels == c).flatten()
            first[rows[0::2]] = True
        return torch.sort(order[first]).values, torch.sort(order[~first]).values

    def type_of(self, task: str):
        return task_type(self.types.get(task, "classification"))

    def head_size(self, task: str) -> int:
        """Outputs of the task's head: classes, 1 for a number, or the embedding size."""
        return self.type_of(task).head_size(self.task_info(task),
                                            self.task_cfg.get(task, TaskConfig(task)))

    def task_info(self, task: str) -> TaskInfo:
        return self.info.get(task) or TaskInfo(classes=self.classes.get(task))

    num_classes = head_size   # the name models were built with before task types


def mmap_threshold() -> int:
    """Features larger than this many bytes stay on disk (memory-mapped) instead of in RAM:
    $HMTL_MMAP_BYTES, else a quarter of the machine's memory."""
    if os.environ.get("HMTL_MMAP_BYTES"):
        return int(os.environ["HMTL_MMAP_BYTES"])
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 4 << 30


def load_dataset(data_dir: Path) -> Dataset:
    """Load a prepared dataset. meta.json is written last, so its presence means complete.
    Large feature files are memory-mapped (copy-on-write) rather than read into RAM."""
    data_dir = Path(data_dir)
    meta = read_json(data_dir / "meta.json")
    load = lambda name: torch.from_numpy(np.load(data_dir / name, allow_pickle=False))  # noqa: E731
    norm = load("norm.npy")
    x_file = data_dir / "x.npy"
    mmap = x_file.stat().st_size > mmap_threshold()
    x = torch.from_numpy(np.load(x_file, mmap_mode="c" if mmap else None, allow_pickle=False))
    tasks = meta["tasks"]
    types = meta.get("types") or {t: "classification" for t in tasks}
    info = {t: TaskInfo.from_json(i) for t, i in (meta.get("info") or {}).items()} or \
        {t: TaskInfo(classes=meta["classes"][t]) for t in tasks}
    task_cfg = {t: TaskConfig(**c) for t, c in (meta.get("task_config") or {}).items()}
    trials = {t: {s: np.load(data_dir / f"trials-{j}-{s}.npy", allow_pickle=False)
                  for s in ("val", "test")}
              for j, t in enumerate(tasks) if types.get(t) == "verification"}
    values = load("values.npy") if (data_dir / "values.npy").exists() else None
    return Dataset(x=x, y=load("y.npy"), split=load("split.npy"),
                   tasks=tasks, classes=meta["classes"], frames=meta["frames"],
                   mean=norm[0], std=norm[1], key=meta["data_key"], values=values, types=types,
                   info=info, task_cfg=task_cfg, trials=trials)
