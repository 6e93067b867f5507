"""The compatibility rule, in one place: when does sharing blocks cost a task too much?

A task's drop in a shared model (a pair model at depth k, or the final tree) is seed-paired: for
each seed s, d_s = drop(a_t(s), a_t(shared, s)) between the task's isolated model and the shared
model of that seed, on the validation clips that picked neither model's best epoch
(train.selection); the drop is the mean of d_s. Its standard error has two parts: the spread of
d_s over the r seeds (0 with one seed), and the spread over the n decision clips of each clip's
seed-averaged paired difference (a clip right for one model and wrong for the other, averaged
over seeds), added in quadrature:

    se = sqrt(var_s(d_s) / r + var_i(d_i) / n)

The task is incompatible when its drop exceeds τ + z·se (z = search.noise_z) and is at least one
clip of the decision data (1/n, for metrics that are fractions of clips): no decision rests on
less than one clip. τ is the task's own tolerance in its metric's unit (required for a
regression, whose MAE is in the label's unit), else search.tolerance. A pair is compatible at k
when both tasks are; its compatibility depth K is the largest k compatible at every depth ≤ k.

Stage 2, the repair of the final tree, the budget trees and the report all take their decisions
from here; results.json stores each one (drop, se, threshold, margin), so the report only reads
them."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import RunConfig
from ..metrics import drop as metric_drop
from ..metrics import metric_spec, per_clip_values
from ..records import TrainRecord
from .stage1 import Stage1

EPS = 1e-12


@dataclass(frozen=True)
class Verdict:
    """One task's decision in one shared model."""

    drop: float          # mean seed-paired drop, in the metric's unit (positive = worse)
    se: float            # its standard error (seeds and decision clips)
    threshold: float     # τ + z·se
    clip: float          # one clip of the decision data in the metric's unit (0: no floor)
    seeds: int
    compatible: bool

    @property
    def margin(self) -> float:
        """Room left before the threshold (negative: over it)."""
        return self.threshold - self.drop

    def to_json(self) -> dict:
        return {"drop": round(self.drop, 6), "se": round(self.se, 6),
                "threshold": round(self.threshold, 6), "margin": round(self.margin, 6),
                "clip": round(self.clip, 6), "seeds": self.seeds, "compatible": self.compatible}


class Rule:
    """The rule for one run: its tolerances, noise multiplier and the stage-1 references."""

    def __init__(self, cfg: RunConfig, stage1: Stage1, final: bool = False):
        self.cfg, self.stage1 = cfg, stage1
        self.z = cfg.search.noise_z
        self.own = {t.name: t.tolerance for t in cfg.data.tasks}
        # the final tree may allow another drop (search.final_tolerance, a fraction: it applies
        # to tasks measured in fractions; a task in its label's unit keeps its own tolerance)
        self.final = cfg.search.final_tolerance if final else None

    def tolerance(self, task: str) -> float:
        """τ of a task, in its primary metric's unit."""
        fraction = metric_spec(self.stage1.metric(task)).fraction
        if self.final is not None and fraction:
            return self.final
        own = self.own.get(task)
        return self.cfg.search.tolerance if own is None else own

    def judge(self, task: str, records: list[TrainRecord]) -> Verdict:
        """The task's verdict in a shared model trained once per seed (`records`)."""
        metric = self.stage1.metric(task)
        reference = {r.seed: r for r in self.stage1.records[task]}
        pairs = [(reference[r.seed], r) for r in records if r.seed in reference]
        diffs = [metric_drop(ref.value(task), rec.value(task), metric) for ref, rec in pairs]
        r = len(diffs)
        mean = sum(diffs) / r
        var_seeds = sum((d - mean) ** 2 for d in diffs) / (r - 1) if r > 1 else 0.0
        clips = _clip_diffs(task, metric, pairs)
        n = len(clips)
        var_clips = 0.0
        if n > 1:
            m = sum(clips) / n
            var_clips = sum((c - m) ** 2 for c in clips) / (n - 1)
        se = math.sqrt(var_seeds / r + (var_clips / n if n else 0.0))
        threshold = self.tolerance(task) + self.z * se
        count = records[0].val[task].get("n", 0)
        clip = 1.0 / count if metric_spec(metric).fraction and count else 0.0
        compatible = not (mean > threshold + EPS and mean >= clip - EPS)
        return Verdict(mean, se, threshold, clip, r, compatible)

    def comparable(self, task: str, value: float) -> float:
        """A drop on the scale of fractions: as is for accuracy and EER, a label-unit drop
        rescaled by search.tolerance / the task's own tolerance, so that synergy adds like with
        like."""
        if metric_spec(self.stage1.metric(task)).fraction:
            return value
        own = self.own.get(task)
        return value * self.cfg.search.tolerance / own if own else value


def _clip_diffs(task: str, metric: str, pairs: list[tuple[TrainRecord, TrainRecord]]) -> list[float]:
    """Per decision clip, the paired difference averaged over seeds; [] when the records hold no
    per-clip values (a metric that is not a mean over clips, or records of older versions)."""
    per_seed = []
    for ref, rec in pairs:
        a, b = per_clip_values(ref.val[task]), per_clip_values(rec.val[task])
        if a is None or b is None or len(a) != len(b):
            return []
        per_seed.append([metric_drop(x, y, metric) for x, y in zip(a, b)])
    if not per_seed:
        return []
    return [sum(col) / len(col) for col in zip(*per_seed)]


def compatibility_depth(compatible: dict[int, bool | None]) -> int:
    """K: the largest k compatible at every depth ≤ k (0 when not even at depth 1)."""
    k = 0
    for d in sorted(compatible):
        if not compatible[d]:
            break
        k = d
    return k
