"""The sections of report.html that compare the methods: the table of results.md, the accuracy
against size and cost scatters, what the search cost, and the run's notes."""

from __future__ import annotations

from html import escape

from . import plots
from .load import RunInfo
from .sections import (acc, duration, fixed, mega, method_colors, num, over_seeds, pm, section,
                       table, tolerance)


def _drop_cell(value, std, tol: float) -> str:
    cls = "bad" if value > tol + 1e-12 else "good" if value < -1e-12 else ""
    text = fixed(100 * value) + (f'<span class="pm stacked"> ± {100 * std:.1f}</span>'
                                   if std is not None else "")
    return f'<span class="{cls}">{text}</span>' if cls else text


def methods_section(info: RunInfo) -> str:
    tasks, methods = info.tasks, info.methods
    tol = tolerance(info)
    pruned = any(e.get("nonzero_params", e.get("params")) != e.get("params")
                 for e in methods.values())
    def unit(label: str, u: str) -> str:
        return f'{label}<br><span class="unit">{u}</span>'
    deployed = any("latency_ms" in e or "onnx_bytes" in e for e in methods.values())
    head = ["method", "params"] + (["non-zero"] if pruned else []) + ["reduction", "MACs"] + \
           ([unit("latency", "ms"), unit("ONNX", "kB")] if deployed else []) + \
           [unit(escape(t), "acc %") for t in tasks] + \
           [unit("mean drop", "pts"), unit("max drop", "pts"), unit("Δm", "%")]
    colors = method_colors(info)
    rows, row_cls = [], []
    for name, e in methods.items():
        cmp = e.get("vs_independent") or {}
        row = [f'<span class="method"><span class="swatch" style="background:{colors[name]}">'
               f'</span>{escape(name)}</span>',
               num(e.get("params"))]
        if pruned:
            row.append(num(e.get("nonzero_params", e.get("params"))))
        row += [f"{100 * cmp['param_reduction']:.1f} %" if cmp else "—", mega(e.get("macs"))]
        if deployed:  # from `hmtl export --latency`: onnxruntime, batch 1, one thread
            row += [f"{e['latency_ms']:.3f}" if "latency_ms" in e else "—",
                    f"{e['onnx_bytes'] / 1000:.0f}" if "onnx_bytes" in e else "—"]
        for t in tasks:
            m = (e.get("metrics") or {}).get(t, {})
            row.append(pm(m.get("accuracy"), m.get("accuracy_std"), stacked=True))
        if cmp:
            row += [_drop_cell(cmp["mean_drop"], cmp.get("mean_drop_std"), tol),
                    _drop_cell(cmp["max_drop"], None, tol), fixed(cmp["delta_m"], 2, sign=True)]
        else:
            row += ["—", "—", "—"]
        rows.append(row)
        row_cls.append("highlight" if name == "hierarchical" else "")
    n = len(info.seeds)
    intro = (f"Test accuracy, mean ± std {over_seeds(n)}. Drops are against "
             f"the independent models in accuracy points (positive = worse; red above the "
             f"{100 * tol:.0f}-point tolerance, green when better). Reduction is relative to the "
             "independent models' parameters; MACs are dense multiply-accumulates per clip; Δm is "
             "the mean relative change over tasks." +
             (" Latency: onnxruntime on the CPU, batch 1, one thread, median (hmtl export "
              "--latency)." if deployed else ""))
    body = table(head, rows, "methods", row_cls)
    f1_rows = [[escape(name)] + [pm((e.get("metrics") or {}).get(t, {}).get("macro_f1"),
                                    (e.get("metrics") or {}).get(t, {}).get("macro_f1_std"))
                                 for t in tasks] for name, e in methods.items()]
    body += ('<details><summary>Macro-F1 per task</summary>' +
             table(["method"] + [escape(t) for t in tasks], f1_rows) + "</details>")
    return section("methods", "Methods compared", body, intro)


