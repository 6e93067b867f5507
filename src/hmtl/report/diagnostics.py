"""The report's diagnostics of the final models, from results.json's "diagnostics": per
classification task the hierarchical model's per-class precision, recall and F1 with its
confusion matrix on the test split, and the learning curves of its trainings.

Runs written before results.json kept diagnostics have no such key: both sections are left out
of their page. A run whose final trainings are older than the key (reused from the run folder)
has the key without their entries: the sections say so."""

from __future__ import annotations

from html import escape

from . import plots
from .format import over_seeds, pm, section, table
from .load import RunInfo

REFERENCE = "hierarchical"
NOT_RECORDED = ("its final trainings were run by an hmtl that did not record them yet (they are "
                "reused from the run folder, not retrained)")


def _diagnostics(info: RunInfo) -> dict | None:
    found = info.results.get("diagnostics")
    return found if isinstance(found, dict) and isinstance(found.get("methods"), dict) else None


def per_class_section(info: RunInfo) -> str:
    diag = _diagnostics(info)
    if diag is None:
        return ""
    title = "Per-class diagnostics"
    if REFERENCE not in info.methods:            # e.g. a run stopped after stage 1
        return ""
    mine = (diag["methods"].get(REFERENCE) or {}).get("tasks") or {}
    classified = [t for t in info.tasks if info.metrics[t].name == "accuracy"]
    if not classified:
        return section("diagnostics", title, '<p class="empty">No classification task: '
                       "per-class scores and confusion matrices are for classes.</p>")
    parts = []
    for t in classified:
        entry = mine.get(t)
        if not isinstance(entry, dict) or not entry.get("per_class"):
            parts.append(f'<h3>{escape(t)}</h3><p class="empty">Not recorded: '
                         f"{NOT_RECORDED}.</p>")
            continue
        parts.append(_task_block(info, diag, t, entry))
    n = max((e.get("trainings", 0) for e in mine.values() if isinstance(e, dict)), default=0)
    intro = (f"The hierarchical model on the test split, {over_seeds(n)}: each class's "
             "precision, recall and F1 (mean ± std) and its support (test clips of the class), "
             "and the confusion matrix summed over seeds, each row coloured and annotated by its "
             "share of the class's clips (the diagonal is the class's recall). Classes a model "
             "never predicts have precision 0.")
    return section("diagnostics", title, "".join(parts), intro)


def _task_block(info: RunInfo, diag: dict, task: str, entry: dict) -> str:
    rows = [[escape(str(r.get("class", "?"))),
             pm(r.get("precision"), r.get("precision_std")),
             pm(r.get("recall"), r.get("recall_std")),
             pm(r.get("f1"), r.get("f1_std")),
             _support(r.get("support"))] for r in entry["per_class"]]
    scores = table(["class", "precision %", "recall %", "F1 %", "support"], rows, "per-class")
    figure = ""
    matrix, classes = entry.get("confusion"), entry.get("classes")
    if isinstance(matrix, list) and isinstance(classes, list) and len(matrix) == len(classes):
        svg = plots.confusion_heatmap([str(c) for c in classes], matrix,
                                      f"{task}: confusion (row %)", f"confusion-{_uid(task)}")
        figure = f'<figure class="panel">{svg}</figure>'
    return (f'<h3>{escape(task)}</h3><div class="grid two">{figure}<div>{scores}</div></div>'
            + _by_method(info, diag, task))


def _by_method(info: RunInfo, diag: dict, task: str) -> str:
    """Each class's F1 in every method that has diagnostics, for comparing where they differ."""
    methods = [(name, d["tasks"][task]) for name, d in diag["methods"].items()
               if name in info.methods and isinstance((d.get("tasks") or {}).get(task), dict)]
    if len(methods) < 2:
        return ""
    classes = [r.get("class") for r in methods[0][1].get("per_class") or []]
    rows = []
    for c, label in enumerate(classes):
        row = [escape(str(label))]
        for _, e in methods:
            cells = e.get("per_class") or []
            r = cells[c] if c < len(cells) and cells[c].get("class") == label else {}
            row.append(pm(r.get("f1"), r.get("f1_std")))
        rows.append(row)
    head = ["class"] + [f"{escape(name)} F1 %" for name, _ in methods]
    return (f"<details><summary>{escape(task)}: per-class F1 of every method with a final "
            f"model</summary>{table(head, rows)}</details>")


def _support(value) -> str:
    if not isinstance(value, (int, float)):
        return "—"
    return f"{value:,}" if float(value).is_integer() else f"{value:,.1f}"


def _uid(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text)


def curves_section(info: RunInfo) -> str:
    diag = _diagnostics(info)
    if diag is None or REFERENCE not in info.methods:
        return ""
    title = "Learning curves"
    runs = (diag["methods"].get(REFERENCE) or {}).get("history") or []
    runs = [r for r in runs if isinstance(r, dict) and r.get("history")]
    if not runs:
        return section("curves", title, f'<p class="empty">Not recorded: {NOT_RECORDED}.</p>')
    curves = [{"label": f"seed {r.get('seed', '?')}", "history": r["history"],
               "best_epoch": r.get("best_epoch")} for r in runs]
    what = ("the mean accuracy over tasks" if not info.mixed else
            "the mean over tasks of accuracy, 1 − EER and 1 − MAE / (MAE of the median)")
    svg = plots.learning_curves(curves, "hierarchical model", "curves-hierarchical",
                                score_label="validation score")
    best = ", ".join(f"seed {r.get('seed', '?')}: epoch {r.get('best_epoch', '?')} of "
                     f"{len(r['history'])}" for r in runs)
    intro = ("The final hierarchical model's trainings, one line per seed: the mean training "
             f"loss of each epoch and the score early stopping follows: {what}, on the "
             "validation clips that pick the best epoch. A dot marks the epoch whose weights "
             f"were kept ({escape(best)}).")
    return section("curves", title, f'<figure class="panel">{svg}</figure>', intro)
