"""Everything the report shows, read from a run folder: results.json (required) and, when
present, data/meta.json, the label arrays, config.yaml and the per-training metrics.json files.

Only results.json is required; every other piece is optional and left as None when missing or
unreadable, so that a report can be rebuilt from a copied results.json alone."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..errors import HmtlError

SPLITS = ("train", "val", "test")          # the order of data/split.npy codes (data/manifest.py)


@dataclass
class RunInfo:
    run_dir: Path
    results: dict
    finished: datetime | None = None                   # newest training or results.json
    meta: dict | None = None                           # data/meta.json
    class_counts: dict | None = None                   # {task: {class: {split: n}}}
    split_sizes: dict | None = None                    # {split: clips}
    config: dict | None = None                         # config.yaml, raw mapping
    records: list[dict] = field(default_factory=list)  # runs/*/metrics.json
    # a run over several splits (data.splits): (the split's entry, its folder's results.json)
    split_runs: list[tuple[dict, dict]] = field(default_factory=list)

    # ------------------------------------------------------------------ shortcuts
    @property
    def name(self) -> str:
        return self.run_dir.resolve().name

    @property
    def tasks(self) -> list[str]:
        return list(self.results["tasks"])

    @property
    def seeds(self) -> list:
        return list(self.results.get("seeds") or [])

    @property
    def methods(self) -> dict[str, dict]:
        return self.results["methods"]

    @property
    def compatibility(self) -> list[dict]:
        return list(self.results.get("compatibility") or [])

    @property
    def hierarchy(self) -> dict:
        return self.results.get("hierarchy") or {}

    @property
    def final_tree(self) -> tuple[list | None, str]:
        """The tree to draw and where it comes from: the trained hierarchical model, or the tree
        stage 3 proposed when the run stopped before training it."""
        tree = self.methods.get("hierarchical", {}).get("tree")
        if tree:
            return tree, "hierarchical"
        tree = self.hierarchy.get("tree")
        if tree and any(len(p) < len(self.tasks) for p in tree) and self.compatibility:
            return tree, "proposed"
        return None, ""

    @property
    def depth(self) -> int | None:
        """Number of blocks L: from any tree, else the config, else the deepest pair measured."""
        for m in self.methods.values():
            if m.get("tree"):
                return len(m["tree"])
        if self.hierarchy.get("tree"):
            return len(self.hierarchy["tree"])
        blocks = ((self.config or {}).get("model") or {}).get("blocks")
        if isinstance(blocks, int):
            return blocks
        ks = [int(k) for c in self.compatibility
              for k in list((c.get("drops") or {})) + list((c.get("skipped") or {}))]
        return max(ks) if ks else None

    @property
    def primary(self) -> dict[str, str]:
        """Each task's primary metric (accuracy, eer, mae): as results.json names it in any
        method, else from the task's type in data/meta.json, else accuracy."""
        from .metrics import TYPE_PRIMARY, primary_of

        types = (self.meta or {}).get("types") or {}
        out = {}
        for t in self.tasks:
            name = next((p for m in self.methods.values()
                         if (p := primary_of((m.get("metrics") or {}).get(t)))), None)
            out[t] = name or TYPE_PRIMARY.get(types.get(t), "accuracy")
        return out

    @property
    def metrics(self) -> dict:
        """{task: report.metrics.Metric} of each task's primary metric."""
        from .metrics import metric

        return {t: metric(name) for t, name in self.primary.items()}

    @property
    def mixed(self) -> bool:
        """Some task is measured otherwise than by accuracy (a regression or verification)."""
        return any(name != "accuracy" for name in self.primary.values())

    def stage1_records(self, task: str) -> list[dict]:
        """The task's isolated models, one per seed of the run; the newest when a folder holds
        trainings of an earlier configuration too."""
        seeds = set(self.seeds)
        newest = {}
        for r in sorted(self.records, key=lambda r: r["_mtime"]):
            if r.get("tag") == f"stage1 {task}" and (not seeds or r.get("seed") in seeds):
                newest[r.get("seed")] = r
        return list(newest.values())


