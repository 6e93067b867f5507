"""A training job: one model (tree spec) trained with one seed on the run's dataset.

A job's folder under `runs/` is named by the hash of everything that determines its result
(spec, seed, model and training config, task weights, dataset fingerprint), and a job whose
`metrics.json` exists is never trained again. This is what makes every stage resumable, and
what lets any executor run jobs in any order."""

from __future__ import annotations

import dataclasses
import io
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import ModelConfig, TrainConfig
from ..data.dataset import Dataset
from ..models import TreeSpec, build_model
from ..utils.io import atomic_write_bytes, atomic_write_json, read_json, stable_hash
from ..utils.progress import bar, epoch_bars_wanted
from .batches import train_batches
from .loop import fit
from .multitask import TaskSet

JOB_FORMAT = 1
# Training fields added after format 1 are hashed only when they differ from their default, so
# that a new option does not orphan every finished training of existing run folders.
LATER_TRAIN_DEFAULTS = {"precision": "fp32"}
# Training fields that say where and how a job runs, not what it is: never hashed, never a
# reason not to pack two jobs together.
HOW_IT_RUNS = ("device", "cuda_graphs")


@dataclass(frozen=True)
class TrainJob:
    spec: TreeSpec
    seed: int
    model: ModelConfig
    train: TrainConfig
    weights: tuple[tuple[str, float], ...]   # task loss weights, for the spec's tasks
    data_key: str
    tag: str = ""                            # for people (e.g. "pair emotion+gender k=2"); not hashed

    packable = True   # plain jobs can be trained packed with others of their shape

    def identity(self) -> dict:
        """Everything that decides the result; subclasses (e.g. baselines) add their own."""
        train = dataclasses.asdict(self.train)
        for how in HOW_IT_RUNS:
            train.pop(how)
        for name, default in LATER_TRAIN_DEFAULTS.items():
            if train.get(name) == default:
                train.pop(name)
        return {"format": JOB_FORMAT, "tasks": list(self.spec.tasks),
                "spec": self.spec.to_json(), "seed": self.seed,
                "model": dataclasses.asdict(self.model), "train": train,
                "weights": [list(w) for w in self.weights], "data": self.data_key}

    @property
    def key(self) -> str:
        return stable_hash(self.identity())

    def execute(self, data: "Dataset") -> tuple[dict, dict]:
        """Train; returns (record, state_dict). Other kinds of job override this."""
        return train_job(self, data)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            return torch.device("cpu")  # a config written for a GPU still runs here
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    return torch.device(name)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)


def autocast(cfg: TrainConfig, device: torch.device):
    """bf16 autocast where asked for and useful (CUDA); a no-op context otherwise."""
    return torch.autocast(device.type, dtype=torch.bfloat16,
                          enabled=cfg.precision == "bf16" and device.type == "cuda")


class Autocast(torch.nn.Module):
    """Runs the wrapped model under bf16 autocast and returns float32 outputs, so that the
    training loop and the loss stay ignorant of precision."""

    def __init__(self, inner: torch.nn.Module, cfg: TrainConfig, device: torch.device):
        super().__init__()
        self.inner, self.cfg, self.device = inner, cfg, device

    def forward(self, x):
        with autocast(self.cfg, self.device):
            out = self.inner(x)
        return {t: o.float() for t, o in out.items()}


_ON_DEVICE: dict[tuple[int, str], tuple] = {}


def on_device(data: Dataset, device: torch.device) -> tuple:
    """The dataset's features, labels and regression values (or None) on `device`, copied
    there once per process."""
    if device.type == "cpu":
        return data.x, data.y, data.values
    key = (id(data), str(device))
    if key not in _ON_DEVICE:
        _ON_DEVICE.clear()  # one dataset at a time is resident
        _ON_DEVICE[key] = (data.x.to(device), data.y.to(device),
                           None if data.values is None else data.values.to(device))
    return _ON_DEVICE[key]


class WithAux(torch.nn.Module):
    """The model plus its training-only modules (e.g. a margin classifier), so that one
    optimizer and one best-state snapshot cover both; only the model is saved."""

    def __init__(self, model: torch.nn.Module, aux: torch.nn.ModuleDict):
        super().__init__()
        self.model, self.aux = model, aux

    def forward(self, x):
        return self.model(x)