def tradeoff_section(info: RunInfo) -> str:
    tasks, colors = info.tasks, method_colors(info)
    points = []
    for name, e in info.methods.items():
        accs = [acc(e, t) for t in tasks]
        if any(a is None for a in accs):
            continue
        per_seed = e.get("per_seed") or []
        err = plots.seed_spread(per_seed, tasks) if per_seed else \
            100 * sum(e["metrics"][t].get("accuracy_std", 0) for t in tasks) / len(tasks)
        points.append({"name": name, "acc": 100 * sum(accs) / len(accs), "err": err,
                       "params": e.get("nonzero_params", e.get("params")), "macs": e.get("macs"),
                       "hollow": e.get("nonzero_params", e.get("params")) != e.get("params"),
                       "color": colors[name]})
    if len(points) < 2:
        return section("tradeoff", "Accuracy against size and compute",
                       '<p class="empty">Only one method in this run: nothing to compare yet.</p>')
    ref = next((p["acc"] for p in points if p["name"] == "independent"), None)
    a = plots.scatter(points, "params", "trainable parameters (non-zero)", "sc-params", ref)
    b = plots.scatter(points, "macs", "dense MACs per clip", "sc-macs", ref)
    seeds = len(info.seeds)
    spread = ("Error bars: standard deviation over seeds of the mean accuracy over tasks."
              if seeds > 1 else "One seed: no spread to show.")
    pruned = (" Hollow markers are pruned models, placed at their non-zero parameter count "
              "(they save no dense compute)." if any(p["hollow"] for p in points) else "")
    intro = ("Each method is one point: mean test accuracy over tasks against its size and its "
             f"compute. {spread}{pruned} The dashed line is the independent models' accuracy.")
    return section("tradeoff", "Accuracy against size and compute",
                   f'<div class="grid two"><figure class="panel">{a}</figure>'
                   f'<figure class="panel">{b}</figure></div>', intro)


def cost_section(info: RunInfo) -> str:
    s = info.results.get("search") or {}
    run = info.results.get("run") or {}
    compat = info.compatibility
    rows = []
    if s:
        rows.append(["trainings for the search (stages 1–2, all seeds)", num(s.get("trainings"))])
        if "skipped" in s:
            early = s.get("early_exit")
            rows.append(["pair trainings skipped" + (" by early exit" if early else ""),
                         num(s.get("skipped"))])
        rows.append(["training time of the search", duration(s.get("seconds"))])
        rows.append(["device", escape(str(s.get("device", "?")))])
    if compat:
        trained = sum(len(c.get("drops") or {}) for c in compat)
        skipped = sum(len(c.get("skipped") or {}) for c in compat)
        rows.append(["pairs × depths measured / skipped", f"{trained} / {skipped}"])
    if run:
        rows.append(["wall-clock time of the last <code>hmtl run</code>",
                     duration(run.get("wall_seconds"))])
        if "trained_now" in run:
            rows.append(["trained by it / reused from earlier runs",
                         f"{num(run.get('trained_now'))} / {num(run.get('reused'))}"])
    if info.records:
        total = sum(r.get("seconds", 0) for r in info.records)
        rows.append(["all trainings in runs/ (search, final model, baselines)",
                     f"{len(info.records)}, {duration(total)}"])
    if not rows:
        return section("cost", "Search cost",
                       '<p class="empty">results.json records no search cost.</p>')
    return section("cost", "Search cost", table(None, rows, "kv"))


def notes_section(info: RunInfo) -> str:
    notes = [escape(str(n)) for n in info.hierarchy.get("notes") or []]
    stage = info.hierarchy.get("stage")
    if stage and stage != "all":
        notes.append(f"The run stopped after <b>{escape(stage)}</b> (<code>--until {escape(stage)}"
                     "</code>): later stages and methods are not in this report.")
    if "independent" not in info.methods:
        notes.append("No independent method: drops and reductions cannot be computed.")
    if not notes:
        return section("notes", "Notes", '<p class="muted">No notes for this run.</p>')
    return section("notes", "Notes", "<ul>" + "".join(f"<li>{n}</li>" for n in notes) + "</ul>")
