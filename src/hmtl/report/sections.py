"""The sections of report.html, one function each, from a loaded run (load.RunInfo). Each
returns an HTML fragment; a section the run has no data for says why instead of vanishing, so
a partial run's page keeps the same outline. Every value that came from a file is escaped."""

from __future__ import annotations

from html import escape

from . import plots
from .blocks import block_costs
from .load import SPLITS, RunInfo
from .metrics import fixed, metric
from .synergy import (DEFAULT_TOLERANCE, Cell, compatibility_depth, depth_matrix,
                      depths_measured, drop_matrix, synergy_matrix)
from .tree_diagram import tree_svg

FIXED_COLORS = {"independent": "#475569", "hierarchical": "#2563eb", "flat": "#dc2626"}


# ----------------------------------------------------------------------------- formatting

def pm(mean, std, scale=100.0, digits=1, stacked=False) -> str:
    """mean ± std; stacked puts the spread under the mean, for wide tables."""
    if mean is None:
        return "—"
    s = fixed(mean * scale, digits)
    if std is None:
        return s
    cls = "pm stacked" if stacked else "pm"
    return s + f'<span class="{cls}"> ± {(std or 0) * scale:.{digits}f}</span>'


def over_seeds(n: int) -> str:
    return f"over {n} seed{'s' if n != 1 else ''}" if n else "over seeds"


def num(n) -> str:
    return f"{n:,}" if isinstance(n, (int, float)) else "—"


def mega(n) -> str:
    return f"{n / 1e6:.2f} M" if isinstance(n, (int, float)) else "—"


def duration(s) -> str:
    if not isinstance(s, (int, float)):
        return "—"
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def table(head: list[str] | None, rows: list[list], cls: str = "",
          row_cls: list[str] | None = None, text: tuple[int, ...] = (0,)) -> str:
    """Cells are HTML already; a cell may be (html, colspan), left-aligned. Columns listed in
    `text` are left-aligned, the others are right-aligned numbers."""
    def line(tag: str, cells: list) -> str:
        out, i = [], 0
        for c in cells:
            c, span = c if isinstance(c, tuple) else (c, 1)
            attrs = "" if i in text or span > 1 else ' class="num"'
            attrs += f' colspan="{span}"' if span > 1 else ""
            out.append(f"<{tag}{attrs}>{c}</{tag}>")
            i += span
        return "".join(out)
    trs = []
    for k, r in enumerate(rows):
        rc = f' class="{row_cls[k]}"' if row_cls and row_cls[k] else ""
        trs.append(f"<tr{rc}>{line('td', r)}</tr>")
    thead = f'<thead><tr>{line("th", head)}</tr></thead>' if head else ""
    return (f'<div class="scroll"><table class="{cls}">{thead}'
            f'<tbody>{"".join(trs)}</tbody></table></div>')


def tolerance(info: RunInfo) -> float:
    t = ((info.config or {}).get("search") or {}).get("tolerance")
    return float(t) if isinstance(t, (int, float)) else DEFAULT_TOLERANCE


def method_colors(info: RunInfo) -> dict[str, str]:
    spare = iter(c for c in plots.PALETTE if c not in FIXED_COLORS.values())
    return {m: FIXED_COLORS.get(m) or next(spare, "#6b7280") for m in info.methods}


def acc(entry: dict, task: str):
    return (entry.get("metrics") or {}).get(task, {}).get("accuracy")


def value(entry: dict, task: str, name: str = "accuracy"):
    """The method's test value of one of a task's metrics (None when absent)."""
    v = (entry.get("metrics") or {}).get(task, {}).get(name)
    return v if isinstance(v, (int, float)) else None


def pm_metric(entry: dict, task: str, name: str, stacked: bool = False) -> str:
    """A task's metric as mean ± std over seeds in its display unit (% or the label's)."""
    m = metric(name)
    std = (entry.get("metrics") or {}).get(task, {}).get(f"{name}_std")
    return pm(value(entry, task, name), std, scale=m.scale, digits=m.digits, stacked=stacked)


def regression_tasks(info: RunInfo) -> list[str]:
    """Tasks whose primary metric is not a fraction (MAE): their drops are in their own unit."""
    return [t for t, m in info.metrics.items() if not m.fraction]


def drop_kinds(info: RunInfo) -> str:
    """What the pooled drops (mean, max) are made of, for headings and intros."""
    order = {"accuracy": 0, "EER": 1}
    names = sorted({m.label for m in info.metrics.values() if m.fraction},
                   key=lambda x: (order.get(x, 2), x))
    return " and ".join(names) if names else "accuracy"


