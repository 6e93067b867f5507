"""Formatting helpers shared by the sections of report.html: numbers, mean ± std, tables,
the run's tolerance and method colours, each task's primary metric."""

from __future__ import annotations

from html import escape

from . import plots
from .load import RunInfo
from .metrics import fixed, metric

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


DEFAULT_TOLERANCE = 0.01        # for colour scales of runs whose config.yaml is not there


def tolerance(info: RunInfo) -> float:
    """The run's search.tolerance: the scale of its drop colours (decisions are stored)."""
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
