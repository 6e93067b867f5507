"""A trained TreeModel (optionally behind the front end) as an ONNX graph with outputs per task by
the task's type, dynamic batch and time length, and the metadata `hmtl predict` needs embedded in
the file:

    classification  logits_<task> (B, classes) and probs_<task> (B, classes), the softmax
    regression      value_<task> (B,): the prediction in the label's unit (the head predicts the
                    standardised target; out * std + mean is part of the graph)
    verification    embedding_<task> (B, dim), L2-normalised: a trial's score is the dot product

Outputs come in that order: every classification task's logits, then their probabilities (the
order of exports before task types), then the values, then the embeddings; tasks in model order."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import torch
from torch import nn

from ..config import FeatureConfig
from ..errors import HmtlError
from .deps import need
from .simplify import simplify
from .stft import export_frontend

METADATA_KEY = "hmtl"
METADATA_FORMAT = 1


KINDS = {"classification": ("logits", "probs"), "regression": ("value",),
         "verification": ("embedding",)}
OUTPUT_ORDER = ("logits", "probs", "value", "embedding")


def head_type(heads: dict | None, task: str) -> str:
    """A task's type in a `heads` mapping {task: {"type": ..., ...}}; classification if absent."""
    return ((heads or {}).get(task) or {}).get("type", "classification")


def graph_outputs(tasks: list[str], heads: dict | None = None) -> list[tuple[str, str, str]]:
    """(kind, task, output name) of every graph output, in the graph's order."""
    out = []
    for kind in OUTPUT_ORDER:
        out += [(kind, t, f"{kind}_{t}") for t in tasks if kind in KINDS[head_type(heads, t)]]
    return out


def output_names(tasks: list[str], heads: dict | None = None) -> tuple[list[str], list[str]]:
    """(logits names, probabilities names) of the classification tasks, in task order."""
    cls = [t for t in tasks if head_type(heads, t) == "classification"]
    return [f"logits_{t}" for t in cls], [f"probs_{t}" for t in cls]


def head_outputs(raw: dict[str, torch.Tensor], tasks: list[str], heads: dict | None = None
                 ) -> dict[str, torch.Tensor]:
    """The graph's outputs {name: tensor} from the model's raw head outputs {task: (B, n)}: the
    very computation the exported graph does, so torch references use it too."""
    out = {}
    for kind, t, name in graph_outputs(tasks, heads):
        z = raw[t]
        if kind == "logits":
            out[name] = z
        elif kind == "probs":
            out[name] = torch.softmax(z, dim=-1)
        elif kind == "value":
            h = heads[t]
            out[name] = z[:, 0] * float(h["std"]) + float(h["mean"])
        else:
            out[name] = nn.functional.normalize(z, dim=-1)
    return out


