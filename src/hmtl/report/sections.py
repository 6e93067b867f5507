"""The sections of report.html, one function each, from a loaded run (load.RunInfo). Each
returns an HTML fragment; a section the run has no data for says why instead of vanishing, so
a partial run's page keeps the same outline. Every value that came from a file is escaped."""

from __future__ import annotations

from html import escape

from . import plots
from .blocks import block_costs
from .load import SPLITS, RunInfo
from .synergy import (DEFAULT_TOLERANCE, compatibility_depth, depth_matrix, depths_measured,
                      drop_matrix, synergy_matrix)
from .tree_diagram import tree_svg

FIXED_COLORS = {"independent": "#475569", "hierarchical": "#2563eb", "flat": "#dc2626"}


# ----------------------------------------------------------------------------- formatting

def fixed(x: float, digits: int = 1, sign: bool = False) -> str:
    """x with `digits` decimals, never '-0.0' (a tiny negative drop is no drop)."""
    x = round(x, digits) + 0.0
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


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


def section(anchor: str, title: str, body: str, intro: str = "") -> str:
    intro = f'<p class="intro">{intro}</p>' if intro else ""
    return (f'<section id="{anchor}"><h2><a href="#{anchor}">{escape(title)}</a></h2>'
            f"{intro}{body}</section>")


# ----------------------------------------------------------------------------- summary

def summary(info: RunInfo) -> str:
    cards = []
    for name in ("hierarchical", "flat"):
        cmp = info.methods.get(name, {}).get("vs_independent")
        if not cmp:
            continue
        cards.append(
            f'<div class="card {name}"><div class="card-title">{name}</div>'
            f'<div class="big">{100 * cmp["param_reduction"]:.1f} %</div>'
            f'<div class="small">fewer parameters than independent</div>'
            f'<dl><dt>max drop</dt><dd>{fixed(100 * cmp["max_drop"])} pts</dd>'
            f'<dt>mean drop</dt><dd>{fixed(100 * cmp["mean_drop"])} pts</dd>'
            f'<dt>Δm</dt><dd>{fixed(cmp["delta_m"], 2, sign=True)} %</dd></dl></div>')
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
        primary = (info.methods.get("independent") or {}).get("primary", "accuracy")
        rows = [[f'<span class="task">{escape(t)}</span>', escape(primary)] for t in tasks]
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
    rows = []
    for t in tasks:
        lab = labelled.get(t, {})
        cls = classes.get(t)
        counts = (info.class_counts or {}).get(t)
        if counts:
            chips = "".join(
                f'<span class="chip" title="{escape(c)}: ' +
                ", ".join(f"{s} {n}" for s, n in v.items()) +
                f'">{escape(c)} <b>{sum(v.values())}</b></span>' for c, v in counts.items())
        elif cls:
            chips = "".join(f'<span class="chip">{escape(c)}</span>' for c in cls)
        else:
            chips = '<span class="muted">unknown</span>'
        rows.append([f'<span class="task">{escape(t)}</span>', num(len(cls)) if cls else "—"] +
                    [num(lab.get(s)) if lab else "—" for s in SPLITS] +
                    [f'<div class="chips">{chips}</div>'])
    head = ["task", "classes"] + [f"labelled {s}" for s in SPLITS] + \
           ["clips per class (all splits)"]
    parts.append(table(head, rows, "data", text=(0, 5)))
    return section("data", "Tasks and data", "".join(parts),
                   "Clips labelled for each task per split; hover a class for its split breakdown.")


# ----------------------------------------------------------------------------- stage 1

def stage1_section(info: RunInfo) -> str:
    ind = info.methods.get("independent")
    if not ind:
        return section("stage1", "Stage 1: isolated models",
                       '<p class="muted">No independent (stage-1) results in this run.</p>')
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


# ----------------------------------------------------------------------------- stage 2

