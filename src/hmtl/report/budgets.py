"""The report's section on what one sweep says beyond the tolerance's tree: the trees for
parameter budgets (predicted and measured drops, the Pareto front), how well the predicted drop
ranks the trees that were trained, and how stable the search is over fresh seeds."""

from __future__ import annotations

from html import escape

from . import plots
from .format import num, over_seeds, pm, section, table
from .load import RunInfo
from .metrics import fixed

BUDGET_COLOR = "#7c3aed"


def _tree_text(tree: list) -> str:
    """The deepest partition, a compact hint of the tree: "a+b / c"."""
    return " / ".join("+".join(g) for g in tree[-1]) if tree else "—"


def _versus(c: dict | None) -> str:
    """A paired comparison in a cell: the difference, its interval, and whether it is shown."""
    if not c:
        return "—"
    text = (f"{100 * c['estimate']:+.1f} [{100 * c['low']:+.1f}, {100 * c['high']:+.1f}]")
    return text + ("" if c.get("shown") else ' <span class="muted">no difference shown</span>')


def structure_verdict(s: dict) -> str:
    """Does tree structure matter at this size, for this data? In words, for the user."""
    if s.get("matters") is None:
        return ("With one seed there is no training noise to weigh the random trees' spread "
                "against: whether structure matters at this size cannot be said (run more seeds).")
    numbers = (f"spread between trees {100 * s['spread']:.1f} pts, between seeds of one tree "
               f"{100 * s['seed_noise']:.1f} pts; ANOVA p = {s['p']:.3f}")
    if s["matters"]:
        return f"<b>Tree structure matters at this size</b> for this data ({numbers})."
    return (f"<b>Tree structure does not matter measurably at this size</b> for this data "
            f"({numbers}): any tree of this size does as well as another, so the cheapest "
            f"choice will do.")


def _structure_cell(s: dict | None) -> str:
    if not s or s.get("matters") is None:
        return "—"
    p = "&lt; 0.001" if s["p"] < 0.001 else f"= {s['p']:.3f}"
    return f"{'matters' if s['matters'] else 'not shown'} (p {p})"


def per_split(info: RunInfo) -> str:
    """A pooled run's table pools the splits' seeds; what only one split can say (its searched
    tree's rank among its own random trees, whether structure matters, how well the predictor
    ranked its trees) is read from each split's folder and given here, one row per split."""
    rows, good, drawn = [], 0, 0
    for entry, res in info.split_runs:
        methods = res["methods"]
        tree = (methods.get("hierarchical") or {}).get("tree") or entry.get("tree") or []
        cmp = (methods.get("hierarchical") or {}).get("vs_independent") or {}
        null = methods.get("random_tree") or {}
        s = null.get("searched")
        if s:
            n = round(s["at_least_as_good"] * s["trees"])
            good, drawn = good + n, drawn + s["trees"]
            rank = f"{n} of {s['trees']} (beats {100 * s['percentile']:.0f} %)"
        else:
            rank = "—"
        rho = (res.get("predictor") or {}).get("spearman")
        budget = (res.get("budgets") or [{}])[0]
        versus = ((budget.get("comparisons") or {}).get("methods") or {}).get("random_tree") or {}
        rows.append([f"{entry.get('split', '?')} (seed {entry.get('split_seed', '?')})",
                     escape(_tree_text(tree)),
                     num((methods.get("hierarchical") or {}).get("params")),
                     pm(cmp.get("mean_drop"), cmp.get("mean_drop_std")), rank,
                     _structure_cell(null.get("structure")),
                     "—" if rho is None else f"{rho:+.2f}",
                     num(budget.get("params")), _versus(versus.get("mean_drop"))])
    if not rows:
        return ""
    head = ["split", "searched tree's deepest groups", "params", "mean drop (pts)",
            "random trees at least as good", "structure (ANOVA)", "predictor Spearman",
            "budget tree params", "random_tree − budget tree (pts, 95 % CI)"]
    total = (f" In all, {good} of {drawn} random trees are at least as good as their split's "
             f"searched tree." if drawn else "")
    return (f"<p>Each split on its own ({len(rows)} of {len(info.results.get('splits') or [])} "
            f"split folders found): every split searched its own tree and drew its own random "
            f"trees of that tree's size.{total}</p>" + table(head, rows, "per-split", text=(0, 1)))