def load_run(run_dir: str | Path) -> RunInfo:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise HmtlError(f"{run_dir}: run folder not found")
    path = run_dir / "results.json"
    if not path.is_file():
        raise HmtlError(f"{path}: results.json not found (run `hmtl run` first)")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HmtlError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(results, dict):
        raise HmtlError(f"{path}: expected a JSON object at top level")
    for key, kind in (("tasks", list), ("methods", dict)):
        if not isinstance(results.get(key), kind):
            raise HmtlError(f"{path}: key '{key}' missing or not a {kind.__name__}")
    for name, entry in results["methods"].items():
        if not isinstance(entry, dict):
            raise HmtlError(f"{path}: methods.{name} is not an object")

    _complete(results)
    info = RunInfo(run_dir=run_dir, results=results)
    info.records = _records(run_dir / "runs")
    info.meta = _json_or_none(run_dir / "data" / "meta.json")
    info.config = _yaml_or_none(run_dir / "config.yaml")
    info.class_counts, info.split_sizes = _label_counts(run_dir / "data", info.meta)
    info.split_runs = _split_runs(run_dir, results)
    stamps = [r["_mtime"] for r in info.records] or [path.stat().st_mtime]
    info.finished = datetime.fromtimestamp(max(stamps)).astimezone()
    return info


def _complete(results: dict) -> None:
    """Runs written before the comparison with the independent models was stored get it now,
    computed as `hmtl run` does."""
    methods = results["methods"]
    if "independent" not in methods:
        return
    from ..records import MethodResult
    from ..results import compare

    for entry in methods.values():
        if "vs_independent" not in entry:
            try:
                entry["vs_independent"] = compare(MethodResult.from_json(entry),
                                                  MethodResult.from_json(methods["independent"]),
                                                  results["tasks"])
            except (KeyError, TypeError, ZeroDivisionError, ValueError):
                pass                                    # e.g. a task without accuracy


def _split_runs(run_dir: Path, results: dict) -> list[tuple[dict, dict]]:
    """Each split's own results of a pooled run, for what pooling leaves out (its searched
    tree's rank among its random trees, the predictor); splits whose folder is gone are left out."""
    out = []
    for entry in results.get("splits") or []:
        if not entry.get("folder"):
            continue                                    # "" would read the pooled run itself
        found = _json_or_none(run_dir / str(entry["folder"]) / "results.json")
        if isinstance(found, dict) and isinstance(found.get("methods"), dict):
            out.append((entry, found))
    return out


def _json_or_none(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _yaml_or_none(path: Path):
    try:
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else None
    except Exception:                                   # optional: any failure means "absent"
        return None


def _records(runs: Path) -> list[dict]:
    out = []
    for path in sorted(runs.glob("*/metrics.json")) if runs.is_dir() else []:
        rec = _json_or_none(path)
        if isinstance(rec, dict) and "tag" in rec:
            rec["_mtime"] = path.stat().st_mtime
            out.append(rec)
    return out


def _label_counts(data_dir: Path, meta: dict | None) -> tuple[dict | None, dict | None]:
    """Clips per task, class and split from y.npy/split.npy (small arrays); split sizes fall
    back to data/split.csv. Both None when the data folder is not there."""
    if not meta or "tasks" not in meta:
        return None, None
    classes, split_sizes = meta.get("classes") or {}, None
    try:
        import numpy as np

        y = np.load(data_dir / "y.npy", allow_pickle=False)           # (N, n_tasks), -1 = none
        split = np.load(data_dir / "split.npy", allow_pickle=False)   # (N,) codes of SPLITS
        split_sizes = {s: int((split == k).sum()) for k, s in enumerate(SPLITS)}
        counts = {}
        for j, t in enumerate(meta["tasks"]):
            counts[t] = {c: {s: int(((y[:, j] == ci) & (split == k)).sum())
                             for k, s in enumerate(SPLITS)}
                         for ci, c in enumerate(classes.get(t, []))}
        return counts, split_sizes
    except Exception:
        pass
    try:
        import csv

        with open(data_dir / "split.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        split_sizes = {s: sum(r.get("split") == s for r in rows) for s in SPLITS}
    except OSError:
        pass
    return None, split_sizes
