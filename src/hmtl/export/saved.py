"""A saved model: one folder that is all a user needs to run a trained model, without the run
folder, manifest or corpus it came from (the run folder finds weights by tree and seed among
hash-named trainings, which is no way to hand a model to someone):

    model.safetensors   the model's weights (safetensors: no pickle, safe to load from anyone)
    model.json          the ModelCard: hmtl version, tree, model and front-end configs, the tasks
                        (type, head size, class names, a regression's training mean and std),
                        method, seed, params, MACs and the run's test metrics

model.json is written last, so a folder holding one is complete. load_saved() returns a
SavedModel: an nn.Module taking raw waveforms (batch, samples) at the card's sample rate, the
front end inside (ExportGraph, the wrapper of the ONNX export, with the training front end), and
returning one output per task as `hmtl predict` reads them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..config import FeatureConfig, ModelConfig, from_dict
from ..data.frontend import build_frontend
from ..errors import HmtlError
from ..models import TreeSpec, build_model
from ..utils.io import atomic_write_bytes, atomic_write_json, read_json
from .onnx_export import ExportGraph, example_input
from .predict import READS

FORMAT = 1             # model.json's layout; a newer one is refused with a message
WEIGHTS = "model.safetensors"
CARD = "model.json"
TYPES = ("classification", "regression", "verification")


@dataclass
class TaskHead:
    """One task as the saved model outputs it."""

    name: str
    type: str = "classification"
    size: int = 0                            # the head's outputs: classes, 1, embedding size
    classes: list[str] | None = None         # classification: output index -> class name
    mean: float | None = None                # regression: the head predicts (y - mean) / std
    std: float | None = None

    def graph_head(self) -> dict:
        """ExportGraph's `heads` entry."""
        if self.type == "regression":
            return {"type": self.type, "mean": self.mean, "std": self.std}
        return {"type": self.type}


@dataclass
class ModelCard:
    """What model.json holds: enough to rebuild the model and read its outputs."""

    method: str
    seed: int
    tasks: list[TaskHead]
    tree: list                               # TreeSpec.to_json()
    model: ModelConfig
    features: FeatureConfig
    frames: int                              # feature frames of one training window
    params: int = 0
    macs: int = 0                            # dense multiply-accumulates per window
    test: dict = field(default_factory=dict)  # {task: {metric: value}} on the run's test split
    trainings: list[str] = field(default_factory=list)
    hmtl: str = ""
    format: int = FORMAT

    @property
    def spec(self) -> TreeSpec:
        return TreeSpec.from_json([t.name for t in self.tasks], self.tree)

    def to_json(self) -> dict:
        feats = self.features
        return {"format": self.format, "hmtl": self.hmtl, "method": self.method,
                "seed": self.seed,
                "input": {"waveform": ["batch", "samples"], "sample_rate": feats.sample_rate,
                          "window_samples": feats.num_samples},
                "tasks": [{k: v for k, v in dataclasses.asdict(t).items() if v is not None}
                          for t in self.tasks],
                "tree": self.tree, "model": dataclasses.asdict(self.model),
                "features": dataclasses.asdict(feats), "frames": self.frames,
                "params": self.params, "macs": self.macs, "test": self.test,
                "trainings": self.trainings}

    @classmethod
    def from_json(cls, data, path: Path) -> "ModelCard":
        """Parse model.json; every error names `path` and the key at fault."""
        if not isinstance(data, dict):
            raise HmtlError(f"{path}: expected a JSON object, got {type(data).__name__}")
        missing = [k for k in ("format", "method", "seed", "tasks", "tree", "model",
                               "features", "frames") if k not in data]
        if missing:
            raise HmtlError(f"{path}: missing key(s) {missing}")
        if not isinstance(data["format"], int) or data["format"] > FORMAT:
            raise HmtlError(f"{path}: format {data['format']!r} is newer than this hmtl reads "
                            f"({FORMAT}); upgrade hmtl (the file was written by hmtl "
                            f"{data.get('hmtl', '?')})")
        known = {f.name for f in dataclasses.fields(FeatureConfig)}   # another version's extras
        feats = from_dict(FeatureConfig, {k: v for k, v in _mapping(data, "features", path).items()
                                          if k in known}, where=f"{path}: features")
        model = from_dict(ModelConfig, _mapping(data, "model", path), where=f"{path}: model")
        card = cls(method=str(data["method"]), seed=_int(data, "seed", path),
                   tasks=[_task(t, i, path) for i, t in enumerate(_list(data, "tasks", path))],
                   tree=_list(data, "tree", path), model=model, features=feats,
                   frames=_int(data, "frames", path),
                   params=int(data.get("params") or 0), macs=int(data.get("macs") or 0),
                   test=dict(data.get("test") or {}), trainings=list(data.get("trainings") or []),
                   hmtl=str(data.get("hmtl", "")), format=data["format"])
        try:
            TreeSpec.from_json([t.name for t in card.tasks], card.tree)
        except (ValueError, TypeError) as e:
            raise HmtlError(f"{path}: tree: not a tree of the tasks ({e})") from None
        return card


