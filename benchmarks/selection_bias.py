"""How much picking the best epoch biases a stage-2 drop (issue 16, item 1): the evidence behind
`train.selection: half`, read from finished run folders (nothing is trained).

    python benchmarks/selection_bias.py runs/bench/ravdess/w0.25 runs/bench/digits3/w0.25 \
        [--write BENCHMARKS.md]

A run of `train.selection: last` (no epoch picked, all validation clips decide) or `all` is
read too: its drops on the validation clips against the test drops, and its stage-1 models'
test accuracy, to set the options side by side.

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
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from record import machine, marked, write_section  # noqa: E402

HALVES = ("select", "val", "test")          # metrics.json's keys: selecting, deciding, test


def pair_drops(run: Path) -> tuple[list[str], np.ndarray, float]:
    """(cluster id per drop, drops (n, 4): selecting half, deciding clips, test, both halves,
    and the stage-1 models' mean test accuracy). Without a selecting half (selection all or
    last) the first and last columns are NaN and the deciding clips are the whole validation
    split."""
    records = [json.loads(p.read_text()) for p in sorted(run.glob("runs/*/metrics.json"))]
    stage1 = {(r["tasks"][0], r["seed"]): r for r in records if r["tag"].startswith("stage1 ")}
    clusters, rows = [], []
    for r in records:
        if not r["tag"].startswith("pair "):
            continue
        for t in r["tasks"]:
            ref = stage1.get((t, r["seed"]))
            if ref is None or "accuracy" not in r["val"][t]:
                continue
            d = [ref[h][t]["accuracy"] - r[h][t]["accuracy"] if h in r and h in ref else np.nan
                 for h in HALVES]
            if "select" in r and "select" in ref:
                n_sel, n_dec = r["select"][t]["n"], r["val"][t]["n"]
                d.append((n_sel * d[0] + n_dec * d[1]) / (n_sel + n_dec))
            else:
                d.append(np.nan)
            clusters.append(f"{'+'.join(sorted(r['tasks']))}/{r['seed']}")
            rows.append(d)
    accuracy = [r["test"][t]["accuracy"] for r in stage1.values() for t in r["tasks"]
                if "accuracy" in r["test"][t]]
    return clusters, np.array(rows).reshape(-1, 4), float(np.mean(accuracy)) if accuracy else np.nan


def cluster_interval(clusters: list[str], x: np.ndarray, resamples: int = 4000,
                     seed: int = 0) -> tuple[float, float, float]:
    """Mean of x with a 95 % percentile interval, resampling whole (pair, seed) clusters: one
    pair model's tasks and depths share a stage-1 model and are not independent. Clusters of one
    seed still share that seed's stage-1 models, so the interval is optimistic (two runs of one
    setting gave non-overlapping ones): repeat the run before trusting a bias."""
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
    clusters, d, accuracy = pair_drops(run)
    config = yaml.safe_load((run / "config.yaml").read_text()) if (run / "config.yaml").exists() else {}
    selection = ((config or {}).get("train") or {}).get("selection", "?")
    name = run.relative_to(ROOT) if run.is_relative_to(ROOT) else run
    if not len(d):
        return [f"| `{name}` | {selection} | 0 | | | | | | |"]
    sel, dec, test, pooled = d.T

    def ci(x):
        if np.isnan(x).all():
            return "—"
        m, lo, hi = cluster_interval(clusters, 100 * x)
        return f"{m:+.2f} [{lo:+.2f}, {hi:+.2f}]"

    def rms(x):
        return "—" if np.isnan(x).all() else f"{100 * np.sqrt(np.mean(x ** 2)):.2f}"

    return [f"| `{name}` | {selection} | {len(d)} | {ci(sel - dec)} | {ci(dec - test)} | "
            f"{ci(pooled - test)} | {rms(dec - test)} | {rms(pooled - test)} | "
            f"{100 * accuracy:.1f} |"]


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
        "accuracy points) on the validation clips that decide (with `half`: the half that did "
        "not pick the epoch; with `last`: all of them), on the half that picked both epochs "
        "(selecting; `half` only) and on the test split. Mean differences with a 95 % interval "
        "(bootstrap over pair × seed; optimistic: the clusters of one seed share its stage-1 "
        "models, so compare runs too); the root-mean-square distance from the test drop of the "
        "deciding clips and of both halves pooled (≈ what `train.selection: all` decides on); "
        "the stage-1 models' mean test accuracy.", "",
        "| run | selection | drops | selecting − deciding | deciding − test | both halves − "
        "test | RMS deciding − test (pts) | RMS both − test (pts) | stage-1 test accuracy (%) |",
        "|---|---|---|---|---|---|---|---|---|", *rows]))
    print(text)
    if args.write:
        write_section(args.write, "selection-bias", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
