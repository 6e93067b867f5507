"""The headline benchmark: where does the measured tree earn its cost? Every method, paired
statistics, on the real corpora of `../shared/data`, at several backbone widths (the capacity
axis: at a quarter of the widths tasks really compete for channels), and the section of
BENCHMARKS.md that reports it, with a Pareto figure per corpus.

    python benchmarks/bench.py                              # = make bench: RAVDESS ×0.25 and
                                                            #   ×0.5, digits3 ×0.5 (≤ 3 h)
    python benchmarks/bench.py --short                      # = make bench-short (≤ 45 min)
    python benchmarks/bench.py --corpora ravdess --widths 0.25 --seeds 3 --executor local:2
    python benchmarks/bench.py --corpora ravdess --widths 0.5 --splits 5   # pooled over 5 splits

Per corpus and width it writes the manifest(s) with the recipes when missing and runs `hmtl run
CONFIG --out runs/bench/CORPUS/wWIDTH model.widths=[…] search.budgets=[0.4]
search.budget_candidates=10 methods=[every method but LT4REC on digits3]
baselines.random_draws=10`. The run resumes (a finished training is never repeated), so a rerun
after an interruption costs only what is missing. Each width's results.json carries the paired evidence:
every method against the hierarchical one by seed and test clip (difference in mean drop, 95 %
interval, Holm-corrected p, verdict), the searched tree's rank among 10 random trees of exactly
its size, and the 60 %-smaller budget tree (chosen on validation among the predicted tree and 9
drawn of its size, one seed each that no compared model uses) with its own size-matched
baselines. The script then
rewrites the corpus' part of BENCHMARKS.md between its markers (the hand-written reading outside
them is kept) and draws benchmarks/figures/CORPUS.svg: mean drop against params and against MACs.

The goal (issue 17): at ≥ 60 % fewer params than the independent set, in the low-complexity
setting, mean drop ≤ 1 point, and better than the random trees of identical size with a paired
95 % interval that excludes 0."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from pareto import pareto_figure  # noqa: E402
from record import machine, marked, write_section  # noqa: E402

# corpus -> (config, the manifest the config reads, the commands that write it)
CORPORA = {
    "ravdess": ("configs/ravdess.yaml", "runs/manifests/ravdess.csv", [
        ["prepare", "ravdess", "{data}/ravdess", "--out", "runs/manifests/ravdess.csv"]]),
    "digits3": ("configs/digits3.yaml", "runs/manifests/digits3.csv", [
        ["prepare", "fsdd", "{data}/fsdd", "--out", "runs/manifests/fsdd.csv"],
        ["prepare", "audiomnist-az", "{data}/audiomnist_az", "--out",
         "runs/manifests/audiomnist-az.csv"],
        ["prepare", "arabic-sc", "{data}/arabic_sc", "--out", "runs/manifests/arabic-sc.csv"],
        ["prepare", "merge", "runs/manifests/fsdd.csv", "runs/manifests/audiomnist-az.csv",
         "runs/manifests/arabic-sc.csv", "--out", "runs/manifests/digits3.csv",
         "--add-column", "language=en,az,ar", "--drop", "split", "--drop", "keyword",
         "--drop", "round"]]),
    "digits": ("configs/digits.yaml", "runs/manifests/digits.csv", [
        ["prepare", "fsdd", "{data}/fsdd", "--out", "runs/manifests/fsdd.csv"],
        ["prepare", "audiomnist-az", "{data}/audiomnist_az", "--out",
         "runs/manifests/audiomnist-az.csv"],
        ["prepare", "merge", "runs/manifests/fsdd.csv", "runs/manifests/audiomnist-az.csv",
         "--out", "runs/manifests/digits.csv", "--add-column", "language=en,az",
         "--drop", "split"]]),
}
DEFAULT_CORPORA = ("ravdess", "digits3")
METHODS = ["independent", "flat", "hierarchical", "lth", "lt4rec", "branched", "random_tree",
           "flat_matched"]
BUDGET = 0.4                       # of the independent set's params: 60 % fewer
# retrained at the budget tree's size (issue 15: every reported size gets its equal-size
# baselines); the goal compares it with the first, its random trees
AT_BUDGET = ["random_tree", "flat_matched", "branched", "lth"]
CANDIDATES = 10                    # search.budget_candidates: the budget tree chosen on validation
GOAL_REDUCTION, GOAL_DROP = 0.60, 0.01
DRAWS = 10                         # random trees per size, each trained with every seed
SHORT = {"corpora": "ravdess", "widths": "0.25", "seeds": 3, "draws": DRAWS}
# The full benchmark (make bench) is the points that decide the goal, within 3 h on 2 cores
# (BENCHMARKS.md, "make bench timed from nothing", gives each point's time): RAVDESS
# at x0.25 and x0.5 with every method, digits3 at x0.5 without LT4REC, whose pruning rounds on a
# training set three times RAVDESS' would be its costliest item (LT4REC lost 24-31 points at
# x0.25 on both corpora and 21 at x0.5 on RAVDESS). At x1 structure does not matter (BENCHMARKS.md,
# 2026-11-26); `--widths 0.25,0.5,1` runs every corpus at every width (`--methods` to add LT4REC).
FULL_WIDTHS = {"ravdess": (0.25, 0.5), "digits3": (0.5,)}
FULL_METHODS = {"digits3": tuple(m for m in METHODS if m != "lt4rec")}
WIDTHS = (0.25, 0.5, 1.0)          # a corpus the full benchmark leaves out, when asked for


def hmtl(*args: str) -> None:
    exe = Path(sys.executable).parent / "hmtl"
    subprocess.run([str(exe), *args], cwd=ROOT, check=True)


def widths_of(config: str, scale: float) -> list[int]:
    from hmtl.config import load_config

    return [max(1, round(w * scale)) for w in load_config(ROOT / config).model.block_widths]


def run_point(name: str, data: Path, scale: float, seeds: int | None, draws: int,
              executor: str | None, methods: list[str] = METHODS,
              candidates: int = CANDIDATES, splits: int = 1, root: str = "runs/bench") -> dict:
    config, manifest, prepare = CORPORA[name]
    if not (ROOT / manifest).exists():
        for cmd in prepare:
            hmtl(*[c.format(data=data) for c in cmd])
    out = f"{root}/{name}/w{scale:g}" + (f"-splits{splits}" if splits > 1 else "")
    widths = widths_of(config, scale)
    args = [f"model.widths=[{','.join(map(str, widths))}]", f"search.budgets=[{BUDGET}]",
            f"search.budget_candidates={candidates}",
            f"methods=[{','.join(methods)}]", f"baselines.random_draws={draws}",
            f"baselines.at_budgets=[{','.join(AT_BUDGET)}]"] + \
        ([f"search.seeds={seeds}"] if seeds else []) + \
        ([f"data.splits={splits}"] if splits > 1 else [])
    cmd = ["run", config, *args, "--out", out, "--quiet"] + (["--executor", executor] if executor else [])
    start = time.perf_counter()
    hmtl(*cmd)
    results = json.loads((ROOT / out / "results.json").read_text())
    files = list((ROOT / out).glob("**/runs/*/metrics.json"))
    trainings = [json.loads(p.read_text()) for p in files]
    days = sorted(dt.date.fromtimestamp(p.stat().st_mtime) for p in files)
    return {"scale": scale, "widths": widths, "command": "hmtl " + shlex.join(cmd), "out": out,
            "wall": time.perf_counter() - start, "results": results, "trainings": len(trainings),
            "train_seconds": sum(t.get("seconds", 0) for t in trainings),
            "trained": (days[0].isoformat(), days[-1].isoformat()) if days else None}


# ----------------------------------------------------------------------------- the tables

def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def _ci(c: dict | None) -> str:
    if not c:
        return "—"
    return f"{_pts(c['estimate'])} [{_pts(c['low'])}, {_pts(c['high'])}]"


def _verdict(c: dict | None, reference: str = "hierarchical") -> str:
    if not c:
        return "—"
    if not c.get("shown"):
        return "no difference shown"
    return f"{reference} better" if c["estimate"] > 0 else f"{reference} worse"


def method_rows(results: dict, label: str) -> list[str]:
    """One row per method: size, compute, mean drop vs independent, and the paired difference
    with the hierarchical model (positive = the method loses more than the searched tree)."""
    rows = []
    comparisons = (results.get("comparisons") or {}).get("methods") or {}
    for name, e in results["methods"].items():
        cmp = e.get("vs_independent") or {}
        c = (comparisons.get(name) or {}).get("mean_drop")
        paired = ["—", "—", "—"] if name == "hierarchical" else \
            [_ci(c), f"{c['p_holm']:.3f}" if c else "—", _verdict(c)]
        rows.append(f"| {label} | {name} | {e.get('nonzero_params', e['params']):,} | "
                    f"{e['macs'] / 1e6:.2f} M | {100 * cmp.get('param_reduction', 0):.0f} % | "
                    f"{100 * cmp.get('mean_drop', 0):.1f} ± {100 * cmp.get('mean_drop_std', 0):.1f} | "
                    + " | ".join(paired) + " |")
    return rows


def over_splits(results: dict) -> int:
    """How many splits a run's results pool (data.splits): each split searched its own tree,
    so its rank among random trees and the predictor's ranking come from each split's folder."""
    return len(results.get("splits") or [])


def split_results(results: dict, folder: Path | None) -> list[tuple[int, dict]]:
    """(split, its results.json) for each split of a pooled run whose folder is there."""
    out = []
    for s in results.get("splits") or []:
        path = folder / s["folder"] / "results.json" if folder else None
        if path and path.exists():
            out.append((s["split"], json.loads(path.read_text())))
    return out


def _rank(results: dict) -> tuple[str, str, int, int] | None:
    """The searched tree's rank among its random trees: how many it beats and how many are at
    least as good (in words), and the latter as a count of how many trees."""
    rt = results["methods"].get("random_tree") or {}
    s = rt.get("searched")
    if not s:
        return None
    lo, hi = s["at_least_as_good_interval"]
    size = "exactly its size" if rt.get("same_size") else "about its size"
    return (f"beats {100 * s['percentile']:.0f} % of {s['trees']} random trees of {size}",
            f"{100 * s['at_least_as_good']:.0f} % of them are at least as good (95 % interval "
            f"{100 * lo:.0f}-{100 * hi:.0f} %)", round(s["at_least_as_good"] * s["trees"]),
            s["trees"])


def null_line(results: dict, label: str, per_split: list[tuple[int, dict]] = ()) -> str:
    if over_splits(results):
        head = (f"- {label}: over {over_splits(results)} splits, each with its own searched tree "
                f"and random trees")
        ranks = [(i, r) for i, res in per_split if (r := _rank(res))]
        if not ranks:
            return head + " (each split's rank: its folder's results.json)"
        good, trees = sum(r[2] for _, r in ranks), sum(r[3] for _, r in ranks)
        return (head + f"; in all, {good} of {trees} random trees are at least as good as their "
                f"split's searched tree. Per split: "
                + "; ".join(f"split {i} {r[0]}" for i, r in ranks))
    r = _rank(results)
    if not r:
        return f"- {label}: no random trees of this size"
    return f"- {label}: the searched tree {r[0]}; {r[1]}"


def budget_line(results: dict, label: str) -> tuple[str, bool]:
    """The 60 %-smaller tree: its drop, its paired comparison with its random trees, the goal."""
    budgets = results.get("budgets") or []
    if not budgets:
        return f"- {label}: no budget tree", False
    b = budgets[0]
    h = b["method"]["vs_independent"]
    found = (b.get("comparisons") or {}).get("methods") or {}
    c = found.get("random_tree", {}).get("mean_drop")
    better = bool(c and c["shown"] and c["estimate"] > 0)
    met = h["param_reduction"] >= GOAL_REDUCTION and h["mean_drop"] <= GOAL_DROP and better
    others = "".join(f"; {name} minus it: {_ci(o)} ({_verdict(o, 'budget tree')})"
                     for name in AT_BUDGET[1:]
                     if (o := found.get(name, {}).get("mean_drop")))
    chosen = ""
    if b.get("candidates"):
        mine = next(x for x in b["candidates"] if x["tree"] == b["tree"])
        chosen = (f" (chosen on validation among {len(b['candidates'])}: "
                  + ("the predicted tree" if mine["proposed"] else
                     f"validation drop {100 * mine['validation_drop']:.1f} against the predicted "
                     f"tree's {100 * b['candidates'][0]['validation_drop']:.1f}") + ")")
    elif b.get("splits"):
        chosen = (f" (each of the {len(b['splits'])} splits chose its own, "
                  f"{min(x['params'] for x in b['splits']):,}-{max(x['params'] for x in b['splits']):,}"
                  f" params; their mean)")
    return (f"- {label}: budget tree{chosen} {b['params']:,} params ({100 * h['param_reduction']:.0f} % "
            f"fewer), mean drop {100 * h['mean_drop']:.1f} ± {100 * h['mean_drop_std']:.1f} pts; "
            f"random trees of its size minus it: {_ci(c)} ({_verdict(c, 'budget tree')}){others}; goal "
            f"{'MET' if met else 'not met'}"), met


def predictor_line(results: dict, label: str, per_split: list[tuple[int, dict]] = ()) -> str:
    """How well stage 2's predicted drop ranked the trees trained: over all of them, and among
    the trees of one size (the random trees with the searched or the budget tree), where a
    budget makes its choice; per split for a pooled run."""
    if over_splits(results):
        per = [(i, res.get("predictor") or {}) for i, res in per_split]
        per = [(i, p) for i, p in per if p.get("spearman") is not None]
        if not per:
            return f"- {label}: per split (each split's folder's results.json)"
        return (f"- {label}: per split, Spearman over the distinct trees trained "
                + ", ".join(f"{p['spearman']:+.2f} (split {i}, {len(p['trees'])} trees)"
                            for i, p in per)
                + "; among the trees of one size: "
                + "; ".join(f"split {i} " + ", ".join(
                    ("—" if g["spearman"] is None else f"{g['spearman']:+.2f}")
                    + f" ({g['trees']} of {g['params']:,} params)"
                    for g in p.get("same_size") or []) for i, p in per))
    p = results.get("predictor") or {}
    if p.get("spearman") is None:
        return f"- {label}: too few trees to rank"
    same = "".join(f"; among the {g['trees']} trees of {g['params']:,} params "
                   + ("—" if g["spearman"] is None else f"{g['spearman']:+.2f}")
                   for g in p.get("same_size") or [])
    return (f"- {label}: Spearman {p['spearman']:+.2f} over the {len(p['trees'])} distinct trees "
            f"trained{same}")


def trained_when(points: list[dict]) -> str:
    """When the trainings behind a section ran: a resumed run renders today what trained on
    earlier days, and the section's date alone would pass for theirs."""
    spans = [p["trained"] for p in points if p.get("trained")]
    if not spans:
        return ""
    first, last = min(s[0] for s in spans), max(s[1] for s in spans)
    return f" (trainings {first})" if first == last else f" (trainings {first} to {last})"


