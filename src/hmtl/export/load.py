"""Rebuild a trained model from a run folder: the final tree (or the flat model, or the set of
independent models as one graph) of one seed, with its weights and input statistics.

A training's folder is named by the hash of what it is, not by the tag it was first trained
under: the final tree of a two-task run can be the very folder stage 2 trained as a pair. So
the trainings of a method are found by their tree and seed, and the tag only breaks ties."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..config import DataConfig, FeatureConfig, ModelConfig, RunConfig, from_dict, load_config
from ..errors import HmtlError
from ..models import TreeSpec
from ..models.backbones import model_identity
from ..search.methods import exportable_methods
from ..utils.io import read_json



@dataclass
class Run:
    """What a run folder says about itself (no tensors)."""

    dir: Path
    cfg: RunConfig
    meta: dict                               # data/meta.json: tasks, types, classes, info, frames
    results: dict                            # results.json
    records: list[tuple[Path, dict]] = field(default_factory=list)   # (folder, metrics.json)

    @property
    def tasks(self) -> list[str]:
        return list(self.meta["tasks"])

    @property
    def types(self) -> dict[str, str]:
        """Each task's type (runs made before task types: every task a classification)."""
        types = self.meta.get("types") or {}
        return {t: types.get(t, "classification") for t in self.tasks}

    @property
    def classes(self) -> dict[str, list[str]]:
        """The class names of the classification tasks (a task of another type has none)."""
        return {t: list(self.meta["classes"][t]) for t in self.tasks
                if self.types[t] == "classification"}

    @property
    def heads(self) -> dict[str, dict]:
        """What the exported graph and `hmtl predict` need of each head: its type, and for a
        regression the training targets' mean and std (the head predicts (y - mean) / std)."""
        info = self.meta.get("info") or {}
        out = {}
        for t, kind in self.types.items():
            out[t] = {"type": kind}
            if kind == "regression":
                try:
                    out[t].update(mean=float(info[t]["mean"]), std=float(info[t]["std"]))
                except (KeyError, TypeError, ValueError):
                    raise HmtlError(f"{self.dir / 'data' / 'meta.json'}: regression task '{t}' "
                                    f"has no training mean and std") from None
        return out

    def head_size(self, task: str) -> int:
        """Outputs of a task's head: its classes, 1 number, or the embedding's size."""
        kind = self.types[task]
        if kind == "regression":
            return 1
        if kind == "verification":
            from ..config import TaskConfig

            dim = ((self.meta.get("task_config") or {}).get(task) or {}).get("embedding_dim")
            return int(dim or TaskConfig(task).embedding_dim)
        return len(self.meta["classes"][task])

    @property
    def frames(self) -> int:
        return int(self.meta["frames"])


def load_run(run_dir: str | Path) -> Run:
    run_dir = Path(run_dir)
    for name in ("config.yaml", "data/meta.json", "results.json"):
        if not (run_dir / name).is_file():
            raise HmtlError(f"{run_dir}: not a finished run folder ({name} is missing)")
    try:
        results = read_json(run_dir / "results.json")
        meta = read_json(run_dir / "data" / "meta.json")
    except ValueError as e:
        raise HmtlError(f"{run_dir}: damaged results.json or data/meta.json ({e})") from None
    cfg = run_config(run_dir / "config.yaml")
    records = []
    for folder in sorted((run_dir / "runs").glob("*/")):
        try:
            records.append((folder, read_json(folder / "metrics.json")))
        except (OSError, ValueError):
            continue                                   # unfinished or damaged: not a candidate
    return Run(run_dir, cfg, meta, results, records)


def run_config(path: Path) -> RunConfig:
    """The run's resolved config. A run written by another version of hmtl may hold search or
    training keys this one does not know; export needs only data, features and model, so
    those sections alone are read then."""
    try:
        return load_config(path)
    except HmtlError as first:
        import yaml

        try:
            raw = yaml.safe_load(path.read_text()) or {}
            return RunConfig(data=from_dict(DataConfig, raw.get("data"), "data"),
                             features=from_dict(FeatureConfig, raw.get("features"), "features"),
                             model=from_dict(ModelConfig, raw.get("model"), "model"))
        except (HmtlError, yaml.YAMLError, AttributeError):
            raise first from None


def _tag_rank(method: str, tag: str) -> int:
    """Higher is a better match; -1: tag says nothing about this method."""
    if method == "hierarchical":
        if tag == "hierarchical":
            return 0
        m = re.fullmatch(r"repair (\d+)", tag)
        return int(m.group(1)) if m else -1               # the last repair round wins
    if method == "flat":
        return 0 if tag == "flat" else -1
    if method.startswith(BUDGET):
        return 0 if tag == f"budget {method[len(BUDGET):]}" else -1
    return 0 if tag.startswith("stage1 ") else -1


def find_training(run: Run, method: str, spec: TreeSpec, seed: int | None) -> tuple[Path, dict]:
    """The folder and metrics.json of `spec`'s training with `seed` (None: the lowest seed)."""
    tree = spec.to_json()
    found = [(f, r) for f, r in run.records
             if r.get("tree") == tree and list(r.get("tasks", [])) == list(spec.tasks)]
    seeds = sorted({r["seed"] for _, r in found})
    if not found:
        raise HmtlError(f"{run.dir}: no finished training of the {method} model "
                        f"({spec.name()}) in runs/")
    pick = seeds[0] if seed is None else seed
    if pick not in seeds:
        raise HmtlError(f"{run.dir}: the {method} model has no training with seed {seed} "
                        f"(seeds: {seeds})")
    same = [(f, r) for f, r in found if r["seed"] == pick]
    return max(same, key=lambda fr: _preference(run, method, *fr))


