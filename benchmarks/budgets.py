"""The search's own figures (issue 16): the τ-tree, how stable it is under fresh seeds, and the
trees at several parameter budgets, all from one finished benchmark run's sweep.

    python benchmarks/budgets.py configs/ravdess.yaml runs/bench/ravdess/w0.25 \
        --budgets 0.55,0.44,0.35 --stability 2 --executor local:2 --write BENCHMARKS.md

A copy of the finished run folder (hard links: every training is reused) is rerun with
`search.budgets=[…]` (a fraction of the independent set's params: 0.44 is 56 % fewer) and
`search.stability=N` (stages 1-2 repeated N times with fresh seeds), training the independent
models, the τ-tree, one tree per budget and, at each budget tree's size, the size-matched
baselines of `--baselines` (random trees of exactly its size, flat_matched, branched, LTH; issue
15: every size reported gets its equal-size baselines). The run's other overrides (widths,
seeds, random draws) are read from its own config.yaml, so the copy answers the same question.
Printed: each tree's size, predicted and measured mean drop, its paired difference with the
independent set and with each baseline at its size (95 % interval over seeds and test clips),
how often the repeats found the same K and the same tree, and the predictor's rank correlation
with the trees trained.
"""

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
from bench import AT_BUDGET, _ci, _pts, _verdict, predictor_line  # noqa: E402
from record import linked_copy, machine, marked, write_section  # noqa: E402


def rerun(run: Path, budgets: list[float], stability: int, executor: str | None,
          overrides: list[str] = (), suffix: str = "budgets",
          baselines: list[str] = ()) -> tuple[dict, str, float]:
    """The copy's results, the command that made them and its wall seconds."""
    out = run.parent / f"{run.name}-{suffix}"
    linked_copy(run, out)
    exe = Path(sys.executable).parent / "hmtl"
    cmd = ["run", str(run / "config.yaml"),
           f"methods=[{','.join(['independent', 'hierarchical', *baselines])}]",
           f"baselines.at_budgets=[{','.join(baselines)}]",
           f"search.budgets=[{','.join(f'{b:g}' for b in budgets)}]",
           f"search.stability={stability}", *overrides, "--out", str(out), "--quiet"] + \
        (["--executor", executor] if executor else [])
    start = time.perf_counter()
    subprocess.run([str(exe), *cmd], check=True, stdout=sys.stderr)
    return (json.loads((out / "results.json").read_text()), "hmtl " + shlex.join(cmd),
            time.perf_counter() - start)


def vs_independent(comparisons: dict | None) -> str:
    """The tree minus the independent set, in points of mean drop, with its interval: the
    comparisons store independent − tree, so the signs flip."""
    c = (((comparisons or {}).get("methods") or {}).get("independent") or {}).get("mean_drop")
    if not c:
        return "— | —"
    word = "no difference shown" if not c["shown"] else \
        ("tree worse" if c["estimate"] < 0 else "tree better")
    return f"{_pts(-c['estimate'])} [{_pts(-c['high'])}, {_pts(-c['low'])}] | {word}"


def tree_row(label: str, params: int, macs: int, independent: int, predicted: float | None,
             measured: dict, comparisons: dict | None) -> str:
    pred = f"{100 * predicted:.1f}" if predicted is not None else "—"
    return (f"| {label} | {params:,} | {100 * (1 - params / independent):.0f} % | "
            f"{macs / 1e6:.2f} M | {pred} | {100 * measured['mean_drop']:.1f} ± "
            f"{100 * measured['mean_drop_std']:.1f} | {100 * measured['max_drop']:.1f} | "
            f"{vs_independent(comparisons)} |")


def baseline_rows(r: dict, baselines: list[str]) -> list[str]:
    """Each budget tree against the baselines retrained at its size: baseline − tree (positive:
    the tree is better), as the τ-tree is compared in the benchmark's table."""
    rows = []
    for b in r.get("budgets") or []:
        found = (b.get("comparisons") or {}).get("methods") or {}
        cells = [f"{_ci(c)} ({_verdict(c).replace('hierarchical', 'tree')})"
                 if (c := (found.get(m) or {}).get("mean_drop")) else "—" for m in baselines]
        fewer = 100 * (1 - b["params"] / r["methods"]["independent"]["params"])
        rows.append(f"| {b['params']:,} ({fewer:.0f} % fewer) | " + " | ".join(cells) + " |")
    return rows