class MaxPoolTime(nn.Module):
    """MaxPool1d(2) written as a 2-D pool: torch.export specialises the time length of
    max_pool1d to the example's, the 2-D pool keeps it dynamic. Same values."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, C, T) -> (B, C, 1, T) -> (B, C, 1, T//2) -> (B, C, T//2)
        return nn.functional.max_pool2d(x.unsqueeze(2), (1, 2)).squeeze(2)


def exportable(model: nn.Module) -> nn.Module:
    """A copy of `model` in eval mode with the modules that do not export well swapped."""
    model = copy.deepcopy(model).eval()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.MaxPool1d) and child.kernel_size in (2, (2,)) \
                    and child.stride in (2, (2,), None) and not child.ceil_mode \
                    and child.padding in (0, (0,)):
                setattr(parent, name, MaxPoolTime())
    return model


class ExportGraph(nn.Module):
    """features (B, C, T) or waveform (B, samples) -> the outputs of graph_outputs: logits and
    probabilities of the classification tasks, values of the regressions, unit embeddings of
    the verifications. `heads`: {task: {"type", and for a regression "mean" and "std"}};
    None or a task left out: classification."""

    def __init__(self, model: nn.Module, frontend: nn.Module | None = None,
                 heads: dict | None = None):
        super().__init__()
        self.frontend = frontend
        self.model = exportable(model)
        self.tasks = list(model.tasks)
        self.heads = {t: dict((heads or {}).get(t) or {"type": "classification"})
                      for t in self.tasks}
        self.names = [name for _, _, name in graph_outputs(self.tasks, self.heads)]

    def forward(self, inputs: torch.Tensor):
        x = self.frontend(inputs) if self.frontend is not None else inputs   # (B, C, T)
        out = head_outputs(self.model(x), self.tasks, self.heads)
        return tuple(out[n] for n in self.names)


def example_input(features: FeatureConfig, frames: int, waveform: bool, batch: int = 2,
                  seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if waveform:
        return 0.1 * torch.randn(batch, features.num_samples, generator=g)
    return torch.randn(batch, features.channels, frames, generator=g)


def _export_dynamo(graph: nn.Module, example: torch.Tensor, path: Path, names: list[str],
                   waveform: bool) -> None:
    batch = torch.export.Dim("batch", min=1)
    length = torch.export.Dim("samples" if waveform else "time", min=16)
    torch.onnx.export(graph, (example,), str(path),
                      input_names=["waveform" if waveform else "features"], output_names=names,
                      dynamic_shapes={"inputs": {0: batch, example.dim() - 1: length}},
                      dynamo=True, external_data=False, verbose=False, optimize=True)


def _export_torchscript(graph: nn.Module, example: torch.Tensor, path: Path, names: list[str],
                        waveform: bool) -> None:
    name = "waveform" if waveform else "features"
    axes = {name: {0: "batch", example.dim() - 1: "samples" if waveform else "time"}}
    axes.update({n: {0: "batch"} for n in names})
    import inspect

    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(graph, (example,), str(path), input_names=[name], output_names=names,
                      dynamic_axes=axes, opset_version=17, **legacy)   # torch < 2.5: no `dynamo`


def _quiet(fn, *args) -> None:
    """Run an exporter without its progress lines and deprecation chatter."""
    import contextlib
    import io
    import logging

    sink = io.StringIO()
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._export",
                                              "torch.fx.experimental.symbolic_shapes",
                                              "onnxscript")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink):
            warnings.simplefilter("ignore")
            fn(*args)
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def export_onnx(model: nn.Module, features: FeatureConfig, frames: int, path: str | Path,
                waveform: bool = False, metadata: dict | None = None,
                exporter: str = "auto", heads: dict | None = None) -> str:
    """Write `model` (TreeModel) as ONNX to `path`; returns the exporter used. `exporter`:
    'dynamo' (torch.export), 'torchscript' (the legacy one), or 'auto' (dynamo, falling back to
    torchscript if it fails). `heads`: each task's type (and a regression's mean and std), as in
    ExportGraph; None: every task a classification."""
    onnx = need("onnx")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frontend = export_frontend(features).eval() if waveform else None
    graph = ExportGraph(model, frontend, heads).eval()
    example = example_input(features, frames, waveform)
    tried = ["dynamo", "torchscript"] if exporter == "auto" else [exporter]
    errors = []
    for how in tried:
        if how == "dynamo":
            try:
                import onnxscript  # noqa: F401  (the dynamo exporter's dependency)
            except ImportError as e:
                errors.append(f"dynamo: {e}")
                continue
        try:
            with torch.no_grad():
                _quiet(_export_dynamo if how == "dynamo" else _export_torchscript,
                       graph, example, path, graph.names, waveform)
            used = how
            break
        except Exception as e:  # noqa: BLE001 - any exporter failure: try the next, then report
            errors.append(f"{how}: {type(e).__name__}: {str(e).strip().splitlines()[0][:200]}")
    else:
        raise HmtlError(f"{path}: ONNX export failed ({'; '.join(errors)})")
    proto = onnx.load(str(path))
    strip_debug_metadata(proto)
    simplify(proto)               # exact rewrites; the parity check runs on the result
    set_metadata(proto, {**(metadata or {}), "exporter": used})
    onnx.save(proto, str(path))
    return used


def strip_debug_metadata(proto) -> None:
    """Drop the per-node and per-value debugging metadata torch.export attaches (source lines,
    module paths): it can be larger than a small model's weights."""
    graphs = [proto.graph]
    while graphs:
        g = graphs.pop()
        for items in (g.node, g.input, g.output, g.value_info, g.initializer):
            for item in items:
                if hasattr(item, "metadata_props"):
                    del item.metadata_props[:]
        for node in g.node:
            node.doc_string = ""
            for attr in node.attribute:
                if attr.g.ByteSize():
                    graphs.append(attr.g)
                graphs.extend(attr.graphs)


def set_metadata(proto, info: dict) -> None:
    """Store `info` as JSON under metadata_props['hmtl'] (replacing what is there)."""
    info = {"format": METADATA_FORMAT, **info}
    for i in reversed(range(len(proto.metadata_props))):
        if proto.metadata_props[i].key == METADATA_KEY:
            del proto.metadata_props[i]
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(info, sort_keys=True)
    proto.producer_name = "hmtl"


def read_metadata(path: str | Path, sess=None) -> dict:
    """The hmtl metadata of an exported file, read through onnxruntime (the onnx package is
    not needed to predict); `sess`: an open session of that file."""
    if sess is None:
        from .runtime import session

        sess = session(path)
    raw = sess.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if raw is None:
        raise HmtlError(f"{path}: no hmtl metadata in this ONNX file "
                        f"(export it with `hmtl export`)")
    try:
        meta = json.loads(raw)
        for key in ("input", "tasks", "classes", "features", "outputs"):
            meta[key]
    except (ValueError, KeyError, TypeError) as e:
        raise HmtlError(f"{path}: damaged hmtl metadata ({type(e).__name__}: {e})") from None
    return meta
