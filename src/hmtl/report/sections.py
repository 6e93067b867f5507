"""The sections of report.html, one function each, from a loaded run (load.RunInfo). Each
returns an HTML fragment; a section the run has no data for says why instead of vanishing, so
a partial run's page keeps the same outline. Every value that came from a file is escaped."""

from __future__ import annotations

from html import escape

from .blocks import block_costs
from .load import SPLITS, RunInfo
from .format import (drop_kinds, duration, mega, num, over_seeds, pm, pm_metric,
                     regression_tasks, section, table, value)
from .metrics import fixed
from .tree_diagram import tree_svg


def summary(info: RunInfo) -> str:
    cards = []
    # mixed task types: the pooled drops cover the tasks measured in points only, and each
    # regression task's drop follows in its own unit (MAE, lower is better: positive = worse)
    pooled = f' <span class="muted">({escape(drop_kinds(info))})</span>' if info.mixed else ""
    for name in ("hierarchical", "flat"):
        cmp = info.methods.get(name, {}).get("vs_independent")
        if not cmp:
            continue
        cards.append(
            f'<div class="card {name}"><div class="card-title">{name}</div>'
            f'<div class="big">{100 * cmp["param_reduction"]:.1f} %</div>'
            f'<div class="small">fewer parameters than independent</div>'
            f'<dl><dt>max drop{pooled}</dt><dd>{fixed(100 * cmp["max_drop"])} pts</dd>'
            f'<dt>mean drop{pooled}</dt><dd>{fixed(100 * cmp["mean_drop"])} pts</dd>'
            f'<dt>Δm</dt><dd>{fixed(cmp["delta_m"], 2, sign=True)} %</dd>'
            + "".join(f'<dt>{escape(t)} MAE drop</dt><dd>{fixed(d, 2)}</dd>'
                      for t in regression_tasks(info)
                      if isinstance(d := (cmp.get("drops") or {}).get(t), (int, float)))
            + '</dl></div>')
    s = info.results.get("search") or {}
    if s:
        cards.append(
            f'<div class="card search"><div class="card-title">search</div>'
            f'<div class="big">{num(s.get("trainings"))}</div><div class="small">trainings</div>'
            f'<dl><dt>skipped</dt><dd>{num(s.get("skipped", 0))}</dd>'
            f'<dt>training time</dt><dd>{duration(s.get("seconds"))}</dd>'
            f'<dt>device</dt><dd>{escape(str(s.get("device", "?")))}</dd></dl></div>')
    return f'<div class="cards">{"".join(cards)}</div>' if cards else ""


# ----------------------------------------------------------------------------- data

def data_section(info: RunInfo) -> str:
    meta, tasks = info.meta or {}, info.tasks
    if not meta:
        rows = [[f'<span class="task">{escape(t)}</span>', escape(_metric_words(info, t))]
                for t in tasks]
        return section("data", "Tasks and data", table(["task", "metric"], rows, text=(0, 1)),
                       "data/meta.json is not in the run folder: class and split counts are "
                       "unavailable.")
    parts = []
    sizes = info.split_sizes or {}
    head = ["clips"] + [s for s in SPLITS if s in sizes] + ["total", "unreadable (left out)"]
    row = ["all tasks"] + [num(sizes[s]) for s in SPLITS if s in sizes] + \
          [num(meta.get("clips", sum(sizes.values()))), num(meta.get("skipped", 0))]
    parts.append(table(head, [row]))
    labelled = meta.get("labelled") or {}
    classes = meta.get("classes") or {}
    types = meta.get("types") or {}
    stats = meta.get("info") or {}
    rows = []
    for t in tasks:
        lab = labelled.get(t, {})
        cls = classes.get(t)
        counts = (info.class_counts or {}).get(t)
        st = stats.get(t) or {}
        if types.get(t) == "regression":
            chips = ('<span class="muted">numbers; training mean '
                     f'{_num2(st.get("mean"))}, std {_num2(st.get("std"))}</span>')
        elif counts:
            chips = "".join(
                f'<span class="chip" title="{escape(c)}: ' +
                ", ".join(f"{s} {n}" for s, n in v.items()) +
                f'">{escape(c)} <b>{sum(v.values())}</b></span>' for c, v in counts.items())
        elif cls:
            chips = "".join(f'<span class="chip">{escape(c)}</span>' for c in cls)
        else:
            chips = '<span class="muted">unknown</span>'
        kind = ([escape(f"{types.get(t, 'classification')}: {_metric_words(info, t)}")]
                if info.mixed else [])
        rows.append([f'<span class="task">{escape(t)}</span>'] + kind +
                    [num(len(cls)) if cls else "—"] +
                    [num(lab.get(s)) if lab else "—" for s in SPLITS] +
                    [f'<div class="chips">{chips}</div>'])
    if info.mixed:
        head = ["task", "type: metric", "classes / identities"] + \
               [f"labelled {s}" for s in SPLITS] + ["clips per class or identity (all splits)"]
        text = (0, 1, 6)
    else:
        head = ["task", "classes"] + [f"labelled {s}" for s in SPLITS] + \
               ["clips per class (all splits)"]
        text = (0, 5)
    parts.append(table(head, rows, "data", text=text))
    return section("data", "Tasks and data", "".join(parts),
                   "Clips labelled for each task per split; hover a class for its split "
                   "breakdown." +
                   (" A regression task's labels are numbers; a verification task's are "
                    "identities (its heads output an embedding)." if info.mixed else ""))


