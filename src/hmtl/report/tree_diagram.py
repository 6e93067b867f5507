"""The tree as an SVG diagram, drawn by hand (no plotting library): one column per depth, one
box per block instance spanning the rows of the tasks it serves, edges parent → child, and one
head per task on the right.

Tasks are put in depth-first order of the tree, so every group at every depth is a run of
consecutive rows and a box never has to jump over another one."""

from __future__ import annotations

from html import escape

ROW = 24          # px per task row
PAD = 3           # vertical gap between neighbouring boxes (each side)
TOP = 46          # room for the column headers
BOTTOM = 44       # room for the per-depth footers
GAP = 34          # horizontal room for the edges between columns
CHAR = 7.0        # rough width of one 12 px character


def task_order(tasks: list[str], tree: list) -> list[str]:
    """Depth-first order: groups of depth d+1 inside their depth-d parent, in the tree's order."""
    def walk(d: int, group: list[str]) -> list[str]:
        if d == len(tree):
            return list(group)
        out = []
        for child in tree[d]:
            if set(child) <= set(group):
                out += walk(d + 1, child)
        return out

    ordered = walk(0, list(tasks))
    return ordered if sorted(ordered) == sorted(tasks) else list(tasks)


def _fmt(n: int) -> str:
    return f"{n:,}"


def _box(x, y, w, h, cls, title, body="") -> str:
    return (f'<g class="{cls}"><title>{escape(title)}</title>'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="5"/>{body}</g>')


def _text(x, y, s, cls="", anchor="start") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{c}>{escape(s)}</text>'


def _edge(x1, y1, x2, y2) -> str:
    mx = (x1 + x2) / 2
    return (f'<path class="edge" d="M{x1:.1f},{y1:.1f} C{mx:.1f},{y1:.1f} '
            f'{mx:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"/>')


def tree_svg(tasks: list[str], tree: list, per_depth: list[tuple[int, int, int]] | None = None,
             head_params: dict[str, int] | None = None, head_notes: dict[str, str] | None = None,
             label: str = "tree") -> str:
    """per_depth: (instances, params, MACs) per depth, for the footers; head_notes: a short text
    per task shown next to its head (e.g. its accuracy)."""
    order = task_order(tasks, tree)
    row = {t: i for i, t in enumerate(order)}
    L, n = len(tree), len(order)
    longest = max(len(t) for t in order)
    col_w = max(92.0, longest * CHAR + 22)
    in_w = 54.0
    notes = head_notes or {}
    head_w = max(80.0, max(len(t) + len(notes.get(t, "")) + 2 for t in order) * CHAR + 20)
    xs = [12 + in_w + GAP + d * (col_w + GAP) for d in range(L)]
    x_head = 12 + in_w + GAP + L * (col_w + GAP)
    width = x_head + head_w + 12
    height = TOP + n * ROW + BOTTOM

    def span(group) -> tuple[float, float]:
        rows = [row[t] for t in group]
        return TOP + min(rows) * ROW + PAD, (max(rows) - min(rows) + 1) * ROW - 2 * PAD

    parts = []
    # column headers and footers
    for d in range(L):
        cx = xs[d] + col_w / 2
        parts.append(_text(cx, 18, f"block {d + 1}", "colhead", "middle"))
        parts.append(_text(cx, 34, f"depth {d + 1}", "colsub", "middle"))
        foot = TOP + n * ROW + 18
        k = len(tree[d])
        parts.append(_text(cx, foot, f"{k} instance{'s' if k != 1 else ''}", "foot", "middle"))
        if per_depth:
            parts.append(_text(cx, foot + 15, f"{_fmt(per_depth[d][1])} params", "foot", "middle"))
    hx = x_head + head_w / 2
    parts.append(_text(hx, 18, "heads", "colhead", "middle"))
    parts.append(_text(hx, 34, "one per task", "colsub", "middle"))
    if head_params:
        parts.append(_text(hx, TOP + n * ROW + 18, f"{_fmt(sum(head_params.values()))} params",
                           "foot", "middle"))

    # input
    y0, h0 = TOP + PAD, n * ROW - 2 * PAD
    parts.append(_box(12, y0, in_w, h0, "node input", "input features",
                      _text(12 + in_w / 2, y0 + h0 / 2 + 4, "input", "", "middle")))

    # edges first, so boxes are drawn over their ends
    edges = []
    for d, part in enumerate(tree):
        for g in part:
            y, h = span(g)
            if d == 0:
                px, py = 12 + in_w, y0 + h0 / 2
            else:
                parent = next(p for p in tree[d - 1] if set(g) <= set(p))
                pyy, ph = span(parent)
                px, py = xs[d - 1] + col_w, pyy + ph / 2
            edges.append(_edge(px, py, xs[d], y + h / 2))
    for g in tree[-1]:
        y, h = span(g)
        for t in g:
            edges.append(_edge(xs[-1] + col_w, y + h / 2, x_head, TOP + row[t] * ROW + ROW / 2))
    parts[:0] = edges

    # block instances
    for d, part in enumerate(tree):
        for i, g in enumerate(part):
            y, h = span(g)
            cls = "node shared" if len(g) > 1 else "node single"
            size = f"; {_fmt(per_depth[d][1] // per_depth[d][0])} params" if per_depth else ""
            title = f"block {d + 1}, instance {i + 1} of {len(part)}: {', '.join(g)}{size}"
            body = "".join(_text(xs[d] + 10, TOP + row[t] * ROW + ROW / 2 + 4, t)
                           for t in sorted(g, key=row.__getitem__))
            parts.append(_box(xs[d], y, col_w, h, cls, title, body))

    # heads
    for t in order:
        y = TOP + row[t] * ROW + PAD
        note = notes.get(t, "")
        body = _text(x_head + 10, y + ROW / 2 + 1, t, "task")
        if note:
            body += _text(x_head + head_w - 10, y + ROW / 2 + 1, note, "note", "end")
        title = f"head of {t}"
        if head_params and t in head_params:
            title += f" ({_fmt(head_params[t])} params)"
        parts.append(_box(x_head, y, head_w, ROW - 2 * PAD, "node head", title, body))

    return (f'<svg class="tree" role="img" aria-label="{escape(label)}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" '
            f'width="{width:.0f}" height="{height:.0f}" xmlns="http://www.w3.org/2000/svg">'
            f'<style>{STYLE}</style>{"".join(parts)}</svg>')


STYLE = """
svg.tree text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
                 sans-serif; fill: #1f2937; }
svg.tree text.colhead { font-weight: 600; font-size: 12.5px; }
svg.tree text.colsub, svg.tree text.foot { fill: #6b7280; font-size: 11px; }
svg.tree text.note { fill: #4b5563; font-variant-numeric: tabular-nums; }
svg.tree .edge { fill: none; stroke: #9ca3af; stroke-width: 1.4; }
svg.tree .node rect { stroke-width: 1.2; }
svg.tree .input rect { fill: #f3f4f6; stroke: #9ca3af; }
svg.tree .shared rect { fill: #dbeafe; stroke: #3b82f6; }
svg.tree .single rect { fill: #ffffff; stroke: #94a3b8; }
svg.tree .head rect { fill: #fef3c7; stroke: #d97706; }
svg.tree .node:hover rect { stroke-width: 2.2; }
"""
