"""report.html: one self-contained page per run (inline CSS and SVG, no script, nothing fetched
at view time), built from results.json plus whatever else the run folder holds."""

from __future__ import annotations

from datetime import datetime
from html import escape
from pathlib import Path

from ..utils.io import atomic_write_text
from .budgets import budgets_section
from .comparison import cost_section, methods_section, notes_section, tradeoff_section
from .device import device_section
from .diagnostics import curves_section, per_class_section
from .load import RunInfo, load_run
from .sections import data_section, stage1_section, summary, tree_section
from .stage2 import synergy_section

NAV = [("data", "Data"), ("stage1", "Stage 1"), ("synergy", "Synergy"), ("tree", "Tree"),
       ("methods", "Methods"), ("diagnostics", "Per class"), ("curves", "Curves"),
       ("tradeoff", "Trade-off"), ("budgets", "Budgets"), ("device", "Device"),
       ("cost", "Search cost"), ("notes", "Notes")]


def write_report(run_dir: str | Path) -> Path:
    """(Re)write RUN_DIR/report.html from RUN_DIR/results.json; returns its path. Trains
    nothing. Raises HmtlError when the folder or results.json is missing or unreadable."""
    return write_page(load_run(run_dir))


def write_page(info: RunInfo) -> Path:
    out = info.run_dir / "report.html"
    atomic_write_text(out, render(info))
    return out


def render(info: RunInfo) -> str:
    from .. import __version__

    body = [summary(info), data_section(info), stage1_section(info), synergy_section(info),
            tree_section(info), methods_section(info), per_class_section(info),
            curves_section(info), tradeoff_section(info),
            budgets_section(info), device_section(info), cost_section(info),
            notes_section(info)]
    present = {a for a, _ in NAV if f'<section id="{a}">' in "".join(body)}
    nav = "".join(f'<a href="#{a}">{t}</a>' for a, t in NAV if a in present)
    now = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    tasks = "".join(f'<span class="task pill">{escape(t)}</span>' for t in info.tasks)
    title = f"hmtl · {escape(info.name)}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="hmtl {__version__}">
<title>{title}</title>
<style>{CSS}</style>
</head>
<body>
<header>
  <div class="wrap">
    <div class="kicker">hierarchical multi-task run report</div>
    <h1>{escape(info.name)}</h1>
    <div class="facts">{" · ".join(_facts(info))}</div>
    <div class="tasks">{tasks}</div>
    <div class="path">{escape(str(info.run_dir.resolve()))}</div>
  </div>
  <nav><div class="wrap">{nav}</div></nav>
</header>
<main class="wrap">
{"".join(body)}
</main>
<footer class="wrap">Written by <code>hmtl report</code> {__version__} on {escape(now)} from
results.json{" and the run folder" if info.meta or info.records else ""}. Self-contained: no
scripts, no external resources.</footer>
</body>
</html>
"""


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def _facts(info: RunInfo) -> list[str]:
    """The header line: size of the run, how far it went, where and when it was trained."""
    facts = [_count(len(info.tasks), "task")]
    if info.seeds:
        facts.append(_count(len(info.seeds), "seed"))
    facts.append(_count(len(info.methods), "method"))
    stage = info.hierarchy.get("stage")
    if stage:
        facts.append("complete run" if stage == "all" else f"stopped after {escape(stage)}")
    device = (info.results.get("search") or {}).get("device")
    if device:
        facts.append(f"trained on {escape(str(device))}")
    if info.finished:
        what = "last training" if info.records else "results written"
        facts.append(f"{what} {info.finished.strftime('%Y-%m-%d %H:%M %Z')}")
    return facts


CSS = """
:root { --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #ffffff; --soft: #f8fafc;
        --accent: #2563eb; --bad: #b91c1c; --good: #047857;
        --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
        --mono: ui-monospace, Menlo, Consolas, monospace; }
* { box-sizing: border-box; }
html { scroll-behavior: smooth; scroll-padding-top: 56px; }
body { margin: 0; color: var(--fg); background: var(--bg); font: 15px/1.5 var(--sans); }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 28px; }