def section(anchor: str, title: str, body: str, intro: str = "") -> str:
    intro = f'<p class="intro">{intro}</p>' if intro else ""
    return (f'<section id="{anchor}"><h2><a href="#{anchor}">{escape(title)}</a></h2>'
            f"{intro}{body}</section>")


# ----------------------------------------------------------------------------- summary

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


# ----------------------------------------------------------------------------- stage 2

def _legend(cmap: str, lo: str, hi: str, left: str, right: str, what: str = "") -> str:
    stops = ", ".join(plots.colormap_stops(cmap))
    what = f"<span><b>{what}</b></span>" if what else ""
    return (f'<div class="legend">{what}<span>{left}</span><span class="bar" '
            f'style="background: linear-gradient(90deg, {stops})"></span><span>{right}</span>'
            f'<span class="muted">({lo} … {hi})</span></div>')


def _own_unit_rows(info: RunInfo, compat: list[dict], mats: dict) -> dict[str, float]:
    """Tasks whose drops are not in points (regression: MAE in the label's unit) -> the half
    range of their own colour scale: twice their tolerance, or their largest drop."""
    out = {}
    tasks = info.tasks
    for t in regression_tasks(info):
        i = tasks.index(t)
        vals = [abs(c.value) for m in mats.values() for c in m[i] if c.kind == "value"]
        tol = [float(c["tolerance"][t]) for c in compat
               if t in (c.get("tolerance") or {}) and isinstance(c["tolerance"][t], (int, float))]
        out[t] = max(vals + [2 * x for x in tol], default=0.0) or 1.0
    return out


def synergy_section(info: RunInfo) -> str:
    compat, tasks = info.compatibility, info.tasks
    if not compat:
        why = ("the run stopped after stage 1" if info.hierarchy.get("stage") == "stage1"
               else "results.json has no compatibility entries")
        return section("synergy", "Stage 2: pairwise synergy",
                       f'<p class="empty">No pair measurements: {why}. The heat-maps appear once '
                       'stage 2 has run.</p>')
    default_tol = tolerance(info)
    ks = sorted(set(depths_measured(compat)) | set(range(1, (info.depth or 0) + 1)))
    mats = {k: drop_matrix(tasks, compat, k, default_tol) for k in ks}
    # a regression task's drops (MAE, in its label's unit) get their own colour scale on their
    # row: on the points scale of the others they would be meaningless (and saturate it)
    own = _own_unit_rows(info, compat, mats)
    vals = [abs(c.value) for m in mats.values() for i, r in enumerate(m) if tasks[i] not in own
            for c in r if c.kind == "value"]
    vmax = max([2 * 100 * default_tol] + [100 * v for v in vals])
    row_scales = ([(1.0, -own[t], own[t], lambda v: fixed(v, 2)) if t in own else None
                   for t in tasks] if own else None)
    row_labels = [f"{t} (MAE)" if t in own else t for t in tasks] if own else None
    panels = []
    for k in ks:
        svg = plots.heatmap(tasks, mats[k], f"k = {k} shared block{'s' if k > 1 else ''}",
                            f"drop{k}", plots.DROP_CMAP, -vmax, vmax,
                            fixed, scale=100, row_scales=row_scales, row_labels=row_labels)
        panels.append(f'<figure class="panel">{svg}</figure>')
    if own:
        legend = _legend(plots.DROP_CMAP, f"−{vmax:.1f}", f"+{vmax:.1f} pts",
                         "better when shared", "worse when shared",
                         f"{escape(drop_kinds(info))} rows, in points:")
        legend += "".join(_legend(plots.DROP_CMAP, f"−{r:.2f}", f"+{r:.2f}",
                                  "better when shared", "worse when shared",
                                  f"{escape(t)} row, MAE in the label's unit:")
                          for t, r in own.items())
    else:
        legend = _legend(plots.DROP_CMAP, f"−{vmax:.1f}", f"+{vmax:.1f} pts",
                         "better when shared", "worse when shared")
    L = info.depth or max(ks)
    kmat = depth_matrix(tasks, compat, default_tol)
    smat = synergy_matrix(tasks, compat)
    if own:     # −(drop_i + drop_j)/2 of points and a label's unit has no unit: not drawn
        smat = [[Cell("mixed", reason="mixed units") if c.kind == "value"
                 and (tasks[i] in own or tasks[j] in own) else c for j, c in enumerate(r)]
                for i, r in enumerate(smat)]
    svals = [abs(c.value) for r in smat for c in r if c.kind == "value"]
    smax = max([2 * 100 * default_tol] + [100 * v for v in svals])
    k_svg = plots.heatmap(tasks, kmat, "compatibility depth K", "depthK", plots.DEPTH_CMAP,
                          -0.6, L + 0.4, lambda v: f"{v:.0f}")
    s_svg = plots.heatmap(tasks, smat, "mean synergy over trained depths", "syn",
                          plots.SYNERGY_CMAP, -smax, smax, lambda v: fixed(v, 1, sign=True),
                          scale=100)
    if info.mixed:
        what = ('Cell (row, column): the validation drop of the <em>row</em> task\'s primary '
                'metric when it shares its first k blocks with the <em>column</em> task, against '
                'its isolated model; positive = worse, whatever the metric\'s direction (accuracy '
                'that falls, EER or MAE that rises). Accuracy and EER drops are in points' +
                ('; a regression row (marked MAE) is in the label\'s own unit, on its own colour '
                 'scale' if own else '') + '. ')
    else:
        what = ('Cell (row, column): the validation accuracy drop, in points, of the <em>row</em> '
                'task when it shares its first k blocks with the <em>column</em> task, against '
                'its isolated model. ')
    synergy_text = ('Synergy = −(drop<sub>i</sub> + drop<sub>j</sub>)/2 in points (positive: '
                    'sharing helps both), averaged over the trained depths; it breaks ties.')
    if own:
        synergy_text += (' A pair with a regression task is marked <i>units</i>: its two drops '
                         'are in different units (points and the label\'s unit), so their mean '
                         'has none; the pair table below shows the value results.json stores.')
    body = (
        '<h3>Drop per shared depth</h3>'
        f'<p>{what}<b>Framed bold</b> values exceed that task\'s tolerance; hatched '
        '<span class="tag skip">skip</span> cells were never trained (the pair was already '
        'incompatible at a shallower depth); <span class="tag na">n/a</span> marks pairs not in '
        'results.json.</p>' + legend +
        f'<div class="grid">{"".join(panels)}</div>'
        '<h3>Compatibility depth and synergy</h3>'
        '<p>K(i, j): the largest k at which the pair is compatible at every depth ≤ k '
        f'(0 … {L}); '
        f'stage 3 clusters tasks with distance L − K. {synergy_text}</p>'
        f'<div class="grid"><figure class="panel">{k_svg}</figure>'
        f'<figure class="panel">{s_svg}</figure></div>' + _pair_table(info, default_tol))
    return section("synergy", "Stage 2: pairwise synergy", body)