def section(name: str, points: list[dict], when: str, where: str, figure: str | None) -> str:
    head = ["| width | method | params (non-zero) | MACs | reduction | mean drop (pts) | "
            "method − hierarchical (pts, 95 % CI) | p (Holm) | verdict |",
            "|---|---|---|---|---|---|---|---|---|"]
    rows, nulls, budgets, cmds, ranks = [], [], [], [], []
    for p in points:
        label = f"×{p['scale']:g} {p['widths']}"
        rows += method_rows(p["results"], label)
        per_split = split_results(p["results"], ROOT / p["out"] if p.get("out") else None)
        nulls.append(null_line(p["results"], label, per_split))
        line, _ = budget_line(p["results"], label)
        budgets.append(line)
        ranks.append(predictor_line(p["results"], label, per_split))
        cmds.append(f"- `{p['command']}`: {p['wall'] / 60:.1f} min wall this invocation; "
                    f"{p['trainings']} trainings, {p['train_seconds'] / 60:.0f} min of training")
    seeds = len(points[0]["results"]["seeds"])
    splits = over_splits(points[0]["results"])
    per = (f"{seeds} seed(s) per model on each of {splits} splits of the clips (data.splits; "
           f"each split searches and chooses its own trees)" if splits else
           f"{seeds} seed(s) per model")
    how = ("paired by (split, seed): the difference in mean drop (positive: the method loses "
           "more than the searched tree), its 95 % interval and p-value from Student's t over "
           "the splits, each split's seeds averaged into one value" if splits else
           "paired by seed and test clip: the difference in mean drop (positive: the method "
           "loses more than the searched tree), its 95 % interval over seeds and clips and its "
           "p-value (Student's t on the seeds' training noise and the test clips; the random "
           "trees of one seed count as one unit)")
    text = [f"### {name}", "", f"{when}{trained_when(points)}, {where}; {per}.", "", *cmds, "",
            f"Every method against the hierarchical one, {how}, Holm-corrected over the methods. "
            "\"no difference shown\": the interval includes 0 or the corrected p is not below "
            "0.05.",
            "", *head, *rows, "", "The searched tree among random trees of its size:", "",
            *nulls, "", f"At {100 * (1 - BUDGET):.0f} % fewer params than the independent set "
            "(search.budgets: the tree of lowest predicted drop, or with search.budget_candidates "
            "the lowest validation drop among it and trees drawn of its size; its random trees, flat_matched, "
            "branched and LTH retrained at its size; 'minus it': positive when the budget tree "
            "is better):", "", *budgets, "", "Stage 2's predicted drop against the measured "
            "one (rank correlation):", "", *ranks]
    if figure:
        text += ["", f"![{name}: mean drop against params and against MACs]({figure})"]
    return marked(f"capacity-{name}", "\n".join(text))


