"""Does the exported graph compute what the trained model computes? Parity on random and real
inputs (max abs difference of every output: logits, probabilities, regression values, unit
embeddings), and each task's primary test metric (accuracy, MAE, EER on the stored test trials)
for torch, the float ONNX model and the int8 one, on the same inputs."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from ..data.audio import decode, fix_length
from ..data.frontend import build_frontend
from ..errors import HmtlError
from ..training.batches import crop
from .load import Run
from .onnx_export import example_input, head_outputs
from .runtime import run_graph

TOLERANCE = 1e-4


@torch.no_grad()
def torch_outputs(model, x: np.ndarray, frontend=None, heads: dict | None = None,
                  batch: int = 64) -> dict[str, np.ndarray]:
    """{output name: array} from the torch model (and torch.stft front end): the graph's outputs
    (onnx_export.graph_outputs) for the heads' types; `heads` None: all classification."""
    parts: dict[str, list] = {}
    for start in range(0, len(x), batch):
        xb = torch.from_numpy(np.ascontiguousarray(x[start:start + batch], dtype=np.float32))
        out = model(frontend(xb) if frontend is not None else xb)
        for name, v in head_outputs(out, list(model.tasks), heads).items():
            parts.setdefault(name, []).append(v.numpy())
    return {n: np.concatenate(v) for n, v in parts.items()}


def output_scales(heads: dict | None) -> dict[str, float]:
    """Divisors of the differences per output: a regression's value is in the label's unit, so
    its difference is taken in units of the target's std (the head's own scale), which makes
    one tolerance mean the same for every output (a value of 200 Hz carries float32 rounding of
    ~1e-5 on its own). Other outputs: 1."""
    return {f"value_{t}": float(h["std"]) for t, h in (heads or {}).items()
            if h.get("type") == "regression"}


def output_diffs(a: dict, b: dict, heads: dict | None = None) -> dict[str, float]:
    """Max abs difference per output (a regression's value divided by its std)."""
    scale = output_scales(heads)
    return {n: float(np.abs(a[n] - b[n]).max() / scale.get(n, 1.0)) if a[n].size else 0.0
            for n in a}


def max_abs_diff(a: dict, b: dict, heads: dict | None = None) -> float:
    return max(output_diffs(a, b, heads).values())


def accuracy(logits: dict[str, np.ndarray], y: np.ndarray, tasks: list[str]) -> dict[str, float]:
    """Per task, over the clips labelled for it (y columns follow `tasks`, -1 = unlabelled);
    `logits` keyed by task."""
    out = {}
    for j, t in enumerate(tasks):
        mask = y[:, j] >= 0
        hits = logits[t][mask].argmax(axis=1) == y[mask, j]
        out[t] = float(hits.mean()) if mask.any() else None
    return out


PRIMARY = {"classification": "accuracy", "regression": "mae", "verification": "eer"}


def primary_metrics(outputs: dict[str, np.ndarray], run: Run, y: np.ndarray,
                    values: np.ndarray | None, trials: dict[str, np.ndarray]) -> dict:
    """Each task's primary test metric from the graph's outputs {name: array} over the test
    clips: accuracy (argmax of logits_<task>), MAE in the label's unit (value_<task> against
    the stored targets) or EER (cosine of embedding_<task> on the task's stored test trials,
    as positions among these clips). None where a task has nothing to measure on."""
    from ..tasks import equal_error_rate

    out = {}
    for j, t in enumerate(run.tasks):
        kind = run.types[t]
        mask = y[:, j] >= 0
        if kind == "classification":
            hits = outputs[f"logits_{t}"][mask].argmax(axis=1) == y[mask, j]
            out[t] = float(hits.mean()) if mask.any() else None
        elif kind == "regression":
            v = values[:, j] if values is not None else np.full(len(y), np.nan)
            mask &= np.isfinite(v)
            pred = outputs[f"value_{t}"].astype(np.float64)
            out[t] = float(np.abs(pred[mask] - v[mask]).mean()) if mask.any() else None
        else:
            tr = trials.get(t)
            if tr is None or not len(tr):
                out[t] = None
                continue
            emb = outputs[f"embedding_{t}"].astype(np.float64)
            emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
            scores = (emb[tr[:, 0]] * emb[tr[:, 1]]).sum(axis=1)
            out[t] = equal_error_rate(scores, tr[:, 2].astype(bool))
    return out