def train_job(job: TrainJob, data: Dataset, on_epoch=None, init=None, return_model: bool = False):
    """Train one job; returns (record, state_dict) (and the model, if asked). Deterministic for
    a seed on one device. `init(model)` runs before training (warm start, masks); `on_epoch` may
    raise loop.StopTraining."""
    device = resolve_device(job.train.device)
    tasks = list(job.spec.tasks)
    taskset = TaskSet(data, tasks, dict(job.weights))
    x, y_all, v_all = on_device(data, device)
    y = y_all[:, taskset.cols]
    v = v_all[:, taskset.cols] if (v_all is not None and taskset.needs_values) else None
    train_idx = data.indices("train").to(device)
    val_idx = data.indices("val").to(device)
    test_idx = data.indices("test").to(device)
    # a clip none of the job's tasks label teaches it nothing
    train_idx = train_idx[(y[train_idx] >= 0).any(dim=1)]

    seed_everything(job.seed)
    model = build_model(job.spec, job.model, {t: data.head_size(t) for t in tasks},
                        data.x.shape[1], data.frames)
    model.set_input_stats(data.mean, data.std)
    if init is not None:
        init(model)  # e.g. weights of earlier models (warm start)
    aux = taskset.aux_modules()            # after the model: its initialisation stays the same
    trainee = WithAux(model, aux) if len(aux) else model
    trainee.to(device)
    generator = torch.Generator(device=device)
    generator.manual_seed(job.seed + 1)
    loss_fn = taskset.loss(aux if len(aux) else None)

    def score(m):
        return taskset.score(taskset.evaluate(m, x, y, v, val_idx, data.frames, "val"))

    steps = max(1, -(-len(train_idx) // job.train.batch_size))
    epoch_bar = None
    if on_epoch is None and epoch_bars_wanted():
        epoch_bar = bar(job.train.epochs, desc=job.tag or "training", unit="epoch")

        def on_epoch(record):
            epoch_bar.update(1)
            epoch_bar.set_postfix_str(f"loss {record['loss']:.3f} val {record['score']:.3f}")
    start = time.perf_counter()
    runner = Autocast(trainee, job.train, device) if job.train.precision == "bf16" else trainee
    result = fit(runner, lambda epoch: train_batches(x, y, train_idx, job.train.batch_size,
                                                     data.frames, generator, v),
                 loss_fn, score, job.train, steps, on_epoch=on_epoch)
    seconds = time.perf_counter() - start
    if epoch_bar is not None:
        epoch_bar.close()
    params, macs = model.cost()
    record = {
        "key": job.key, "tag": job.tag, "tasks": tasks, "tree": job.spec.to_json(),
        "seed": job.seed, "params": params, "macs": macs,
        "val": taskset.evaluate(model, x, y, v, val_idx, data.frames, "val"),
        "test": taskset.evaluate(model, x, y, v, test_idx, data.frames, "test"),
        "best_epoch": result.best_epoch, "epochs": result.epochs,
        "seconds": round(seconds, 3), "device": str(device),
    }
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return (record, state, model) if return_model else (record, state)


class RunStore:
    """The `runs/` folder of a run: one sub-folder per job key."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def folder(self, job: TrainJob) -> Path:
        return self.root / job.key

    def load(self, job: TrainJob) -> dict | None:
        path = self.folder(job) / "metrics.json"
        if not path.exists():
            return None
        try:
            return read_json(path)
        except ValueError:
            return None  # damaged: train again

    def save(self, job: TrainJob, record: dict, state: dict) -> None:
        # Called in the process that trained the job. Its torch thread count decides the float
        # rounding on CPU, so two counts give two different models from one job: say which.
        record.setdefault("threads", torch.get_num_threads())
        folder = self.folder(job)
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(folder / "model.pt", buf.getvalue())
        atomic_write_json(folder / "job.json", {"tag": job.tag, "kind": type(job).__name__,
                                                **job.identity()})
        atomic_write_json(folder / "metrics.json", record)   # last: its presence means done

    def load_state(self, job: TrainJob) -> dict:
        return torch.load(self.folder(job) / "model.pt", map_location="cpu", weights_only=True)

    def run(self, job: TrainJob, data: Dataset) -> tuple[dict, bool]:
        """(record, trained_now). A finished job is read back, never trained again."""
        record = self.load(job)
        if record is not None:
            return record, False
        record, state = job.execute(data)
        self.save(job, record, state)
        return record, True
