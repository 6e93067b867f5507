"""results.json (interfaces.md) and results.md: per method, size, cost, per-task test metrics
as mean ± std over seeds, and the comparison with the independent models."""

from __future__ import annotations

from pathlib import Path

from .evidence import compare_methods, verdict
from .metrics import CONFUSION, NOT_METRICS, metric_spec, per_class, primary_metric, primary_value
from .records import MethodResult, TrainRecord
from .utils.io import atomic_write_json, atomic_write_text
from .utils.stats import mean_std

SCHEMA = 1


def aggregate(records: list[TrainRecord], tasks: list[str]) -> dict:
    """Per task, every metric of its type and its std over seeds, on the test split:
    {accuracy, accuracy_std, macro_f1, macro_f1_std} for classification, {mae, pearson_r} for
    regression, {eer} for verification; "primary" names the metric drops use."""
    out = {}
    for t in tasks:
        first = records[0].test[t]
        entry = {}
        for m in (k for k in first if k not in NOT_METRICS):
            entry[m], entry[f"{m}_std"] = mean_std([r.test[t][m] for r in records])
        entry["primary"] = primary_metric(first)
        out[t] = entry
    return out


def _primaries(entry_metrics: dict, tasks: list[str]) -> dict:
    return {t: primary_metric(entry_metrics[t]) for t in tasks}


def method_primary(metrics: dict, tasks: list[str]):
    """"accuracy" when every task is a classification (as before task types), else per task."""
    p = _primaries(metrics, tasks)
    return "accuracy" if set(p.values()) == {"accuracy"} else p


def per_seed(records: list[TrainRecord], tasks: list[str]) -> list[dict[str, float]]:
    """Each record's primary test value per task, in record order."""
    return [{t: primary_value(r.test[t]) for t in tasks} for r in records]


def pooled_method(records: list[TrainRecord], tasks: list[str], params: int, macs: int,
                  tree: list | None = None, **details) -> MethodResult:
    """A method whose metrics pool the given trainings (seeds, or draws × seeds)."""
    metrics = aggregate(records, tasks)
    return MethodResult(params=params, nonzero_params=params, macs=macs, metrics=metrics,
                        primary=method_primary(metrics, tasks), per_seed=per_seed(records, tasks),
                        tree=tree, details=details, records={t: list(records) for t in tasks})


def tree_method(records: list[TrainRecord], tasks: list[str]) -> MethodResult:
    """A method made of one tree-shaped model trained with several seeds."""
    first = records[0]
    return pooled_method(records, tasks, first.params, first.macs, first.tree)


def independent_method(stage1_records: dict[str, list[TrainRecord]], tasks: list[str],
                       tree: list) -> MethodResult:
    """The set of isolated models: sizes add up, each task's metrics come from its own model."""
    params = sum(recs[0].params for recs in stage1_records.values())
    macs = sum(recs[0].macs for recs in stage1_records.values())
    metrics = {}
    for t in tasks:
        metrics.update(aggregate(stage1_records[t], [t]))
    n = len(next(iter(stage1_records.values())))
    seeds = [{t: primary_value(stage1_records[t][i].test[t]) for t in tasks} for i in range(n)]
    return MethodResult(params=params, nonzero_params=params, macs=macs, metrics=metrics,
                        primary=method_primary(metrics, tasks), per_seed=seeds, tree=tree,
                        records={t: list(stage1_records[t]) for t in tasks})


