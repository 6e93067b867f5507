"""How much picking the best epoch biases a stage-2 drop (issue 16, item 1): the evidence behind
`train.selection: half`, read from finished run folders (nothing is trained).

    python benchmarks/selection_bias.py runs/bench/ravdess/w0.25 runs/bench/digits3/w0.25 \
        [--write BENCHMARKS.md]

With `train.selection: half` every training picks its best epoch on one validation half (the
selecting half) and is also measured on the other (the deciding half) and on the test split.
For every stage-2 pair model, task and seed, the drop (the stage-1 model of that task and seed
minus the pair model, in accuracy points) is computed on each of the three. The drop on the
selecting half carries the selection's bias (the pair model's epoch maximises the mean of two
tasks, the stage-1 model's its own task); the deciding half and the test split do not. Printed:
the mean differences between them with a 95 % interval from a bootstrap over (pair, seed)
clusters, and the root-mean-square difference from the test drop of the deciding half alone and
of both halves pooled (what `train.selection: all` would measure, up to which epoch it picks):
bias against noise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from record import machine, marked, write_section  # noqa: E402

HALVES = ("select", "val", "test")          # metrics.json's keys: selecting, deciding, test


def pair_drops(run: Path) -> tuple[list[str], np.ndarray]:
    """(cluster id per drop, drops (n, 4): selecting half, deciding half, test, both halves)."""
    records = [json.loads(p.read_text()) for p in sorted(run.glob("runs/*/metrics.json"))]
    stage1 = {(r["tasks"][0], r["seed"]): r for r in records if r["tag"].startswith("stage1 ")}
    clusters, rows = [], []
    for r in records:
        if not r["tag"].startswith("pair ") or "select" not in r:
            continue
        for t in r["tasks"]:
            ref = stage1.get((t, r["seed"]))
            if ref is None or "accuracy" not in r["val"][t] or "select" not in ref:
                continue
            d = [ref[h][t]["accuracy"] - r[h][t]["accuracy"] for h in HALVES]
            n_sel, n_dec = r["select"][t]["n"], r["val"][t]["n"]
            d.append((n_sel * d[0] + n_dec * d[1]) / (n_sel + n_dec))
            clusters.append(f"{'+'.join(sorted(r['tasks']))}/{r['seed']}")
            rows.append(d)
    return clusters, np.array(rows).reshape(-1, 4)


def cluster_interval(clusters: list[str], x: np.ndarray, resamples: int = 4000,
                     seed: int = 0) -> tuple[float, float, float]:
    """Mean of x with a 95 % percentile interval, resampling whole (pair, seed) clusters: one
    pair model's tasks and depths share a stage-1 model and are not independent."""
    ids = sorted(set(clusters))
    groups = [x[[i for i, c in enumerate(clusters) if c == g]] for g in ids]
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(resamples):
        pick = rng.integers(len(groups), size=len(groups))
        means.append(np.concatenate([groups[i] for i in pick]).mean())
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(x.mean()), float(lo), float(hi)


def report(run: Path) -> list[str]:
    clusters, d = pair_drops(run)
    if not len(d):
        return [f"| {run} | no stage-2 pair models with selection half | | | | | |"]
    sel, dec, test, pooled = d.T

    def ci(x):
        m, lo, hi = cluster_interval(clusters, 100 * x)
        return f"{m:+.2f} [{lo:+.2f}, {hi:+.2f}]"

    def rms(x):
        return f"{100 * np.sqrt(np.mean(x ** 2)):.2f}"

    return [f"| `{run.relative_to(ROOT) if run.is_relative_to(ROOT) else run}` | {len(d)} | "
            f"{ci(sel - dec)} | {ci(sel - test)} | {ci(dec - test)} | {ci(pooled - test)} | "
            f"{rms(dec - test)} / {rms(pooled - test)} |"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", type=Path, nargs="+", help="finished run folders (train.selection: half)")
    ap.add_argument("--write", type=Path, default=None, help="rewrite this file's section")
    args = ap.parse_args(argv)
    rows = []
    for run in args.runs:
        if not (run / "runs").is_dir():
            ap.error(f"{run}: no runs/ folder (not a run folder)")
        rows += report(run.resolve())
    text = marked("selection-bias", "\n".join([
        "### Selection bias of stage-2 drops (`benchmarks/selection_bias.py`)", "",
        f"`python benchmarks/selection_bias.py {' '.join(map(str, args.runs))}`, "
        f"{dt.date.today().isoformat()}, {machine()}; reads finished runs, trains nothing.", "",
        "Per stage-2 pair model, task and seed: the drop (stage-1 model minus pair model, "
        "accuracy points) on the validation half that picked both epochs (selecting), on the "
        "other half (deciding) and on the test split; mean differences with a 95 % interval "
        "(bootstrap over pair × seed), and the root-mean-square distance from the test drop of "
        "the deciding half alone and of both halves pooled (≈ `train.selection: all`).", "",
        "| run | drops | selecting − deciding | selecting − test | deciding − test | "
        "both halves − test | RMS vs test: deciding / both (pts) |",
        "|---|---|---|---|---|---|---|", *rows]))
    print(text)
    if args.write:
        write_section(args.write, "selection-bias", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