def _pair_drop(info: RunInfo, task: str, d, std) -> str:
    """A pair's drop of one task: points (accuracy, EER) or the label's unit (MAE)."""
    if not info.mixed:
        return pm(d, std)
    m = info.metrics[task]
    unit = "pts" if m.fraction else "MAE"
    return (pm(d, std, scale=m.scale, digits=m.digits) +
            (f' <span class="unit">{unit}</span>' if d is not None else ""))


def _pair_table(info: RunInfo, default_tol: float) -> str:
    rows = []
    own = set(regression_tasks(info))
    for c in info.compatibility:
        a, b = c["tasks"]
        drops, std = c.get("drops") or {}, c.get("drop_std") or {}
        skipped = c.get("skipped") or {}
        for k in sorted(set(drops) | set(skipped), key=int):
            if k in drops:
                d = drops[k]
                syn = (c.get("synergy") or {}).get(k)
                syn = -sum(d.values()) / len(d) if syn is None and d else syn
                cells = [_pair_drop(info, t, d.get(t), std.get(k, {}).get(t)) for t in (a, b)]
                ok = all(d[t] <= (c.get("tolerance") or {}).get(t, default_tol) + 1e-12 for t in d)
                if syn is None:
                    syn_text = "—"
                elif own & {a, b}:
                    syn_text = f'<span class="muted">{syn:+.3f} (mixed units)</span>'
                else:
                    syn_text = fixed(100 * syn, sign=True)
                cells += [syn_text,
                          '<span class="ok">yes</span>' if ok else '<span class="bad">no</span>']
            else:
                cells = [(f'<span class="muted">{escape(skipped[k])}</span>', 4)]
            rows.append([f"{escape(a)} + {escape(b)}", k] + cells +
                        [str(compatibility_depth(c, default_tol))])
    first = "drop of first" if info.mixed else "drop of first (pts)"
    head = ["pair", "k", first, "drop of second", "synergy", "compatible", "K"]
    return ('<details><summary>All pair measurements</summary>' +
            table(head, rows, "pairs") + "</details>")


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
