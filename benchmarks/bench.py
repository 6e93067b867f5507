"""The headline benchmark: the whole method and every baseline, 3 seeds, on the real corpora of
`../shared/data`, and the section of BENCHMARKS.md that reports it.

    python benchmarks/bench.py                       # = make bench: every corpus
    python benchmarks/bench.py --corpora digits --executor local:2

Per corpus it writes the manifest(s) with the recipes when missing, runs `hmtl run CONFIG --out
runs/<corpus>` with every method (the run resumes: a finished training is never
repeated, so a rerun after an interruption, or after `hmtl run` on the same config, costs only
what is missing), and then rewrites that corpus' part of BENCHMARKS.md, between its `bench:NAME:begin` and
`bench:NAME:end` markers (appended when absent): the command, machine, date, this invocation's wall time and the
summed time of every training behind the table, the results table, and the paper's claims next
to what was measured. The hand-written reading lives outside the markers and is kept.

A difference counts only when it exceeds the noise: a method's mean drop is called larger than
the hierarchical model's when the gap exceeds the larger of their two seed standard deviations.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from record import machine, marked, write_section  # noqa: E402


# corpus -> (config, the manifest the config reads, the commands that write it)
CORPORA = {
    "ravdess": ("configs/ravdess.yaml", "runs/manifests/ravdess.csv", [
        ["prepare", "ravdess", "{data}/ravdess", "--out", "runs/manifests/ravdess.csv"]]),
    "digits": ("configs/digits.yaml", "runs/manifests/digits.csv", [
        ["prepare", "fsdd", "{data}/fsdd", "--out", "runs/manifests/fsdd.csv"],
        ["prepare", "audiomnist-az", "{data}/audiomnist_az", "--out",
         "runs/manifests/audiomnist-az.csv"],
        ["prepare", "merge", "runs/manifests/fsdd.csv", "runs/manifests/audiomnist-az.csv",
         "--out", "runs/manifests/digits.csv", "--add-column", "language=en,az",
         "--drop", "split"]]),
}

# The paper's figures (mean accuracy drop against independent models, in points).
PAPER = {"hierarchical": "56 % fewer params, drop ≤ 1.9", "flat": "drop 2.7",
         "lt4rec": "drop 9", "lth": "drop 6.5"}
GOAL_REDUCTION, GOAL_DROP = 0.56, 0.019
ALL_METHODS = "methods=[independent,flat,hierarchical,lth,lt4rec,branched,random_tree,flat_matched]"


def hmtl(*args: str) -> None:
    exe = Path(sys.executable).parent / "hmtl"
    subprocess.run([str(exe), *args], cwd=ROOT, check=True)


def run_corpus(name: str, data: Path, executor: str | None, seeds: int | None = None) -> dict:
    config, manifest, prepare = CORPORA[name]
    if not (ROOT / manifest).exists():
        for cmd in prepare:
            hmtl(*[c.format(data=data) for c in cmd])
    out = f"runs/{name}"
    seed_args = [f"search.seeds={seeds}"] if seeds else []
    cmd = ["run", config, ALL_METHODS, *seed_args, "--out", out, "--quiet"] + \
        (["--executor", executor] if executor else [])
    start = time.perf_counter()
    hmtl(*cmd)
    results = json.loads((ROOT / out / "results.json").read_text())
    budget = at_paper_size(name, results, [config, *seed_args], executor)
    trainings = [json.loads(p.read_text()) for p in (ROOT / out / "runs").glob("*/metrics.json")]
    return {"name": name, "command": "hmtl " + shlex.join(cmd), "wall": time.perf_counter() - start,
            "results": results, "budget": budget,
            "trainings": len(trainings), "train_seconds": sum(t.get("seconds", 0) for t in trainings),
            "results_md": (ROOT / out / "results.md").read_text()}


def linked_copy(src: Path, out: Path) -> None:
    """A copy of a run folder whose files are hard links (no space, every training reused),
    without its results or lock; a later run in it rewrites files by rename, never in place."""
    if not out.exists():
        shutil.copytree(src, out, copy_function=os.link,
                        ignore=shutil.ignore_patterns("results.*", "report.html", "*.lock"))


def at_paper_size(name: str, results: dict, args: list[str], executor: str | None) -> dict:
    """The hierarchical model at the paper's size: the same run with search.budget_params at
    (1 - 56 %) of the independent models' params, in a copy of the run folder whose files are
    hard links (every stage-1/2 training is reused; only the merged tree's final model trains,
    and no baseline: they would retrain at the new size)."""
    budget = int(results["methods"]["independent"]["params"] * (1 - GOAL_REDUCTION))
    src, out = ROOT / "runs" / name, ROOT / "runs" / f"{name}-budget"
    linked_copy(src, out)
    cmd = ["run", args[0], *args[1:], "methods=[independent,flat,hierarchical]",
           f"search.budget_params={budget}", "--out",
           str(out.relative_to(ROOT)), "--quiet"] + (["--executor", executor] if executor else [])
    hmtl(*cmd)
    return {"command": "hmtl " + shlex.join(cmd), "budget": budget,
            "results": json.loads((out / "results.json").read_text())}


def claims(results: dict) -> list[str]:
    """The paper's claims next to what this run measured, noise taken into account."""
    methods = results["methods"]
    h = methods.get("hierarchical", {}).get("vs_independent")
    if not h:
        return []
    lines = ["| method | params (non-zero) | reduction | mean drop (pts) | max drop (pts) | "
             "paper | vs hierarchical |", "|---|---|---|---|---|---|---|"]
    one_seed = len(results["seeds"]) < 2
    for name, e in methods.items():
        cmp = e.get("vs_independent")
        if not cmp or name == "independent":
            continue
        size = e.get("nonzero_params", e["params"])
        lines.append(f"| {name} | {size:,} | {100 * cmp['param_reduction']:.1f} % | "
                     f"{100 * cmp['mean_drop']:.1f} ± {100 * cmp['mean_drop_std']:.1f} | "
                     f"{100 * cmp['max_drop']:.1f} | {PAPER.get(name, '')} | "
                     f"{'—' if name == 'hierarchical' else verdict(cmp, h, size, methods, one_seed)} |")
    lines += ["", goal("hierarchical", h)]
    return lines


