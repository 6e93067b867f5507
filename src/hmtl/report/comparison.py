"""The sections of report.html that compare the methods: the table of results.md, the accuracy
against size and cost scatters, what the search cost, and the run's notes."""

from __future__ import annotations

from html import escape

from . import plots
from .load import RunInfo
from .metrics import score
from .format import (drop_kinds, duration, mega, method_colors, num, over_seeds, pm, pm_metric,
                     regression_tasks, section, table, tolerance, value)
from .metrics import fixed


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
    metrics = info.metrics
    own = regression_tasks(info)         # drops in the label's unit: a column each, not pooled
    # "f0 MAE ↓", "voice EER % ↓": lower is better for those two
    head = ["method", "params"] + (["non-zero"] if pruned else []) + ["reduction", "MACs"] + \
           ([unit("latency", "ms"), unit("ONNX", "kB")] if deployed else []) + \
           [unit(escape(t), metrics[t].column + ("" if metrics[t].higher_is_better else " ↓"))
            for t in tasks] + \
           [unit("mean drop", "pts"), unit("max drop", "pts")] + \
           [unit(f"{escape(t)} drop", "MAE") for t in own] + [unit("Δm", "%")]
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
            row.append(pm_metric(e, t, metrics[t].name, stacked=True))
        if cmp:
            row += [_drop_cell(cmp["mean_drop"], cmp.get("mean_drop_std"), tol),
                    _drop_cell(cmp["max_drop"], None, tol)]
            for t in own:
                d = (cmp.get("drops") or {}).get(t)
                row.append(_own_drop_cell(d, _task_tolerance(info, t)) if d is not None else "—")
            row.append(fixed(cmp["delta_m"], 2, sign=True))
        else:
            row += ["—", "—"] + ["—"] * len(own) + ["—"]
        rows.append(row)
        row_cls.append("highlight" if name == "hierarchical" else "")
    n = len(info.seeds)
    if info.mixed:
        return _mixed_methods_section(info, head, rows, row_cls, tol, own, deployed)
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


def _task_tolerance(info: RunInfo, task: str) -> float | None:
    tol = [c["tolerance"][task] for c in info.compatibility
           if isinstance((c.get("tolerance") or {}).get(task), (int, float))]
    return float(tol[0]) if tol else None


def _own_drop_cell(value: float, tol: float | None) -> str:
    """A regression task's drop (MAE, in the label's unit; positive = worse)."""
    cls = "bad" if tol is not None and value > tol + 1e-12 else "good" if value < -1e-12 else ""
    text = fixed(value, 2)
    return f'<span class="{cls}">{text}</span>' if cls else text


def _mixed_methods_section(info: RunInfo, head, rows, row_cls, tol, own, deployed) -> str:
    tasks, methods = info.tasks, info.methods
    metrics = info.metrics
    kinds = drop_kinds(info)
    n = len(info.seeds)
    intro = (f"Test scores, mean ± std {over_seeds(n)}, each task in its primary metric: "
             "accuracy (classification) in %; EER (verification: equal error rate on trial "
             "pairs) in %, lower is better; MAE (regression: mean absolute error) in the label's "
             "own unit, lower is better (↓ marks those columns). Drops are against the "
             "independent models, positive = worse whatever the metric's direction. Mean and max "
             "drop pool the "
             f"tasks measured in points ({escape(kinds)}; red above the {100 * tol:.0f}-point "
             "tolerance, green when better)" +
             (f"; a regression task's drop is in its own column, in the label's unit (red above "
              f"its tolerance)" if own else "") +
             ". Reduction is relative to the independent models' parameters; MACs are dense "
             "multiply-accumulates per clip; Δm is the mean relative change over all tasks, "
             "positive = better." +
             (" Latency: onnxruntime on the CPU, batch 1, one thread, median (hmtl export "
              "--latency)." if deployed else ""))
    body = table(head, rows, "methods", row_cls)
    second = {"accuracy": ("macro_f1", "macro-F1 %"), "mae": ("pearson_r", "Pearson r")}
    extra = [(t, *second[metrics[t].name]) for t in tasks if metrics[t].name in second]
    if extra:
        rows2 = []
        for name, e in methods.items():
            row = [escape(name)]
            for t, key, _ in extra:
                std = (e.get("metrics") or {}).get(t, {}).get(f"{key}_std")
                row.append(pm(value(e, t, key), std, 100.0, 1) if key == "macro_f1"
                           else pm(value(e, t, key), std, 1.0, 2))
            rows2.append(row)
        body += ('<details><summary>Other metrics per task (macro-F1, Pearson r)</summary>' +
                 table(["method"] + [f'{escape(t)}<br><span class="unit">{u}</span>'
                                     for t, _, u in extra], rows2) + "</details>")
    return section("methods", "Methods compared", body, intro)