def section(name: str, r: dict, command: str, wall: float, config: str = "",
            baselines: list[str] = ()) -> str:
    independent = r["methods"]["independent"]["params"]
    predicted = {t["name"]: t["predicted"] for t in (r.get("predictor") or {}).get("trees", [])}
    h = r["methods"]["hierarchical"]
    rows = [tree_row("τ-tree (tolerance rule)", h["params"], h["macs"], independent,
                     predicted.get("hierarchical"), h["vs_independent"], r.get("comparisons"))]
    for b in r.get("budgets") or []:
        label = (f"budget {100 * (1 - b['fraction']):.0f} % fewer" if b.get("fraction")
                 else f"budget {b['budget']:,} params")
        rows.append(tree_row(label, b["params"], b["macs"], independent, b["predicted_drop"],
                             b["method"]["vs_independent"], b.get("comparisons")))
    s = r.get("stability") or {}
    stab = "no repeats (search.stability=0)"
    if s:
        shaky = [f"{p} ({100 * a:.0f} %)" for p, a in s["pair_agreement"].items() if a < 1]
        stab = (f"{s['repeats']} repeat(s) of stages 1-2 with fresh seeds: the same K for every "
                f"pair in {100 * s['same_depths']:.0f} %, the same tree in "
                f"{100 * s['same_tree']:.0f} %; pairs whose K changed, with the share of repeats "
                f"that agreed: {', '.join(shaky) or 'none'}")
    trained = r["run"]["trained_now"]
    return marked(f"budgets-{name}", "\n".join([
        f"### {name}", "",
        f"`{command}`{f' (the benchmark run of `{config}`)' if config else ''}, "
        f"{dt.date.today().isoformat()}, {machine()}; {len(r['seeds'])} seed(s) per model. {wall / 60:.1f} min wall, {trained} trainings run (the rest reused from the "
        "benchmark run).", "",
        "Drops against the independent set (positive = worse). \"tree − independent\": paired by "
        "seed and test clip, 95 % interval.", "",
        "| tree | params | fewer params | MACs | predicted drop (pts) | measured drop (pts, ± seed "
        "std) | max task drop (pts) | tree − independent (pts, 95 % CI) | verdict |",
        "|---|---|---|---|---|---|---|---|---|", *rows, "",
        *(["Each budget tree against the size-matched baselines retrained at its size: baseline "
           "− tree in points of mean drop (positive: the tree is better; random trees: their "
           "mean), 95 % interval over seeds and test clips.", "",
           "| budget tree (params) | " + " | ".join(baselines) + " |",
           "|---|" + "---|" * len(baselines), *baseline_rows(r, baselines), ""]
          if baselines else []),
        f"- Stability: {stab}.",
predictor_line(r, "Predictor")]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", type=Path, help="the benchmark's config (for the record)")
    ap.add_argument("run", type=Path, help="a finished run folder of that config")
    ap.add_argument("--budgets", default="0.55,0.44,0.35",
                    help="fractions of the independent set's params (0.44: 56 %% fewer)")
    ap.add_argument("--stability", type=int, default=2, help="search repeats with fresh seeds")
    ap.add_argument("--executor", default=None)
    ap.add_argument("--name", default=None, help="section name (default: the corpus folder)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a further config override, e.g. search.sweep=exhaustive (repeatable; "
                         "the copy is then named after --name)")
    ap.add_argument("--baselines", default=",".join(AT_BUDGET),
                    help="size-matched baselines retrained at each budget tree's size "
                         "(default: %(default)s; empty: none)")
    ap.add_argument("--write", type=Path, default=None, help="rewrite this file's section")
    args = ap.parse_args(argv)
    if not (args.run / "config.yaml").exists():
        ap.error(f"{args.run}: no config.yaml (not a run folder)")
    budgets = [float(b) for b in args.budgets.split(",")]
    name = args.name or args.run.parent.name
    baselines = [m.strip() for m in args.baselines.split(",") if m.strip()]
    r, command, wall = rerun(args.run, budgets, args.stability, args.executor, args.set,
                             f"budgets-{name}" if args.set else "budgets", baselines)
    text = section(name, r, command, wall, str(args.config), baselines)
    print(text)
    if args.write:
        write_section(args.write, f"budgets-{name}", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