def plan(corpus: str, widths: str | None, methods: list[str] | None) -> list[tuple[float, tuple]]:
    """(width scale, methods) of each point a corpus runs: the widths and methods asked for,
    else the full benchmark's for this corpus."""
    scales = [float(w) for w in widths.split(",")] if widths else FULL_WIDTHS.get(corpus, WIDTHS)
    return [(s, tuple(methods or FULL_METHODS.get(corpus, METHODS))) for s in scales]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpora", default=",".join(DEFAULT_CORPORA),
                    help="comma-separated: " + ", ".join(CORPORA))
    ap.add_argument("--widths", default=None,
                    help="width scales of the configs' backbone, for every corpus (default: "
                         "the full benchmark's: " + "; ".join(
                             f"{c} ×{', ×'.join(map('{:g}'.format, ws))}"
                             for c, ws in FULL_WIDTHS.items()) + ")")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                    help="folder of the corpora (default ../shared/data)")
    ap.add_argument("--executor", default=None, help="passed to hmtl run (default serial)")
    ap.add_argument("--seeds", type=int, default=None, help="override the configs' 3 seeds")
    ap.add_argument("--draws", type=int, default=DRAWS,
                    help=f"random trees per size (default {DRAWS})")
    ap.add_argument("--methods", default=None,
                    help="methods to run at every point (default every one, but LT4REC on "
                         "digits3); a later run with more resumes")
    ap.add_argument("--runs", default="runs/bench",
                    help="folder of the run folders, under the repository (default runs/bench; "
                         "a fresh one times the benchmark from nothing)")
    ap.add_argument("--short", action="store_true",
                    help=f"the short setting: {SHORT['corpora']} at ×{SHORT['widths']}, "
                         f"{SHORT['seeds']} seeds, {SHORT['draws']} random trees")
    ap.add_argument("--candidates", type=int, default=CANDIDATES,
                    help=f"trees the budget tree is chosen among on validation (default "
                         f"{CANDIDATES}; 1: the predicted tree alone)")
    ap.add_argument("--splits", type=int, default=1,
                    help="run the whole method on this many splits of the clips (data.splits) "
                         "and pool them: paired by (split, seed), interval over the splits "
                         "(default 1)")
    ap.add_argument("--write", type=Path, default=ROOT / "BENCHMARKS.md")
    args = ap.parse_args(argv)
    if args.short:
        args.corpora, args.widths = SHORT["corpora"], SHORT["widths"]
        args.seeds, args.draws = args.seeds or SHORT["seeds"], SHORT["draws"]
    names = [c.strip() for c in args.corpora.split(",") if c.strip()]
    unknown = [n for n in names if n not in CORPORA]
    if unknown:
        ap.error(f"unknown corpus {unknown}; known: {list(CORPORA)}")
    if not args.data.is_dir():
        ap.error(f"{args.data}: no corpora folder (pass --data)")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    if methods is not None and ("hierarchical" not in methods or not set(methods) <= set(METHODS)):
        ap.error(f"--methods: a subset of {METHODS} with hierarchical, got {methods}")
    for corpus in names:
        name = corpus + (f"-splits{args.splits}" if args.splits > 1 else "")
        points = [run_point(corpus, args.data.resolve(), s, args.seeds, args.draws, args.executor,
                            list(m), args.candidates, args.splits, args.runs)
                  for s, m in plan(corpus, args.widths, methods)]
        figure = pareto_figure(name, points, ROOT / "benchmarks" / "figures" / f"{name}.svg")
        text = section(name, points, dt.date.today().isoformat(), machine(),
                       str(figure.relative_to(ROOT)))
        print(text)
        if args.write:
            write_section(args.write, f"capacity-{name}", text)
            print(f"written: {args.write} ({name})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