def _preference(run: Run, method: str, folder: Path, record: dict) -> tuple:
    """Baselines train other kinds of job (pruned, rewound, width-matched) on the same trees:
    prefer the method's own tag, then a plain training of the run's model config."""
    rank = _tag_rank(method, record.get("tag", ""))
    job = {}
    if (folder / "job.json").is_file():
        try:
            job = read_json(folder / "job.json")
        except ValueError:
            pass
    plain = job.get("kind", "TrainJob") == "TrainJob"
    ours = model_identity(run.cfg.model)
    same_model = job.get("model", ours) == ours
    return (rank >= 0, plain, same_model, rank, folder.name)


BUDGET = "budget:"     # --method budget:N, the tree search.budgets trained for a budget of N params


def check_exportable(method: str) -> None:
    names = exportable_methods()
    if method not in names and not method.startswith(BUDGET):
        raise HmtlError(f"--method: one of {', '.join(names)} or budget:N (a tree of "
                        f"search.budgets), got '{method}'")


def budget_spec(run: Run, method: str) -> TreeSpec:
    budgets = run.results.get("budgets") or []
    for b in budgets:
        if method == f"{BUDGET}{b['budget']}":
            return TreeSpec.from_json(run.tasks, b["tree"])
    known = ", ".join(f"{BUDGET}{b['budget']}" for b in budgets) or "none in this run"
    raise HmtlError(f"{run.dir / 'results.json'}: no budget tree '{method}' (budgets: {known})")


def method_spec(run: Run, method: str) -> TreeSpec:
    check_exportable(method)
    if method.startswith(BUDGET):
        return budget_spec(run, method)
    entry = run.results.get("methods", {}).get(method)
    if method == "independent":
        return TreeSpec.independent(run.tasks, run.cfg.model.blocks)
    if entry is None or "tree" not in entry:
        raise HmtlError(f"{run.dir / 'results.json'}: no '{method}' method with a tree "
                        f"(methods: {sorted(run.results.get('methods', {}))})")
    return TreeSpec.from_json(run.tasks, entry["tree"])


def _model_config(run: Run, folder: Path) -> ModelConfig:
    """The model config the training used (job.json), else the run's."""
    job = folder / "job.json"
    if job.is_file():
        try:
            model = dict(read_json(job)["model"])
            model.pop("code", None)                      # the identity's hash of user code
            cfg = from_dict(ModelConfig, model, where=f"{job}: model")
            cfg.imports = list(run.cfg.model.imports)    # where the code lives: never hashed
            return cfg
        except (KeyError, ValueError):
            pass
    return run.cfg.model


def load_state(folder: Path) -> dict:
    import torch

    path = folder / "model.pt"
    if not path.is_file():
        raise HmtlError(f"{folder}: model.pt is missing")
    return torch.load(path, map_location="cpu", weights_only=True)


def _build(run: Run, spec: TreeSpec, model_cfg: ModelConfig, state: dict):
    from ..models import build_model

    model = build_model(spec, model_cfg, {t: run.head_size(t) for t in spec.tasks},
                        run.cfg.features.channels, run.frames)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:                      # a head or block of another size
        raise HmtlError(f"{run.dir}: the stored weights do not fit the {spec.name()} model "
                        f"({str(e).splitlines()[-1].strip()[:200]})") from None
    if missing or unexpected:
        raise HmtlError(f"{run.dir}: the stored weights do not fit the {spec.name()} model "
                        f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.eval()


def load_model(run: Run, method: str = "hierarchical", seed: int | None = None):
    """(TreeModel in eval mode, info) for a method. The independent set becomes ONE TreeModel
    with the independent spec, each task's blocks and head taken from its stage-1 model. info:
    method, seed, trainings, tags, test metrics and the ModelConfig it was built with."""
    spec = method_spec(run, method)
    if method != "independent":
        folder, record = find_training(run, method, spec, seed)
        model_cfg = _model_config(run, folder)
        model = _build(run, spec, model_cfg, load_state(folder))
        return model, {"method": method, "seed": record["seed"], "trainings": [folder.name],
                       "tags": [record.get("tag", "")], "test": record.get("test", {}),
                       "model_config": model_cfg}
    combined: dict = {}
    folders, tags, test, seeds = [], [], {}, set()
    model_cfg = None
    for g, task in enumerate(run.tasks):
        single = TreeSpec.single(task, spec.depth)
        folder, record = find_training(run, method, single, seed)
        model_cfg = model_cfg or _model_config(run, folder)
        for key, value in load_state(folder).items():
            if key.startswith("blocks."):            # blocks.<d>.0.… -> blocks.<d>.<g>.…
                d, _, rest = key[len("blocks."):].split(".", 2)
                combined[f"blocks.{d}.{g}.{rest}"] = value
            elif key.startswith("norm."):
                if key in combined and not bool((combined[key] == value).all()):
                    raise HmtlError(f"{run.dir}: stage-1 models disagree on input statistics")
                combined[key] = value
            else:
                combined[key] = value                          # heads.<task>.…
        folders.append(folder.name)
        tags.append(record.get("tag", ""))
        test[task] = record.get("test", {}).get(task, {})
        seeds.add(record["seed"])
    model = _build(run, spec, model_cfg, combined)
    return model, {"method": method, "seed": min(seeds), "trainings": folders, "tags": tags,
                   "test": test, "model_config": model_cfg}


def load_single(run: Run, task: str, seed: int | None = None):
    """(one task's stage-1 model on its own, info)."""
    spec = TreeSpec.single(task, run.cfg.model.blocks)
    folder, record = find_training(run, "independent", spec, seed)
    model = _build(run, spec, _model_config(run, folder), load_state(folder))
    return model, {"method": "independent", "seed": record["seed"], "trainings": [folder.name],
                   "tags": [record.get("tag", "")], "test": record.get("test", {})}