def _num2(x) -> str:
    return f"{x:.2f}" if isinstance(x, (int, float)) else "?"


def _metric_words(info: RunInfo, task: str) -> str:
    """The task's primary metric in words: "accuracy", "EER (lower is better)", ..."""
    m = info.metrics[task]
    if m.name == "accuracy":
        return "accuracy"
    unit = "" if m.fraction else "in the label's unit, "
    return f"{m.label} ({unit}{m.direction})"


# ----------------------------------------------------------------------------- stage 1

def stage1_section(info: RunInfo) -> str:
    ind = info.methods.get("independent")
    if not ind:
        return section("stage1", "Stage 1: isolated models",
                       '<p class="muted">No independent (stage-1) results in this run.</p>')
    if info.mixed:
        return _stage1_mixed(info, ind)
    tol = {t: c.get("tolerance", {}).get(t) for c in info.compatibility for t in c["tasks"]}
    rows = []
    any_records = False
    for t in info.tasks:
        m = (ind.get("metrics") or {}).get(t, {})
        recs = info.stage1_records(t)
        any_records |= bool(recs)
        val = [r["val"][t]["accuracy"] for r in recs if t in r.get("val", {})]
        rows.append([f'<span class="task">{escape(t)}</span>',
                     pm(m.get("accuracy"), m.get("accuracy_std")),
                     pm(m.get("macro_f1"), m.get("macro_f1_std")),
                     pm(sum(val) / len(val), None) if val else "—",
                     num(recs[0]["params"]) if recs else "—",
                     mega(recs[0]["macs"]) if recs else "—",
                     f"{100 * tol[t]:.2f}" if tol.get(t) is not None else "—"])
    head = ["task", "test accuracy %", "test macro-F1 %", "val accuracy %", "params", "MACs",
            "tolerance τ (pts)"]
    n = len(info.seeds)
    intro = (f"Each task's own model, mean ± std {over_seeds(n)}. "
             "These are the references every drop is measured against (validation split).")
    if not any_records:
        intro += " Per-model size and validation accuracy need the runs/ folder (absent)."
    return section("stage1", "Stage 1: isolated models", table(head, rows), intro)


SECONDARY = {"accuracy": ("macro_f1", "macro-F1 %", 100.0, 1),
             "mae": ("pearson_r", "Pearson r", 1.0, 2)}


def _stage1_mixed(info: RunInfo, ind: dict) -> str:
    """Stage 1 when the tasks have different primary metrics: one column of values, each in
    its metric's unit, with the metric named on its row."""
    tol = {t: c.get("tolerance", {}).get(t) for c in info.compatibility for t in c["tasks"]}
    rows = []
    any_records = False
    for t in info.tasks:
        m = info.metrics[t]
        recs = info.stage1_records(t)
        any_records |= bool(recs)
        val = [r["val"][t][m.name] for r in recs
               if isinstance(r.get("val", {}).get(t, {}).get(m.name), (int, float))]
        second = SECONDARY.get(m.name)
        other = "—"
        if second and value(ind, t, second[0]) is not None:
            other = f"{second[1]} " + pm(value(ind, t, second[0]),
                                         ind["metrics"][t].get(f"{second[0]}_std"),
                                         scale=second[2], digits=second[3])
        unit = "%" if m.fraction else "label's unit"
        rows.append([f'<span class="task">{escape(t)}</span>',
                     f"{escape(m.label)} <span class=\"unit\">{unit}, {m.direction}</span>",
                     pm_metric(ind, t, m.name),
                     (pm(sum(val) / len(val), None, scale=m.scale, digits=m.digits)
                      if val else "—"),
                     other,
                     num(recs[0]["params"]) if recs else "—",
                     mega(recs[0]["macs"]) if recs else "—",
                     (f"{m.scale * tol[t]:.2f} {'pts' if m.fraction else ''}".strip()
                      if tol.get(t) is not None else "—")])
    head = ["task", "primary metric", "test", "val", "other test metric", "params", "MACs",
            "tolerance τ"]
    n = len(info.seeds)
    intro = (f"Each task's own model, mean ± std {over_seeds(n)}, in its primary metric: "
             "accuracy (classification) and EER (verification, lower is better) in %, MAE "
             "(regression, lower is better) in the label's own unit. These are the references "
             "every drop is measured against (validation split); a tolerance is in points for "
             "accuracy and EER and in the label's unit for MAE.")
    if not any_records:
        intro += " Per-model size and validation scores need the runs/ folder (absent)."
    return section("stage1", "Stage 1: isolated models", table(head, rows, text=(0, 1, 4)), intro)