def _legend(cmap: str, lo: str, hi: str, left: str, right: str) -> str:
    stops = ", ".join(plots.colormap_stops(cmap))
    return (f'<div class="legend"><span>{left}</span><span class="bar" '
            f'style="background: linear-gradient(90deg, {stops})"></span><span>{right}</span>'
            f'<span class="muted">({lo} … {hi})</span></div>')


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
    vals = [abs(c.value) for m in mats.values() for r in m for c in r if c.kind == "value"]
    vmax = max([2 * 100 * default_tol] + [100 * v for v in vals])
    panels = []
    for k in ks:
        svg = plots.heatmap(tasks, mats[k], f"k = {k} shared block{'s' if k > 1 else ''}",
                            f"drop{k}", plots.DROP_CMAP, -vmax, vmax,
                            fixed, scale=100)
        panels.append(f'<figure class="panel">{svg}</figure>')
    legend = _legend(plots.DROP_CMAP, f"−{vmax:.1f}", f"+{vmax:.1f} pts",
                     "better when shared", "worse when shared")
    L = info.depth or max(ks)
    kmat = depth_matrix(tasks, compat, default_tol)
    smat = synergy_matrix(tasks, compat)
    svals = [abs(c.value) for r in smat for c in r if c.kind == "value"]
    smax = max([2 * 100 * default_tol] + [100 * v for v in svals])
    k_svg = plots.heatmap(tasks, kmat, "compatibility depth K", "depthK", plots.DEPTH_CMAP,
                          -0.6, L + 0.4, lambda v: f"{v:.0f}")
    s_svg = plots.heatmap(tasks, smat, "mean synergy over trained depths", "syn",
                          plots.SYNERGY_CMAP, -smax, smax, lambda v: fixed(v, 1, sign=True),
                          scale=100)
    body = (
        '<h3>Drop per shared depth</h3>'
        '<p>Cell (row, column): the validation accuracy drop, in points, of the <em>row</em> task '
        'when it shares its first k blocks with the <em>column</em> task, against its isolated '
        'model. <b>Framed bold</b> values exceed that task\'s tolerance; hatched '
        '<span class="tag skip">skip</span> cells were never trained (the pair was already '
        'incompatible at a shallower depth); <span class="tag na">n/a</span> marks pairs not in '
        'results.json.</p>' + legend +
        f'<div class="grid">{"".join(panels)}</div>'
        '<h3>Compatibility depth and synergy</h3>'
        '<p>K(i, j): the largest k at which the pair is compatible at every depth ≤ k '
        f'(0 … {L}); '
        'stage 3 clusters tasks with distance L − K. Synergy = −(drop<sub>i</sub> + '
        'drop<sub>j</sub>)/2 in points (positive: sharing helps both), averaged over the trained '
        'depths; it breaks ties.</p>'
        f'<div class="grid"><figure class="panel">{k_svg}</figure>'
        f'<figure class="panel">{s_svg}</figure></div>' + _pair_table(info, default_tol))
    return section("synergy", "Stage 2: pairwise synergy", body)


def _pair_table(info: RunInfo, default_tol: float) -> str:
    rows = []
    for c in info.compatibility:
        a, b = c["tasks"]
        drops, std = c.get("drops") or {}, c.get("drop_std") or {}
        skipped = c.get("skipped") or {}
        for k in sorted(set(drops) | set(skipped), key=int):
            if k in drops:
                d = drops[k]
                syn = (c.get("synergy") or {}).get(k)
                syn = -sum(d.values()) / len(d) if syn is None and d else syn
                cells = [pm(d.get(t), std.get(k, {}).get(t)) for t in (a, b)]
                ok = all(d[t] <= (c.get("tolerance") or {}).get(t, default_tol) + 1e-12 for t in d)
                cells += [fixed(100 * syn, sign=True) if syn is not None else "—",
                          '<span class="ok">yes</span>' if ok else '<span class="bad">no</span>']
            else:
                cells = [(f'<span class="muted">{escape(skipped[k])}</span>', 4)]
            rows.append([f"{escape(a)} + {escape(b)}", k] + cells +
                        [str(compatibility_depth(c, default_tol))])
    head = ["pair", "k", "drop of first (pts)", "drop of second", "synergy", "compatible", "K"]
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
        notes = {t: f"{100 * a:.1f} %" for t in tasks if (a := acc(entry, t)) is not None}
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
            rows.append(["heads", str(len(tasks)), "one linear classifier per task", "—",
                         num(heads), "—"])
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