def compare(entry: MethodResult, reference: MethodResult, tasks: list[str]) -> dict:
    """Drops of each task's primary metric (positive = worse, whatever its direction; in its own
    unit), their mean/max over the tasks measured in fractions (accuracy, EER; a regression's
    drop is in the label's unit and stays out of the mean), the mean drop's spread over the
    method's seeds, parameter reduction and Δm % (LibMTL's relative change, every task)."""
    metric = _primaries(reference.metrics, tasks)
    sign = {t: 1.0 if metric_spec(metric[t]).higher_is_better else -1.0 for t in tasks}
    ref = {t: reference.metrics[t][metric[t]] for t in tasks}
    drops = {t: sign[t] * (ref[t] - entry.metrics[t][metric[t]]) for t in tasks}
    pooled = [t for t in tasks if metric_spec(metric[t]).fraction] or list(tasks)
    per_seed = [sum(sign[t] * (ref[t] - s[t]) for t in pooled) / len(pooled)
                for s in entry.per_seed]
    _, spread = mean_std(per_seed) if per_seed else (0.0, 0.0)
    delta_m = 100.0 * sum(-sign[t] * (ref[t] - entry.metrics[t][metric[t]]) / abs(ref[t])
                          for t in tasks if ref[t] != 0) / len(tasks)
    return {"drops": drops, "metric": metric,
            "mean_drop": sum(drops[t] for t in pooled) / len(pooled),
            "mean_drop_std": spread, "max_drop": max(drops[t] for t in pooled),
            # pruned methods count their non-zero weights (dense methods: the same number)
            "param_reduction": 1.0 - entry.nonzero_params / reference.nonzero_params,
            "delta_m": delta_m}


def build_results(tasks: list[str], seeds: list[int], methods: dict[str, MethodResult],
                  compatibility: list[dict], search: dict, extra: dict | None = None) -> dict:
    """results.json's content; every method compared with the independent models."""
    if "independent" in methods:
        for entry in methods.values():
            entry.vs_independent = compare(entry, methods["independent"], tasks)
    payload = {"schema": SCHEMA, "tasks": tasks, "seeds": seeds,
               "methods": {name: entry.to_json() for name, entry in methods.items()},
               **({"comparisons": found} if (found := compare_methods(methods, tasks)) else {}),
               "compatibility": compatibility, "search": search}
    payload.update(extra or {})
    return payload


def diagnostics(methods: dict[str, MethodResult], tasks: list[str],
                classes: dict[str, list[str]]) -> dict:
    """results.json's "diagnostics", for every method whose metrics come from final models
    (each task's trainings all of one tree: not pooled over random trees): per classification
    task (`classes`: its class names) the test confusion matrix summed over the trainings and
    each class's precision, recall and F1 (mean and std over them) and support (test clips of
    the class per training); and the trainings' per-epoch histories. Trainings recorded before
    hmtl kept these are left out (nothing is retrained for them)."""
    out: dict = {}
    for name, entry in methods.items():
        recs = {t: entry.records.get(t) or [] for t in tasks}
        one_tree = all(len({str(r.tree) for r in rs}) == 1 for rs in recs.values())
        if not all(recs.values()) or not one_tree:
            continue
        found = {t: _class_diagnostics(recs[t], t, classes[t]) for t in tasks if t in classes}
        seen, history = set(), []
        for t in tasks:
            for r in recs[t]:
                if r.history and r.key not in seen:
                    seen.add(r.key)
                    history.append({"tag": r.tag, "seed": r.seed, "tasks": list(r.tasks),
                                    "best_epoch": r.best_epoch, "history": r.history})
        kept = {"tasks": {t: d for t, d in found.items() if d}} if any(found.values()) else {}
        if history:
            kept["history"] = history
        if kept:
            out[name] = kept
    return {"split": "test", "methods": out}


def _class_diagnostics(records: list[TrainRecord], task: str, classes: list[str]) -> dict | None:
    """One task's confusion matrix and per-class scores over trainings; None when one of them
    did not record its confusion matrix."""
    matrices = [r.test.get(task, {}).get(CONFUSION) for r in records]
    if not matrices or any(m is None or len(m) != len(classes) for m in matrices):
        return None
    k = len(classes)
    total = [[sum(m[i][j] for m in matrices) for j in range(k)] for i in range(k)]
    scores = [per_class(m) for m in matrices]
    rows = []
    for c, label in enumerate(classes):
        row: dict = {"class": label}
        for what in ("precision", "recall", "f1"):
            row[what], row[f"{what}_std"] = mean_std([getattr(s[c], what) for s in scores])
        support = sum(s[c].support for s in scores) / len(scores)   # the same test clips
        row["support"] = int(support) if support == int(support) else round(support, 2)
        rows.append(row)
    return {"classes": list(classes), "confusion": total, "trainings": len(matrices),
            "per_class": rows}


def _pm(mean: float, std: float, scale: float = 100.0, digits: int = 1) -> str:
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