def _mapping(data: dict, key: str, path: Path) -> dict:
    if not isinstance(data[key], dict):
        raise HmtlError(f"{path}: {key}: expected a mapping, got {data[key]!r}")
    return data[key]


def _list(data: dict, key: str, path: Path) -> list:
    if not isinstance(data[key], list) or not data[key]:
        raise HmtlError(f"{path}: {key}: expected a non-empty list, got {data[key]!r}")
    return data[key]


def _int(data: dict, key: str, path: Path) -> int:
    if not isinstance(data[key], int) or isinstance(data[key], bool):
        raise HmtlError(f"{path}: {key}: expected an integer, got {data[key]!r}")
    return data[key]


def _task(raw, i: int, path: Path) -> TaskHead:
    where = f"{path}: tasks[{i}]"
    if not isinstance(raw, dict):
        raise HmtlError(f"{where}: expected a mapping, got {raw!r}")
    names = {f.name for f in dataclasses.fields(TaskHead)}
    unknown = sorted(set(raw) - names)
    if unknown or "name" not in raw:
        raise HmtlError(f"{where}: needs 'name'; unknown key(s) {unknown}; known: {sorted(names)}")
    task = TaskHead(**raw)
    if task.type not in TYPES:
        raise HmtlError(f"{where}.type: one of {', '.join(TYPES)}, got {task.type!r}")
    if not isinstance(task.size, int) or task.size < 1:
        raise HmtlError(f"{where}.size: expected a positive integer, got {task.size!r}")
    if task.type == "classification" and (not isinstance(task.classes, list)
                                          or len(task.classes) != task.size):
        raise HmtlError(f"{where}.classes: expected {task.size} class names, got {task.classes!r}")
    if task.type == "regression" and not all(isinstance(v, (int, float))
                                             for v in (task.mean, task.std)):
        raise HmtlError(f"{where}: a regression needs its training 'mean' and 'std'")
    return task


class SavedModel(nn.Module):
    """Waveform (batch, samples) at `sample_rate` -> {task: output}: class probabilities
    (batch, classes) of a classification, values (batch,) of a regression in the label's unit,
    unit embeddings (batch, dim) of a verification. `predict` does one clip of any length and
    rate, as `hmtl predict` does a file."""

    def __init__(self, model: nn.Module, card: ModelCard):
        super().__init__()
        self.card = card
        self.graph = ExportGraph(model, build_frontend(card.features),
                                 {t.name: t.graph_head() for t in card.tasks})
        self.eval()

    @property
    def tasks(self) -> list[str]:
        return [t.name for t in self.card.tasks]

    @property
    def types(self) -> dict[str, str]:
        return {t.name: t.type for t in self.card.tasks}

    @property
    def classes(self) -> dict[str, list[str]]:
        return {t.name: list(t.classes) for t in self.card.tasks if t.type == "classification"}

    @property
    def features(self) -> FeatureConfig:
        return self.card.features

    @property
    def sample_rate(self) -> int:
        return self.card.features.sample_rate

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        out = dict(zip(self.graph.names, self.graph(waveform), strict=True))
        return {t.name: out[f"{READS[t.type]}_{t.name}"] for t in self.card.tasks}

    def predict(self, waveform: np.ndarray, sample_rate: int) -> dict[str, dict]:
        """{task: prediction} for one mono clip (samples,) at `sample_rate` (resampled to the
        model's): {"label", "probability"}, {"value"} or {"embedding_norm"} by the task's type,
        windowed and averaged over a long clip as hmtl.export.predict documents."""
        from .predict import SavedPredictor, mono_at, predict_wave, summarise

        wave = mono_at(waveform, sample_rate, self.sample_rate)
        predictor = SavedPredictor(self)
        means, _ = predict_wave(predictor, wave)
        return summarise(predictor, means)

    def save(self, folder: str | Path) -> Path:
        """Write model.safetensors, then model.json (an older model.json goes first: a folder
        never pairs new weights with an old card); returns the folder."""
        from safetensors.torch import save

        folder = Path(folder)
        (folder / CARD).unlink(missing_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.graph.model.state_dict().items()}
        atomic_write_bytes(folder / WEIGHTS,
                           save(state, metadata={"format": "pt", "hmtl": self.card.hmtl}))
        atomic_write_json(folder / CARD, self.card.to_json())
        return folder

    @classmethod
    def from_loaded(cls, run, model: nn.Module, info: dict) -> "SavedModel":
        """From a run (hmtl.export.load.Run) and what load_model returned for it."""
        from .. import __version__

        heads, classes = run.heads, run.classes
        tasks = [TaskHead(t, heads[t]["type"], int(model.num_classes[t]), classes.get(t),
                          heads[t].get("mean"), heads[t].get("std")) for t in model.tasks]
        params, macs = model.cost()
        card = ModelCard(method=info["method"], seed=int(info["seed"]), tasks=tasks,
                         tree=model.spec.to_json(),
                         model=info.get("model_config") or run.cfg.model,
                         features=run.cfg.features, frames=run.frames, params=int(params),
                         macs=int(macs), test=scalar_metrics(info.get("test") or {}),
                         trainings=list(info.get("trainings") or []), hmtl=__version__)
        return cls(model, card)

    @classmethod
    def from_run(cls, run, method: str = "hierarchical", seed: int | None = None
                 ) -> "SavedModel":
        """A method's model of a run folder (path or Run), as it would be saved."""
        from .load import Run, load_model, load_run

        run = run if isinstance(run, Run) else load_run(run)
        model, info = load_model(run, method, seed)
        return cls.from_loaded(run, model, info)