# ----------------------------------------------------------------------------- tree

def tree_section(info: RunInfo) -> str:
    tree, source = info.final_tree
    if not tree:
        return section("tree", "Stage 3: the tree",
                       '<p class="empty">No tree: stage 3 has not run (a tree needs the pair '
                       'measurements of stage 2).</p>')
    tasks = info.tasks
    from ..models.tree import TreeSpec

    try:
        spec = TreeSpec.from_json(tasks, tree)
    except (ValueError, TypeError) as e:
        return section("tree", "Stage 3: the tree",
                       f'<p class="empty">The tree in results.json is not valid: '
                       f'{escape(str(e))}</p>')
    costs = block_costs(info)
    per_depth = costs.per_depth(tree) if costs else None
    entry = info.methods.get("hierarchical", {})
    notes = {}
    if source == "hierarchical":
        # each head's test score in its primary metric: "54.2 %" (accuracy), "EER 29.2 %",
        # "MAE 53.42" (the label's unit)
        notes = {t: m.short(v) for t, m in info.metrics.items()
                 if (v := value(entry, t, m.name)) is not None}
    svg = tree_svg(tasks, tree, per_depth, costs.head_params if costs else None, notes,
                   label="hierarchical tree")
    rows = []
    for d, part in enumerate(tree):
        groups = " / ".join("+".join(escape(t) for t in g) for g in part)
        row = [str(d + 1), str(len(part)), f'<span class="groups">{groups}</span>']
        if per_depth:
            row += [num(costs.params[d]), num(per_depth[d][1]), mega(per_depth[d][2])]
        rows.append(row)
    head = ["depth", "block instances", "groups"]
    if per_depth:
        head += ["params / instance", "params at depth", "MACs at depth"]
        heads = sum(costs.head_params.values()) if costs.head_params else None
        if heads is not None:
            what = ("one linear head per task (classes, a number or an embedding)"
                    if info.mixed else "one linear classifier per task")
            rows.append(["heads", str(len(tasks)), what, "—", num(heads), "—"])
    params, macs = entry.get("params"), entry.get("macs")
    if params is None and per_depth and costs.head_params:
        params = sum(p for _, p, _ in per_depth) + sum(costs.head_params.values())
        macs = None
    total = (f"{sum(len(p) for p in tree)} block instances in all"
             + (f", {num(params)} trainable parameters" if params is not None else "")
             + (f", {mega(macs)} MACs per clip" if macs is not None else "") + ".")
    intro = ("The trained hierarchical model: " if source == "hierarchical" else
             "The tree stage 3 proposes (the run stopped before training it): ") + total
    if not per_depth:
        intro += " Per-depth sizes need the run's config.yaml."
    if notes and info.mixed:
        intro += (" Each head shows its test score: accuracy or EER in %, MAE in the label's "
                  "unit (EER and MAE: lower is better).")
    text = escape(spec.render())
    body = (f'<div class="treebox">{svg}</div>'
            f'{table(head, rows, "depths", text=(2,))}'
            f'<details><summary>As text</summary><pre>{text}</pre></details>'
            + _other_trees(info))
    return section("tree", "Stage 3: the tree", body, intro)


def _other_trees(info: RunInfo) -> str:
    out = []
    skip = {"independent", "flat", "hierarchical"}
    for name, entry in info.methods.items():
        tree = entry.get("tree")
        if name in skip or not tree or len(tree[0]) == 0:
            continue
        svg = tree_svg(info.tasks, tree, label=f"{name} tree")
        out.append(f'<details><summary>Tree of {escape(name)}</summary>'
                   f'<div class="treebox">{svg}</div></details>')
    return "".join(out)