def verdict(cmp: dict, h: dict, size: int, methods: dict, one_seed: bool) -> str:
    """How a method's mean drop compares with the hierarchical model's, against the noise."""
    gap = cmp["mean_drop"] - h["mean_drop"]
    if one_seed:
        return f"{gap * 100:+.1f}: one seed, no noise estimate, not evidence either way"
    noise = max(cmp["mean_drop_std"], h["mean_drop_std"])
    ref = methods["hierarchical"]["params"]
    bigger = "fewer" if size < ref * 0.98 else "more" if size > ref * 1.02 else "equal"
    if abs(gap) <= noise:
        return f"same drop within noise ({gap * 100:+.1f} ± {noise * 100:.1f}), {bigger} params"
    return (f"{'larger' if gap > 0 else 'smaller'} drop by {abs(gap) * 100:.1f} "
            f"(noise {noise * 100:.1f}), {bigger} params")


def budget_claims(b: dict) -> list[str]:
    e = b["results"]["methods"]["hierarchical"]
    h = e["vs_independent"]
    from hmtl.models import TreeSpec

    tree = TreeSpec.from_json(b["results"]["tasks"], e["tree"]).render()
    return [f"At the paper's size (`{b['command']}`, the same stage-1/2 trainings, the tree merged "
            f"until it has at most {b['budget']:,} params, one final model trained per seed):", "",
            "| method | params | reduction | mean drop (pts) | max drop (pts) |", "|---|---|---|---|---|",
            f"| hierarchical, budget | {e['params']:,} | {100 * h['param_reduction']:.1f} % | "
            f"{100 * h['mean_drop']:.1f} ± {100 * h['mean_drop_std']:.1f} | {100 * h['max_drop']:.1f} |",
            "", "```", tree, "```", "", goal("hierarchical with the budget", h)]


def goal(what: str, h: dict) -> str:
    met = h["param_reduction"] >= GOAL_REDUCTION and h["mean_drop"] <= GOAL_DROP
    return (f"Goal for {what} (≥ {GOAL_REDUCTION:.0%} fewer params, mean drop ≤ "
            f"{GOAL_DROP * 100:.1f} points): {'met' if met else 'NOT met'}: "
            f"{100 * h['param_reduction']:.1f} % fewer, mean drop {100 * h['mean_drop']:.1f} ± "
            f"{100 * h['mean_drop_std']:.1f} points.")


def section(d: dict, when: str, where: str) -> str:
    """One corpus' part of BENCHMARKS.md, between its markers."""
    return marked(d["name"], "\n".join([
        f"### {d['name']}", "",
        f"`{d['command']}`, {when}, {where}. This invocation: {d['wall'] / 60:.1f} min wall (a "
        f"resumed run trains only what is missing); the {d['trainings']} trainings behind the "
        f"table: {d['train_seconds'] / 60:.0f} min of training in all.", "",
        d["results_md"].rstrip(), "", "The paper's claims, measured:", "",
        *claims(d["results"]), "", *budget_claims(d["budget"])]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpora", default=",".join(CORPORA), help="comma-separated: "
                    + ", ".join(CORPORA))
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                    help="folder of the corpora (default ../shared/data)")
    ap.add_argument("--executor", default=None, help="passed to hmtl run (default serial)")
    ap.add_argument("--seeds", type=int, default=None,
                    help="override the configs' 3 seeds (1: a quick table; its seed-0 trainings "
                         "are reused by a later full run in the same folders)")
    ap.add_argument("--write", type=Path, default=ROOT / "BENCHMARKS.md")
    args = ap.parse_args(argv)
    names = [c.strip() for c in args.corpora.split(",") if c.strip()]
    unknown = [n for n in names if n not in CORPORA]
    if unknown:
        ap.error(f"unknown corpus {unknown}; known: {list(CORPORA)}")
    if not args.data.is_dir():
        ap.error(f"{args.data}: no corpora folder (pass --data)")
    for name in names:
        text = section(run_corpus(name, args.data.resolve(), args.executor, args.seeds),
                       dt.date.today().isoformat(), machine())
        print(text)
        if args.write:
            write_section(args.write, name, text)
            print(f"written: {args.write} ({name})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