def scalar_metrics(test: dict) -> dict:
    """{task: {metric: number}}: a record's test metrics without the per-clip lists and
    confusion matrices, which grow with the test split and say nothing about the model."""
    return {t: {k: v for k, v in (m or {}).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)}
            for t, m in test.items()}


def default_folder(run_dir: Path, method: str, seed: int | None = None) -> Path:
    """RUN/models/<method>[-seed<N>]/, a budget tree's 'budget:N' written budget-N."""
    name = method.replace(":", "-") + (f"-seed{seed}" if seed is not None else "")
    return Path(run_dir) / "models" / name


def save_model(run, method: str = "hierarchical", seed: int | None = None,
               out_dir: str | Path | None = None) -> Path:
    """Save a run's (path or Run) model of `method` and `seed` (None: the lowest) to `out_dir`
    (default: default_folder) and check that it loads back to the same outputs; returns the
    folder."""
    from .load import Run, load_run

    run = run if isinstance(run, Run) else load_run(run)
    saved = SavedModel.from_run(run, method, seed)
    return write_checked(saved, out_dir if out_dir is not None
                         else default_folder(run.dir, method, seed))


def write_checked(saved: SavedModel, folder: str | Path, tolerance: float = 1e-6) -> Path:
    """saved.save(folder), then load it back and compare outputs on random waveforms: the
    weights are copied bit for bit, so any difference is a bug, not rounding."""
    folder = saved.save(folder)
    again = load_saved(folder)
    x = example_input(saved.features, saved.card.frames, waveform=True)
    with torch.no_grad():
        a, b = saved(x), again(x)
    worst = max(float((a[t] - b[t]).abs().max()) for t in a)
    if not worst <= tolerance:
        raise HmtlError(f"{folder}: the saved model differs from the trained one by {worst:.2e}")
    return folder


def is_saved_model(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / CARD).is_file()


def load_saved(path: str | Path) -> SavedModel:
    """The SavedModel (eval mode) of a folder written by save_model; needs nothing else."""
    folder = Path(path)
    card_path = folder / CARD
    if not folder.is_dir():
        raise HmtlError(f"{folder}: not a saved-model folder (no such directory)")
    if not card_path.is_file():
        raise HmtlError(f"{card_path}: missing; {folder} is not a saved-model folder "
                        f"(`hmtl export` writes one)")
    try:
        data = read_json(card_path)
    except (ValueError, UnicodeDecodeError) as e:
        raise HmtlError(f"{card_path}: damaged, not valid JSON ({e})") from None
    card = ModelCard.from_json(data, card_path)
    state = read_weights(folder / WEIGHTS)
    try:
        model = build_model(card.spec, card.model, {t.name: t.size for t in card.tasks},
                            card.features.channels, card.frames)
    except HmtlError as e:             # e.g. a backbone of user code (model.imports) not found
        raise HmtlError(f"{card_path}: {e}") from None
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:                       # a tensor of another shape
        raise HmtlError(f"{folder / WEIGHTS}: the weights do not fit {CARD}'s model "
                        f"({str(e).splitlines()[-1].strip()[:200]})") from None
    if missing or unexpected:
        raise HmtlError(f"{folder / WEIGHTS}: the weights do not fit {CARD}'s model "
                        f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    return SavedModel(model.eval(), card)


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    try:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
    except ImportError:
        raise HmtlError(f"{path}: reading it needs the safetensors package "
                        f"(pip install safetensors)") from None
    if not path.is_file():
        raise HmtlError(f"{path}: missing (the saved model's weights)")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise HmtlError(f"{path}: damaged ({str(e).strip().splitlines()[0][:200]})") from None