COLUMN = {"accuracy": "acc %", "eer": "EER %", "mae": "MAE"}


def markdown(results: dict) -> str:
    tasks = results["tasks"]
    methods = results["methods"]
    seeds = len(results["seeds"])
    pruned = any(e.get("nonzero_params", e["params"]) != e["params"] for e in methods.values())
    first = next(iter(methods.values()))["metrics"]
    metric = {t: primary_metric(first[t]) for t in tasks}
    head = ["method", "params"] + (["non-zero"] if pruned else []) + ["reduction", "MACs"] + \
           [f"{t} {COLUMN[metric[t]]}" for t in tasks] + \
           ["mean drop (pts)", "max drop (pts)", "Δm %"]
    kinds = sorted({metric[t] for t in tasks})
    lines = [f"Test {', '.join(kinds)}, mean ± std over {seeds} seed(s). Drops are against the "
             "independent models (positive = worse, whatever the metric's direction), in points "
             "of accuracy or EER" + (" (a regression's drop, in its own unit, is in results.json "
             "and not in the mean)" if "mae" in kinds else "") + ".", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, e in methods.items():
        cmp = e.get("vs_independent", {})
        row = [name, f"{e['params']:,}"]
        if pruned:
            row.append(f"{e.get('nonzero_params', e['params']):,}")
        row += [f"{100 * cmp['param_reduction']:.1f} %" if cmp else "",
                f"{e['macs'] / 1e6:.2f} M"]
        row += [_pm(e["metrics"][t][metric[t]], e["metrics"][t][f"{metric[t]}_std"],
                    scale=100.0 if metric_spec(metric[t]).fraction else 1.0,
                    digits=1 if metric_spec(metric[t]).fraction else 2) for t in tasks]
        row += [_pm(cmp["mean_drop"], cmp["mean_drop_std"]) if cmp else "",
                f"{100 * cmp['max_drop']:.1f}" if cmp else "",
                f"{cmp['delta_m']:+.2f}" if cmp else ""]
        lines.append("| " + " | ".join(row) + " |")
    lines += comparison_lines(results)
    s = results.get("search", {})
    if s:
        screened = s.get("prescreened", 0)
        skipped = f"{s.get('skipped', 0) - screened} skipped by early exit" + \
            (f", {screened} by RSA pre-screening" if screened else "")
        lines += ["", f"Search: {s.get('trainings', 0)} trainings ({skipped}), "
                  f"{s.get('seconds', 0):.0f} s of training on {s.get('device', '?')}."]
    tree = methods.get("hierarchical", {}).get("tree")
    if tree:
        from .models import TreeSpec

        spec = TreeSpec.from_json(tasks, tree)
        lines += ["", "Hierarchical tree:", "", "```", spec.render(), "```"]
    return "\n".join(lines) + "\n"


def comparison_lines(results: dict) -> list[str]:
    """results.md's paired comparisons with the hierarchical model."""
    found = results.get("comparisons")
    if not found or not found.get("methods"):
        return []
    how = ("paired by split and seed; difference in mean drop, points, positive = the method "
           "loses more; 95 % interval; Student's t over the splits, each split's seeds "
           "averaged, Holm-corrected p" if results.get("splits") else
           "paired by seed and test clip; difference in mean drop, points, positive = the "
           "method loses more; 95 % interval; Student's t on seeds and clips, Holm-corrected p")
    lines = ["", f"Each method against {found['reference']} ({how}):", "",
             "| method | Δ mean drop (pts) | 95 % interval | p (Holm) | verdict |",
             "|---|---|---|---|---|"]
    for name, entry in found["methods"].items():
        c = entry.get("mean_drop")
        if c is None:
            continue
        lines.append(f"| {name} | {100 * c['estimate']:+.2f} | [{100 * c['low']:+.2f}, "
                     f"{100 * c['high']:+.2f}] | {c['p_holm']:.3f} | {verdict(c)} |")
    return lines


def write_results(out_dir: Path, results: dict) -> None:
    atomic_write_json(Path(out_dir) / "results.json", results)
    atomic_write_text(Path(out_dir) / "results.md", markdown(results))
