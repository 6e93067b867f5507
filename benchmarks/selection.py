"""Is a drop measured on the clips that picked the best epoch biased? The evidence behind
train.selection's default.

Run a configuration with `train.selection=half` (the default): every training picks its best
epoch on one half of the validation clips (metrics.json "select") and is measured on the other
("val"). This script reads a finished run folder and compares, for every stage-2 pair model and
each of its tasks, the seed-paired drop against the isolated model measured on the selection
half with the same drop measured on the decision half. If choosing the epoch on the clips that
then measure the drop did not matter, their difference would be 0 on average; its mean and a 95 %
bootstrap interval (over pair models) say how large the bias is, in points. It also reports how
much the selection half flatters each isolated model (its score there minus on the decision half).

    python benchmarks/selection.py RUN_DIR [--markdown]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from hmtl.metrics import drop as metric_drop
from hmtl.metrics import metric_spec
from hmtl.records import TrainRecord


def load(run: Path) -> list[TrainRecord]:
    out = []
    for path in sorted((run / "runs").glob("*/metrics.json")):
        rec = TrainRecord.from_json(json.loads(path.read_text()))
        if rec.select is not None:
            out.append(rec)
    return out


def interval(values: np.ndarray) -> tuple[float, float, float]:
    if len(values) < 2:
        return float(values.mean()), float("nan"), float("nan")
    ci = stats.bootstrap((values,), np.mean, confidence_level=0.95, n_resamples=9999,
                         random_state=0).confidence_interval
    return float(values.mean()), float(ci.low), float(ci.high)


def analyse(records: list[TrainRecord]) -> dict:
    stage1 = {(r.tasks[0], r.seed): r for r in records if r.tag.startswith("stage1 ")}
    pairs = [r for r in records if r.tag.startswith("pair ")]
    bias, optimism = [], []
    for (task, _), ref in stage1.items():
        if metric_spec(ref.metric(task)).fraction:
            m = ref.metric(task)
            optimism.append(-metric_drop(ref.select[task][m], ref.val[task][m], m))
    for rec in pairs:
        per_task = []
        for task in rec.tasks:
            ref = stage1.get((task, rec.seed))
            m = rec.metric(task)
            if ref is None or not metric_spec(m).fraction:
                continue
            on_select = metric_drop(ref.select[task][m], rec.select[task][m], m)
            on_decide = metric_drop(ref.val[task][m], rec.val[task][m], m)
            per_task.append(on_select - on_decide)
        if per_task:
            bias.append(float(np.mean(per_task)))
    return {"pair_models": len(bias), "isolated_models": len(optimism),
            "bias": interval(np.array(bias)) if bias else None,
            "optimism": interval(np.array(optimism)) if optimism else None}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("--markdown", action="store_true", help="one table row instead of prose")
    args = p.parse_args(argv)
    records = load(args.run)
    if not records:
        print(f"{args.run}: no trainings with a selection half (train.selection=half)",
              file=sys.stderr)
        return 2
    r = analyse(records)

    def pts(v):
        mean, lo, hi = v
        return f"{100 * mean:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]"

    if args.markdown:
        print(f"| {args.run.name} | {r['pair_models']} | {pts(r['bias'])} | "
              f"{r['isolated_models']} | {pts(r['optimism'])} |")
    else:
        print(f"{args.run}: {r['pair_models']} pair models, {r['isolated_models']} isolated models")
        print(f"  drop on the selection half minus on the decision half: {pts(r['bias'])} pts "
              "(mean [95 % bootstrap interval] over pair models)")
        print(f"  isolated models' score, selection half minus decision half: "
              f"{pts(r['optimism'])} pts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