# ----------------------------------------------------------------------------- inputs

def rows_of_test_split(run: Run) -> np.ndarray:
    split = np.load(run.dir / "data" / "split.npy", allow_pickle=False)
    return np.flatnonzero(split == 2)


def features_of_test_split(run: Run, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Test-split features (N, C, frames) float32 (centre window, as evaluation takes it) and
    labels (N, tasks)."""
    rows = rows_of_test_split(run)[:limit]
    x = np.load(run.dir / "data" / "x.npy", mmap_mode="r", allow_pickle=False)
    y = np.load(run.dir / "data" / "y.npy", allow_pickle=False)
    feats = crop(torch.from_numpy(np.asarray(x[rows])), run.frames).numpy()
    return feats, y[rows]


def audio_paths(run: Run) -> list[Path]:
    """Every clip's audio file, from data/split.csv (same row order as data/x.npy)."""
    table = run.dir / "data" / "split.csv"
    if not table.is_file():
        raise HmtlError(f"{table}: missing; the clips' audio cannot be found")
    with open(table, newline="", encoding="utf-8") as f:
        return [Path(r["path"]) for r in csv.DictReader(f)]


def audio_of_test_split(run: Run) -> list[Path]:
    """The test clips' audio files."""
    paths = audio_paths(run)
    return [paths[i] for i in rows_of_test_split(run)]


def load_wave(path: Path, run_features) -> np.ndarray:
    """One clip as training saw it: decoded, resampled, cropped or padded to the window."""
    return fix_length(decode(Path(path).read_bytes(), run_features.sample_rate),
                      run_features.num_samples, run_features.crop)


def waves_of_test_split(run: Run, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Test-split waveforms (N, samples) float32 decoded from the audio files, and labels."""
    paths = audio_of_test_split(run)[:limit]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise HmtlError(f"{missing[0]}: test clip not found ({len(missing)} missing)")
    rows = rows_of_test_split(run)[:limit]
    y = np.load(run.dir / "data" / "y.npy", allow_pickle=False)[rows]
    return np.stack([load_wave(p, run.cfg.features) for p in paths]), y


# ----------------------------------------------------------------------------- checks

def parity(run: Run, model, sess, waveform: bool, real_clips: int = 8,
           other_length: bool = True) -> dict:
    """Max abs differences, torch vs ONNX, over every output, on random inputs of the training
    length and (with `other_length`; a microcontroller model has one fixed length) of another
    length and batch size (the dynamic axes), and on real test clips;
    "outputs": the largest difference of each output over all of them. A regression's value is
    compared in units of its target's std (output_scales)."""
    feats = run.cfg.features
    heads = {t: h for t, h in run.heads.items() if t in model.tasks}
    frontend = build_frontend(feats).eval() if waveform else None
    out: dict = {}
    per_output: dict[str, float] = {}

    def compare(x: np.ndarray) -> float:
        diffs = output_diffs(torch_outputs(model, x, frontend, heads), run_graph(sess, x), heads)
        for n, d in diffs.items():
            per_output[n] = max(per_output.get(n, 0.0), d)
        return max(diffs.values())

    shapes = {"random": example_input(feats, run.frames, waveform, batch=2, seed=1)}
    if other_length:
        other = example_input(feats, run.frames, waveform, batch=3, seed=2)
        shapes["random_other_length"] = other[..., : other.shape[-1] * 2 // 3]
    for name, x in shapes.items():
        if not waveform:       # random features on the scale of real ones
            x = x * model.norm.std[:, None] + model.norm.mean[:, None]
        out[name] = compare(x.numpy())
    try:
        take = waves_of_test_split if waveform else features_of_test_split
        x = take(run, real_clips)[0]
    except HmtlError as e:
        out["real"], out["real_note"] = None, str(e)
    else:
        out["real"] = compare(x)
        out["real_clips"] = int(len(x))
    out["max"] = max(v for k, v in out.items() if isinstance(v, float))
    out["outputs"] = per_output
    return out


def require_parity(result: dict, what: str, tolerance: float = TOLERANCE) -> None:
    if result["max"] > tolerance:
        worst = max((k for k, v in result.items() if isinstance(v, float) and k != "max"),
                    key=lambda k: result[k])
        outputs = result.get("outputs") or {}
        which = f" ({max(outputs, key=outputs.get)})" if outputs else ""
        raise HmtlError(f"{what}: ONNX output differs from torch by {result['max']:.2e} on "
                        f"{worst} inputs{which} (tolerance {tolerance:.0e}); the export is not "
                        f"trustworthy")


def _test_targets(run: Run) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """The test clips' regression targets (N, tasks) and each verification task's test trials
    as positions among the test clips (rows_of_test_split order)."""
    data = run.dir / "data"
    rows = rows_of_test_split(run)
    values = None
    if (data / "values.npy").is_file():
        values = np.load(data / "values.npy", allow_pickle=False)[rows].astype(np.float64)
    pos = np.full(int(np.load(data / "split.npy", allow_pickle=False).shape[0]), -1)
    pos[rows] = np.arange(len(rows))
    trials = {}
    for j, t in enumerate(run.tasks):
        path = data / f"trials-{j}-test.npy"
        if run.types[t] != "verification" or not path.is_file():
            continue
        tr = np.load(path, allow_pickle=False)
        a, b = pos[tr[:, 0]], pos[tr[:, 1]]
        keep = (a >= 0) & (b >= 0)
        trials[t] = np.stack([a[keep], b[keep], tr[keep, 2]], axis=1)
    return values, trials


def metrics_on_test_split(run: Run, model, sessions: dict, waveform: bool,
                          agreement_with: str | None = None) -> dict:
    """Each task's primary metric on the test split, for torch and every session:
    {'clips': N, 'primary': {task: 'accuracy' | 'mae' | 'eer'}, 'torch': {task: value},
    '<session name>': {task: value}}. MAE is in the label's unit; EER is on the task's stored
    test trials (data/trials-<j>-test.npy), as training measured it. `agreement_with`: a
    session name; adds 'agreement': {other session: {task: share of test clips whose top class
    is that session's}} for the classification tasks (finer than accuracy on a small split)."""
    x, y = waves_of_test_split(run) if waveform else features_of_test_split(run)
    frontend = build_frontend(run.cfg.features).eval() if waveform else None
    values, trials = _test_targets(run)
    heads = run.heads
    result = {"clips": int(len(x)), "primary": {t: PRIMARY[run.types[t]] for t in run.tasks},
              "torch": primary_metrics(torch_outputs(model, x, frontend, heads), run, y, values,
                                       trials)}
    outputs = {}
    for name, sess in sessions.items():
        outputs[name] = run_graph(sess, x)
        result[name] = primary_metrics(outputs[name], run, y, values, trials)
    if agreement_with in outputs and len(outputs) > 1:
        result["agreement"] = {name: top_class_agreement(outputs[agreement_with], out, run)
                               for name, out in outputs.items() if name != agreement_with}
    return result


def top_class_agreement(a: dict, b: dict, run: Run) -> dict[str, float | None]:
    """Per classification task, the share of clips on which two graphs' outputs {name: array}
    pick the same class."""
    return {t: (float((a[f"logits_{t}"].argmax(1) == b[f"logits_{t}"].argmax(1)).mean())
                if len(a[f"logits_{t}"]) else None)
            for t in run.tasks if run.types[t] == "classification"}


def classification_accuracy(metrics: dict, run: Run) -> dict:
    """The classification tasks' part of metrics_on_test_split, in the shape export.json's
    "accuracy" had before task types: {'clips': N, 'torch': {task: acc}, ...}."""
    cls = [t for t in run.tasks if run.types[t] == "classification"]
    return {k: ({t: v[t] for t in cls} if isinstance(v, dict) and k != "primary" else v)
            for k, v in metrics.items() if k not in ("primary", "agreement")}


def accuracy_on_test_split(run: Run, model, sessions: dict, waveform: bool) -> dict:
    """{'torch': {task: acc}, '<name>': {task: acc}, 'clips': N} on the test split (the
    classification tasks)."""
    return classification_accuracy(metrics_on_test_split(run, model, sessions, waveform), run)
