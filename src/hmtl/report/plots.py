"""Figures as inline SVG strings: synergy heat-maps and the accuracy/size scatters.

matplotlib is imported here only, when a figure is drawn, and through the object API with the
Agg canvas: no pyplot, no global backend switch, no state left behind in a notebook."""

from __future__ import annotations

import io
import math
import re

from ..errors import HmtlError
from .synergy import Cell

RC = {
    "svg.fonttype": "none",            # text stays text: searchable, small, crisp
    "svg.hashsalt": "hmtl-report",     # stable ids, so the same run gives the same file
    "font.size": 9,
    "font.family": "sans-serif",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#9ca3af",
    "axes.labelcolor": "#1f2937",
    "xtick.color": "#4b5563",
    "ytick.color": "#4b5563",
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
}
PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777",
           "#65a30d", "#475569", "#ea580c"]
DROP_CMAP = "RdBu_r"                   # red: worse when shared, blue: better
DEPTH_CMAP = "Greens"
SYNERGY_CMAP = "RdBu"                  # synergy = minus the mean drop: blue is good as well


def _mpl():
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise HmtlError("the report's figures need matplotlib: pip install 'hmtl[report]'") from None
    return matplotlib, Figure, FigureCanvasAgg


def _new_figure(w: float, h: float):
    _, Figure, Canvas = _mpl()
    fig = Figure(figsize=(w, h), layout="constrained")
    Canvas(fig)
    return fig


def to_svg(fig, uid: str) -> str:
    """The figure as an <svg> element for inline use: no XML prologue or metadata, ids made
    unique to this figure (several SVGs share one HTML id space), width scaling with the page."""
    matplotlib, _, _ = _mpl()
    buf = io.StringIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, transparent=True)
    s = buf.getvalue()
    s = s[s.index("<svg"):]
    s = re.sub(r"<metadata>.*?</metadata>\s*", "", s, flags=re.S)
    s = re.sub(r'id="([^"]+)"', lambda m: f'id="{uid}-{m.group(1)}"', s)
    s = re.sub(r'(href="#|url\(#)([^")]+)', lambda m: f"{m.group(1)}{uid}-{m.group(2)}", s)
    m = re.match(r'<svg([^>]*?) width="([\d.]+)pt" height="([\d.]+)pt"', s)
    if m:
        w = float(m.group(2))
        s = (f'<svg{m.group(1)} class="figure" style="max-width:{w * 4 / 3:.0f}px" '
             f'preserveAspectRatio="xMidYMid meet"' + s[m.end():])
    return s.strip()


def colormap_stops(name: str, n: int = 9) -> list[str]:
    """Hex colours along a colormap, for an HTML colour legend."""
    matplotlib, _, _ = _mpl()
    from matplotlib.colors import to_hex

    cmap = matplotlib.colormaps[name]
    return [to_hex(cmap(i / (n - 1))) for i in range(n)]


# ----------------------------------------------------------------------------- heat-maps

def heatmap(tasks: list[str], cells: list[list[Cell]], title: str, uid: str, cmap: str,
            vmin: float, vmax: float, fmt, scale: float = 1.0,
            row_scales: list | None = None, row_labels: list[str] | None = None) -> str:
    """One task × task matrix. Measured cells are coloured and annotated (fmt(value)); cells
    over tolerance get a dark frame; skipped ones are hatched grey and say so; missing ones
    are left blank with 'n/a'; cells whose value has no common unit ("mixed") say so in grey;
    the diagonal is a dash. row_scales: per row, None (the figure's scale) or its own
    (scale, vmin, vmax, fmt), for a row measured in another unit; row_labels: the y tick
    labels (default: the task names)."""
    matplotlib, _, _ = _mpl()
    from matplotlib.patches import Rectangle

    n = len(tasks)
    side = 0.52 * n + 1.3
    with matplotlib.rc_context(RC):
        fig = _new_figure(side + 0.2, side)
        ax = fig.add_subplot()
        colormap = matplotlib.colormaps[cmap]
        small = 8.5 if n <= 6 else 7 if n <= 9 else 6
        for i, row in enumerate(cells):
            own = row_scales[i] if row_scales else None
            sc, lo, hi, f = own if own is not None else (scale, vmin, vmax, fmt)
            for j, c in enumerate(row):
                if c.kind == "value":
                    v = c.value * sc
                    rgba = colormap(min(max((v - lo) / (hi - lo), 0.0), 1.0) if hi > lo else 0.5)
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=rgba,
                                           edgecolor="none"))
                    dark = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] < 0.5
                    ax.text(j, i, f(v), ha="center", va="center", fontsize=small + 0.5,
                            color="white" if dark else "#111827",
                            fontweight="bold" if c.over else "normal")
                    if c.over:
                        ax.add_patch(Rectangle((j - 0.44, i - 0.44), 0.88, 0.88, fill=False,
                                               edgecolor="#111827", linewidth=1.6))
                elif c.kind == "skipped":
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="#e5e7eb",
                                           edgecolor="#9ca3af", hatch="////", linewidth=0))
                    ax.text(j, i, "skip", ha="center", va="center", fontsize=small,
                            color="#374151", style="italic",
                            bbox=dict(boxstyle="round,pad=0.15", fc="#f9fafb", ec="none"))
                elif c.kind == "missing":
                    ax.text(j, i, "n/a", ha="center", va="center", fontsize=small, color="#9ca3af")
                elif c.kind == "mixed":
                    ax.text(j, i, "units", ha="center", va="center", fontsize=small,
                            color="#9ca3af", style="italic")
                else:
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="#f3f4f6",
                                           edgecolor="none"))
                    ax.text(j, i, "—", ha="center", va="center", fontsize=small, color="#9ca3af")
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_ylim(n - 0.5, -0.5)                     # first task on top, as in a table
        ax.set_aspect("equal")
        ax.set_xticks(range(n), tasks, rotation=40, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(n), row_labels or tasks)
        ax.set_xticks([x - 0.5 for x in range(1, n)], minor=True)
        ax.set_yticks([y - 0.5 for y in range(1, n)], minor=True)
        ax.grid(which="minor", color="white", linewidth=1.5)
        ax.tick_params(which="both", length=0)
        for side_ in ax.spines.values():
            side_.set_visible(False)
        ax.set_title(title)
    return to_svg(fig, uid)