def budgets_section(info: RunInfo) -> str:
    budgets = info.results.get("budgets") or []
    predictor = info.results.get("predictor") or {}
    stability = info.results.get("stability")
    null = (info.methods.get("random_tree") or {})
    if not budgets and not predictor.get("trees") and not stability and not null.get("searched") \
            and not info.split_runs:
        return ""
    parts = [per_split(info)]
    if null.get("searched") and null.get("trees"):
        s = null["searched"]
        low, high = s["at_least_as_good_interval"]
        size = ("of exactly its size" if null.get("same_size") else "of about its size")
        parts.append(
            f"<p>The searched tree among {s['trees']} random trees {size} ({escape(null.get('draw', ''))}), "
            f"{over_seeds(len(info.seeds))} each: it beats {100 * s['percentile']:.0f} % of them; "
            f"{100 * s['at_least_as_good']:.0f} % of random trees are at least as good "
            f"(95 % interval {100 * low:.0f}-{100 * high:.0f} %).</p>")
        svg = plots.null_strip([100 * t["mean_drop"] for t in null["trees"]],
                               100 * s["mean_drop"], "null-strip")
        parts.append(f'<figure class="panel">{svg}</figure>')
        parts.append(f"<p>{structure_verdict(null.get('structure') or {})}</p>")
    if budgets:
        rows = []
        versus = [n for n in ("random_tree", "flat_matched", "flat")
                  if any(n in ((b.get("comparisons") or {}).get("methods") or {}) for b in budgets)]
        for b in budgets:
            cmp = b["method"].get("vs_independent") or {}
            found = (b.get("comparisons") or {}).get("methods") or {}
            rows.append([num(b["budget"]), num(b["params"]),
                         f"{100 * cmp['param_reduction']:.1f} %" if cmp else "—",
                         fixed(100 * b["predicted_drop"], 2),
                         pm(cmp.get("mean_drop"), cmp.get("mean_drop_std")),
                         fixed(100 * cmp["max_drop"]) if cmp else "—",
                         escape(_tree_text(b["tree"]))] +
                        [_versus((found.get(n) or {}).get("mean_drop")) for n in versus])
        head = ["budget (params)", "params", "reduction", "predicted drop (pts)",
                "measured mean drop (pts)", "max drop (pts)", "deepest groups"] + \
            [f"{escape(n)} − this tree (pts, 95 % CI)" for n in versus]
        parts.append(table(head, rows, "budgets"))
        for b in budgets:
            found = b.get("candidates") or []
            if found:
                mine = next(c for c in found if c["tree"] == b["tree"])
                versus = ("the predicted tree itself" if mine["proposed"] else
                          f"against {fixed(100 * found[0]['validation_drop'], 2)} pts for the "
                          f"predicted tree")
                parts.append(
                    f"<p>Budget {num(b['budget'])}: its tree was chosen on validation among "
                    f"{len(found)} trees of its size (the predicted one and {len(found) - 1} "
                    f"others drawn at random, or all others when there are no more), trained on "
                    f"seeds no compared model uses: validation drop "
                    f"{fixed(100 * mine['validation_drop'], 2)} pts, {versus}.</p>")
        points = [{"name": f"{b['params'] / 1e3:.0f}k", "acc": -100 * b["method"]["vs_independent"]["mean_drop"],
                   "err": 100 * b["method"]["vs_independent"]["mean_drop_std"],
                   "params": b["params"], "macs": b["macs"], "color": BUDGET_COLOR}
                  for b in budgets if b["method"].get("vs_independent")]
        for name in ("independent", "flat", "hierarchical"):
            cmp = (info.methods.get(name) or {}).get("vs_independent")
            if cmp:
                points.append({"name": name, "acc": -100 * cmp["mean_drop"],
                               "err": 100 * cmp.get("mean_drop_std", 0),
                               "params": info.methods[name]["params"],
                               "macs": info.methods[name].get("macs"), "color": "#475569"})
        if len(points) >= 2:
            svg = plots.scatter(points, "params", "trainable parameters", "sc-budgets", 0.0,
                                ylabel="minus mean drop vs independent (pts)")
            parts.append(f'<figure class="panel">{svg}</figure>')
    if predictor.get("trees"):
        rho = predictor.get("spearman")
        parts.append(f"<p>The predicted drop against the measured one, over the "
                     f"{len(predictor['trees'])} distinct trees trained in this run: Spearman's "
                     f"rank correlation {'—' if rho is None else f'{rho:+.2f}'}"
                     f"{' (fewer than 3 trees: not computed)' if rho is None else ''}"
                     + "".join(f"; among the {g['trees']} trees of {g['params']:,} params: "
                               + ("—" if g["spearman"] is None else f"{g['spearman']:+.2f}")
                               for g in predictor.get("same_size") or [])
                     + ".</p>")
    if stability:
        n = stability["repeats"]
        shaky = [p for p, a in stability["pair_agreement"].items() if a < 1]
        parts.append(f"<p>Stability: stages 1-2 repeated {n} time{'s' if n != 1 else ''} with "
                     f"fresh seeds gave the same compatibility depths in "
                     f"{100 * stability['same_depths']:.0f} % and the same tree in "
                     f"{100 * stability['same_tree']:.0f} % of the repeats"
                     + (f"; pairs whose depth changed: {escape(', '.join(shaky))}" if shaky else "")
                     + ".</p>")
    intro = ("One stage-2 sweep predicts every tree's drop from the measured per-depth pair drops; "
             "for each parameter budget the tree of lowest predicted drop was trained "
             f"{over_seeds(len(info.seeds))} and measured on the test split."
             + (" Over several splits each split chose its own tree for a budget: the table "
                "gives their mean size and pools their seeds (each split's own tree is in its "
                "folder's report)." if any(b.get("splits") for b in budgets) else ""))
    return section("budgets", "What the search is worth: random trees, budgets, stability",
                   "".join(parts), intro)
