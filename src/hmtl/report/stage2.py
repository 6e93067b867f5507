"""The stage-2 section of report.html: drop heat-maps per shared depth, the compatibility-depth
and synergy matrices, and the table of every pair measurement."""

from __future__ import annotations

from html import escape

from . import plots
from .load import RunInfo
from .format import drop_kinds, pm, regression_tasks, section, table, tolerance
from .metrics import fixed
from .synergy import (Cell, compatibility_depth, depth_compatible, depth_matrix,
                      depths_measured, drop_matrix, synergy_matrix)


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
    mats = {k: drop_matrix(tasks, compat, k) for k in ks}
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
    kmat = depth_matrix(tasks, compat)
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
        f'<p>{what}<b>Framed bold</b> values are where the rule found the task incompatible (its '
        'drop above its tolerance plus z standard errors, and at least one clip); hatched '
        '<span class="tag skip">skip</span> cells were never trained (the pair was already '
        'incompatible at a shallower depth); <span class="tag na">n/a</span> marks pairs not in '
        'results.json.</p>' + legend +
        f'<div class="grid">{"".join(panels)}</div>'
        '<h3>Compatibility depth and synergy</h3>'
        '<p>K(i, j): the largest k at which the pair is compatible at every depth ≤ k '
        f'(0 … {L}); '
        f'stage 3 clusters tasks with distance L − K. {synergy_text}</p>'
        f'<div class="grid"><figure class="panel">{k_svg}</figure>'
        f'<figure class="panel">{s_svg}</figure></div>' + _pair_table(info))
    return section("synergy", "Stage 2: pairwise synergy", body)


def _pair_drop(info: RunInfo, task: str, d, std) -> str:
    """A pair's drop of one task: points (accuracy, EER) or the label's unit (MAE)."""
    if not info.mixed:
        return pm(d, std)
    m = info.metrics[task]
    unit = "pts" if m.fraction else "MAE"
    return (pm(d, std, scale=m.scale, digits=m.digits) +
            (f' <span class="unit">{unit}</span>' if d is not None else ""))


def _pair_table(info: RunInfo) -> str:
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
                ok = depth_compatible(c, k)
                if syn is None:
                    syn_text = "—"
                elif own & {a, b}:
                    syn_text = f'<span class="muted">{syn:+.3f} (mixed units)</span>'
                else:
                    syn_text = fixed(100 * syn, sign=True)
                cells += [syn_text, "—" if ok is None else
                          '<span class="ok">yes</span>' if ok else '<span class="bad">no</span>']
            else:
                cells = [(f'<span class="muted">{escape(skipped[k])}</span>', 4)]
            rows.append([f"{escape(a)} + {escape(b)}", k] + cells +
                        [str(compatibility_depth(c))])
    first = "drop of first" if info.mixed else "drop of first (pts)"
    head = ["pair", "k", first, "drop of second", "synergy", "compatible", "K"]
    return ('<details><summary>All pair measurements</summary>' +
            table(head, rows, "pairs") + "</details>")