# ----------------------------------------------------------------------------- scatters

def scatter(points: list[dict], xkey: str, xlabel: str, uid: str,
            reference: float | None = None,
            ylabel: str = "mean test accuracy over tasks (%)") -> str:
    """Mean test accuracy over tasks (or the score `ylabel` names) against size or cost, one
    point per method with the spread over seeds as a vertical error bar.
    points: {name, acc (the y value), err, <xkey>, hollow}."""
    matplotlib, _, _ = _mpl()
    from matplotlib.ticker import FuncFormatter

    pts = [p for p in points if p.get(xkey) and p.get("acc") is not None]
    with matplotlib.rc_context(RC):
        fig = _new_figure(5.4, 3.7)
        ax = fig.add_subplot()
        if reference is not None:
            ax.axhline(reference, color="#9ca3af", linestyle="--", linewidth=1, zorder=0)
        for p in pts:
            color = p["color"]
            ax.errorbar(p[xkey], p["acc"], yerr=p["err"] or None, fmt="o", markersize=7,
                        color=color, ecolor=color, elinewidth=1.3, capsize=4,
                        markerfacecolor="white" if p.get("hollow") else color,
                        markeredgewidth=1.6, zorder=3)
        xs = [p[xkey] for p in pts]
        if xs and max(xs) / max(min(xs), 1) > 6:
            ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(_si))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, color="#e5e7eb", linewidth=0.8)
        ax.set_axisbelow(True)
        _pad_limits(ax, pts, xkey)
        _label_points(ax, fig, pts, xkey)
    return to_svg(fig, uid)


def _si(v: float, _pos=None) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= div:
            x = v / div
            return f"{x:.0f}{unit}" if x >= 10 or x == int(x) else f"{x:.1f}{unit}"
    return f"{v:.0f}"