def tradeoff_section(info: RunInfo) -> str:
    if info.mixed:
        return _mixed_tradeoff(info)
    tasks, colors = info.tasks, method_colors(info)
    points = []
    for name, e in info.methods.items():
        accs = [value(e, t) for t in tasks]
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


def _mixed_tradeoff(info: RunInfo) -> str:
    """Mixed task types: y is the mean over the tasks measured in fractions of a higher-is-better
    score (accuracy; 1 − EER), regression tasks left out (an MAE has no common scale with
    them). With no such task, y is Δm against the independent models (every task)."""
    tasks, colors, metrics = info.tasks, method_colors(info), info.metrics
    pooled = [t for t in tasks if metrics[t].fraction]
    left_out = [t for t in tasks if t not in pooled]
    title = "Score against size and compute"
    points = []
    for name, e in info.methods.items():
        if pooled:
            scores = [score(metrics[t].name, value(e, t, metrics[t].name)) for t in pooled]
            if any(v is None for v in scores):
                continue
            y = 100 * sum(scores) / len(scores)
            per_seed = e.get("per_seed") or []
            if per_seed:
                err = plots.seed_spread(per_seed, pooled,
                                        lambda t, v: score(metrics[t].name, v))
            else:
                err = 100 * sum((e["metrics"][t].get(f"{metrics[t].name}_std") or 0)
                                for t in pooled) / len(pooled)
        else:
            cmp = e.get("vs_independent") or {}
            if not isinstance(cmp.get("delta_m"), (int, float)):
                continue
            y, err = cmp["delta_m"], 0.0
        points.append({"name": name, "acc": y, "err": err,
                       "params": e.get("nonzero_params", e.get("params")), "macs": e.get("macs"),
                       "hollow": e.get("nonzero_params", e.get("params")) != e.get("params"),
                       "color": colors[name]})
    if len(points) < 2:
        return section("tradeoff", title,
                       '<p class="empty">Only one method in this run: nothing to compare yet.</p>')
    if pooled:
        parts = (["accuracy"] if any(metrics[t].name == "accuracy" for t in pooled) else []) + \
                (["1 − EER"] if any(metrics[t].name == "eer" for t in pooled) else [])
        ylabel = f"mean test {' and '.join(parts)} over tasks (%)"
        what = (f"the mean over tasks of a higher-is-better test score: accuracy for a "
                f"classification, 1 − EER for a verification ({', '.join(pooled)})")
        if left_out:
            what += (f"; regression tasks ({', '.join(left_out)}) are left out of the mean: an "
                     "MAE in the label's unit has no common scale with them (the methods table "
                     "shows it)")
        ref = next((p["acc"] for p in points if p["name"] == "independent"), None)
        refline = " The dashed line is the independent models' score."
        spread = ("Error bars: standard deviation over seeds of that mean."
                  if len(info.seeds) > 1 else "One seed: no spread to show.")
    else:
        ylabel = "Δm against independent (%)"
        what = ("Δm against the independent models: the mean relative change of every task's "
                "primary metric, positive = better (all tasks are regressions)")
        ref, refline, spread = 0.0, " The dashed line is the independent models (Δm = 0).", ""
    a = plots.scatter(points, "params", "trainable parameters (non-zero)", "sc-params", ref,
                      ylabel=ylabel)
    b = plots.scatter(points, "macs", "dense MACs per clip", "sc-macs", ref, ylabel=ylabel)
    pruned = (" Hollow markers are pruned models, placed at their non-zero parameter count "
              "(they save no dense compute)." if any(p["hollow"] for p in points) else "")
    intro = (f"Each method is one point against its size and its compute; y is {escape(what)}. "
             f"{spread}{pruned}{refline}")
    return section("tradeoff", title,
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
            early, screened = s.get("early_exit"), s.get("prescreened") or 0
            rows.append(["pair trainings skipped" + (" by early exit" if early else ""),
                         num(s.get("skipped") - screened)])
            if screened or s.get("prescreen"):
                rows.append([f"pair trainings skipped by RSA pre-screening (keeping "
                             f"{s.get('prescreen')} of the pairs per depth)", num(screened)])
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
        threads = sorted({r["threads"] for r in info.records if r.get("threads") is not None})
        if threads:
            rows.append(["torch threads per training", ", ".join(map(str, threads)) + (
                " — mixed: on CPU each thread count rounds differently, so these trainings "
                "are not what one thread count alone would give (pass the same --threads "
                "when resuming with another executor)" if len(threads) > 1 else "")])
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