header { background: linear-gradient(180deg, #0f172a, #1e293b); color: #e2e8f0; }
header .wrap { padding-top: 26px; padding-bottom: 16px; }
.kicker { text-transform: uppercase; letter-spacing: .08em; font-size: 12px; color: #93c5fd; }
h1 { margin: 4px 0 6px; font-size: 28px; color: #fff; font-weight: 650; }
.facts { color: #cbd5e1; font-size: 14px; }
.path { color: #64748b; font-size: 12px; margin-top: 6px; font-family: var(--mono); }
.tasks { margin-top: 10px; display: flex; flex-wrap: wrap; gap: 6px; }
.pill { background: #1e3a8a; color: #dbeafe; border-radius: 999px; padding: 2px 10px;
        font-size: 13px; }
nav { position: sticky; top: 0; z-index: 10; background: #0f172a; border-top: 1px solid #334155; }
nav .wrap { display: flex; flex-wrap: wrap; gap: 2px; padding-top: 0; padding-bottom: 0; }
nav a { color: #cbd5e1; text-decoration: none; padding: 9px 12px; font-size: 14px; }
nav a:hover { color: #fff; background: #1e293b; }

section { padding: 26px 0 8px; border-bottom: 1px solid var(--line); }
h2 { font-size: 21px; margin: 0 0 8px; }
h2 a { color: inherit; text-decoration: none; }
h2 a:hover::after { content: " #"; color: var(--muted); }
h3 { font-size: 16px; margin: 22px 0 6px; }
p { margin: 6px 0 12px; max-width: 900px; }
p.intro { color: #374151; }
.muted { color: var(--muted); }
.empty { color: var(--muted); background: var(--soft); border: 1px dashed #cbd5e1;
         border-radius: 8px; padding: 14px 18px; }
code, pre { font-family: var(--mono); font-size: 13px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 8px;
      padding: 12px 16px; overflow-x: auto; line-height: 1.35; }
details { margin: 8px 0 14px; }
summary { cursor: pointer; color: var(--accent); font-size: 14px; }
ul { padding-left: 22px; }

.scroll { overflow-x: auto; margin: 8px 0 14px; }
table { border-collapse: collapse; font-size: 14px; min-width: 40%; }
th, td { padding: 6px 12px; border-bottom: 1px solid var(--line); text-align: left;
         vertical-align: top; }
th { background: var(--soft); font-weight: 600; font-size: 13px; color: #374151;
     white-space: nowrap; vertical-align: bottom; border-bottom: 2px solid #d1d5db; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:hover { background: #f9fafb; }
tr.highlight td { background: #eff6ff; font-weight: 600; }
tr.highlight .pm { font-weight: 400; }
table.methods th, table.methods td { padding: 6px 9px; }
table.kv td:first-child { color: #374151; }
.pm { color: var(--muted); font-size: 12.5px; }
.pm.stacked { display: block; font-size: 11.5px; line-height: 1.2; }
.unit { color: var(--muted); font-weight: 400; font-size: 11.5px; }
.bad { color: var(--bad); }
.good, .ok { color: var(--good); }
.method { white-space: nowrap; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 8px; }
.task { font-weight: 600; }
.chips { display: flex; flex-wrap: wrap; gap: 4px; }
.chip { background: #f1f5f9; border: 1px solid #e2e8f0; border-radius: 6px; padding: 0 7px;
        font-size: 12.5px; white-space: nowrap; }
.chip b { font-weight: 600; color: #334155; font-variant-numeric: tabular-nums; }
.groups { font-family: var(--mono); font-size: 12.5px; }

.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 14px;
         margin: 22px 0 6px; }
.card { border: 1px solid var(--line); border-top: 4px solid #94a3b8; border-radius: 10px;
        padding: 14px 18px; background: var(--soft); }
.card.hierarchical { border-top-color: #2563eb; }
.card.flat { border-top-color: #dc2626; }
.card.search { border-top-color: #475569; }
.card-title { text-transform: uppercase; letter-spacing: .06em; font-size: 12px;
              color: var(--muted); font-weight: 600; }
.card .big { font-size: 28px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .small { color: var(--muted); font-size: 13px; margin-top: -4px; }
.card dl { display: grid; grid-template-columns: auto auto; gap: 2px 12px; margin: 10px 0 0;
           font-size: 14px; }
.card dt { color: var(--muted); }
.card dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }

.grid { display: grid; gap: 10px 18px; align-items: start;
        grid-template-columns: repeat(auto-fill, minmax(min(330px, 100%), 1fr)); }
.grid.two { grid-template-columns: repeat(auto-fit, minmax(min(420px, 100%), 1fr)); }
figure.panel { margin: 0; padding: 8px; border: 1px solid var(--line); border-radius: 8px;
               background: #fff; text-align: center; }
svg.figure { width: 100%; height: auto; }
.legend { display: flex; flex-wrap: wrap; align-items: center; gap: 10px; font-size: 13px;
          margin: 6px 0 12px; }
.legend .bar { width: 220px; height: 12px; border-radius: 3px; border: 1px solid #d1d5db; }
.tag { font-size: 12px; padding: 0 6px; border-radius: 4px; border: 1px solid #d1d5db; }
.tag.skip { font-style: italic;
            background: repeating-linear-gradient(45deg, #e5e7eb 0 3px, #f9fafb 3px 6px); }
.tag.na { color: #9ca3af; }
.treebox { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; padding: 10px;
           margin: 8px 0 12px; }
.treebox svg { display: block; max-width: 100%; height: auto; }

footer { color: var(--muted); font-size: 12.5px; padding-top: 18px; padding-bottom: 30px; }
@media print {
  nav { display: none; }
  header { background: none; color: #000; }
  h1 { color: #000; }
  section { break-inside: avoid-page; }
}
"""