def _pad_limits(ax, pts, xkey) -> None:
    if not pts:
        return
    lo = min(p["acc"] - (p["err"] or 0) for p in pts)
    hi = max(p["acc"] + (p["err"] or 0) for p in pts)
    ref = [line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"]
    lo, hi = min([lo] + ref), max([hi] + ref)
    pad = max(0.6, 0.12 * (hi - lo))
    ax.set_ylim(lo - pad, hi + pad)
    xs = [p[xkey] for p in pts]
    if ax.get_xscale() == "log":
        ax.set_xlim(min(xs) / 1.35, max(xs) * 1.6)
    else:
        span = max(xs) - min(xs) or max(xs) * 0.5
        ax.set_xlim(max(0, min(xs) - 0.12 * span), max(xs) + 0.3 * span)


def _label_points(ax, fig, pts, xkey) -> None:
    """Method names to the right of the points, nudged apart vertically when they collide."""
    if not pts:
        return
    fig.canvas.draw()
    to_px = ax.transData.transform
    placed = []                                    # (x, y) in pixels of the labels placed
    for p in sorted(pts, key=lambda q: -q["acc"]):
        x, y = to_px((p[xkey], p["acc"]))
        dy = 0.0
        for _ in range(20):
            if all(abs(x - px) > 70 or abs(y + dy - py) > 11 for px, py in placed):
                break
            dy -= 11
        placed.append((x, y + dy))
        ax.annotate(p["name"], (p[xkey], p["acc"]), xytext=(8, 5 + dy * 72 / fig.dpi),
                    textcoords="offset points", fontsize=8.5, color=p["color"],
                    fontweight="bold" if p["name"] == "hierarchical" else "normal")


def seed_spread(per_seed: list[dict], tasks: list[str], transform=None) -> float:
    """Sample std over seeds of the mean accuracy over tasks (0 for one seed); `transform`
    (task, value) -> score maps each seed's primary value first (e.g. EER -> 1 − EER)."""
    f = transform or (lambda t, v: v)
    means = [100 * sum(f(t, s[t]) for t in tasks) / len(tasks) for s in per_seed
             if all(t in s for t in tasks)]
    if len(means) < 2:
        return 0.0
    mu = sum(means) / len(means)
    return math.sqrt(sum((m - mu) ** 2 for m in means) / (len(means) - 1))


def null_strip(values: list[float], searched: float, uid: str,
               xlabel: str = "mean drop vs independent (pts)") -> str:
    """The random trees' mean drops as a strip of points (lower is better), the searched tree
    as a marked line: where it falls in the null distribution."""
    matplotlib, _, _ = _mpl()
    with matplotlib.rc_context(RC):
        fig = _new_figure(5.4, 1.9)
        ax = fig.add_subplot()
        jitter = [((i * 0.618) % 1.0 - 0.5) * 0.5 for i in range(len(values))]
        ax.scatter(values, jitter, s=22, color="#9ca3af", edgecolor="#4b5563", linewidth=0.6,
                   zorder=2, label="random trees, same size")
        ax.axvline(searched, color="#2563eb", linewidth=2, zorder=3, label="searched tree")
        ax.set_ylim(-0.6, 0.6)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_xlabel(xlabel)
        ax.grid(True, axis="x", color="#e5e7eb", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.legend(loc="upper right", fontsize=8, frameon=False, ncol=2)
    return to_svg(fig, uid)


# ----------------------------------------------------------------------------- diagnostics

CONFUSION_CMAP = "Blues"


def confusion_heatmap(classes: list[str], matrix: list[list[int]], title: str, uid: str) -> str:
    """A confusion matrix (rows: true class, columns: predicted), each cell coloured by its
    share of the row, the class's recall on the diagonal, and annotated with that share in %
    (up to 14 classes: more would not fit); rows without clips are grey."""
    matplotlib, _, _ = _mpl()
    from matplotlib.patches import Rectangle

    n = len(classes)
    side = min(0.42 * n + 1.6, 9.0)
    colormap = matplotlib.colormaps[CONFUSION_CMAP]
    with matplotlib.rc_context(RC):
        fig = _new_figure(side + 0.4, side)
        ax = fig.add_subplot()
        small = 8 if n <= 8 else 6.5 if n <= 14 else None
        for i, row in enumerate(matrix):
            total = sum(row)
            for j, count in enumerate(row):
                if not total:
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="#f3f4f6",
                                           edgecolor="none"))
                    continue
                share = count / total
                rgba = colormap(share)
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=rgba, edgecolor="none"))
                if small and count:
                    dark = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] < 0.5
                    ax.text(j, i, f"{100 * share:.0f}", ha="center", va="center", fontsize=small,
                            color="white" if dark else "#111827",
                            fontweight="bold" if i == j else "normal")
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_ylim(n - 0.5, -0.5)
        ax.set_aspect("equal")
        ticks = 7.5 if n <= 14 else 6
        ax.set_xticks(range(n), classes, rotation=40, ha="right", rotation_mode="anchor",
                      fontsize=ticks)
        ax.set_yticks(range(n), classes, fontsize=ticks)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.tick_params(which="both", length=0)
        for side_ in ax.spines.values():
            side_.set_visible(False)
        ax.set_title(title)
    return to_svg(fig, uid)


def learning_curves(runs: list[dict], title: str, uid: str,
                    score_label: str = "validation score") -> str:
    """Training loss and validation score per epoch, one line per training (a seed), the
    epoch whose weights were kept marked with a dot. runs: {label, history: [{epoch, loss,
    score}], best_epoch}."""
    matplotlib, _, _ = _mpl()
    from matplotlib.ticker import MaxNLocator

    with matplotlib.rc_context(RC):
        fig = _new_figure(7.2, 2.9)
        loss_ax, score_ax = fig.subplots(1, 2)
        for k, run in enumerate(runs):
            color = PALETTE[k % len(PALETTE)]
            h = run["history"]
            epochs = [e["epoch"] for e in h]
            for ax, key in ((loss_ax, "loss"), (score_ax, "score")):
                ax.plot(epochs, [e[key] for e in h], color=color, linewidth=1.4,
                        label=run["label"])
                best = [e for e in h if e["epoch"] == run.get("best_epoch")]
                if best:
                    ax.plot([best[0]["epoch"]], [best[0][key]], "o", color=color, markersize=5,
                            markeredgecolor="white", zorder=3)
        loss_ax.set_ylabel("training loss")
        score_ax.set_ylabel(score_label)
        for ax in (loss_ax, score_ax):
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(True, color="#e5e7eb", linewidth=0.8)
            ax.set_axisbelow(True)
        if len(runs) > 1:
            score_ax.legend(loc="lower right", fontsize=7.5, frameon=False)
        fig.suptitle(title, fontsize=10, fontweight="bold")
    return to_svg(fig, uid)
