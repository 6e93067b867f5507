"""Small statistics for honest comparisons with few seeds: every comparison of two methods is
paired (same seeds, same splits, same test clips) and reported with a 95 % interval and a p-value
corrected for the number of comparisons; a difference whose interval includes 0 is "no
difference shown".

The unit of a comparison is a training unit: a seed, or with several splits a split (its seeds
share its training and test clips: evidence.py averages them). `diffs[t]` is a
(rows × clips) array of per-clip differences for task t, one row per pair of trainings; rows
of one unit (several trainings of a method at one seed, e.g. ten random trees) are averaged
first, since they share the reference's training. Two sources of noise go into the interval:
which trainings came out of the seeds (each unit's difference varies with training noise: two
trainings that differ only in float rounding already differ by 2-4 points on a few hundred
clips) and which clips were tested (shared by every unit). The standard error adds the two
(units: their sample variance; clips: each task's per-clip variance of the unit-averaged
difference), and the interval and p-value come from Student's t with Welch-Satterthwaite
degrees of freedom: with 3 seeds the seed part has 2, so t is 4.3, not 1.96. A percentile
bootstrap over 3 seeds (this module until 2026-12-01) gave intervals about half as wide, and a
rerun of the same benchmark that differed only in float rounding found non-overlapping ones.
With one unit the training noise cannot be estimated and the interval covers the clips only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEVEL = 0.95


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


@dataclass(frozen=True)
class Comparison:
    """A paired difference with its interval and test."""

    estimate: float
    low: float
    high: float
    p: float                  # two-sided permutation p-value
    units: int                # seeds paired (with several splits: the splits)
    clips: int                # test clips per task, summed over tasks
    p_holm: float | None = None

    @property
    def shown(self) -> bool:
        """A difference is called only when its interval excludes 0 and, with several
        comparisons, its Holm-corrected p-value is below 1 − LEVEL."""
        excludes = self.low > 0 or self.high < 0
        return excludes and (self.p_holm if self.p_holm is not None else self.p) < 1 - LEVEL

    def to_json(self) -> dict:
        return {"estimate": round(self.estimate, 6), "low": round(self.low, 6),
                "high": round(self.high, 6), "p": round(self.p, 6),
                "p_holm": None if self.p_holm is None else round(self.p_holm, 6),
                "units": self.units, "clips": self.clips, "shown": self.shown}


def unit_means(diffs: list[np.ndarray], groups: list[list] | None = None) -> list[np.ndarray]:
    """Each task's rows averaged per unit: `groups[t]` labels task t's rows with their unit
    (None: every row is its own unit, in the same order for every task). Units every task has,
    in sorted order."""
    if groups is None:
        return [np.asarray(d, dtype=float) for d in diffs]
    labels = sorted(set.intersection(*(set(g) for g in groups)))
    out = []
    for d, g in zip(diffs, groups):
        d = np.asarray(d, dtype=float)
        out.append(np.stack([d[[i for i, x in enumerate(g) if x == u]].mean(axis=0)
                             for u in labels]))
    return out


def paired_t(diffs: list[np.ndarray], level: float = LEVEL) -> tuple[float, float, float, float]:
    """(estimate, low, high, p) for the mean over tasks of each task's mean difference, from
    per-unit rows (units × clips; one column: a task-level value per unit). Standard error:
    units' sample variance of their mean difference over n, plus each task's per-clip variance
    of the unit-averaged difference over its clips; Student's t with Welch-Satterthwaite
    degrees of freedom."""
    from scipy import stats

    n = diffs[0].shape[0]
    per_unit = np.mean([d.mean(axis=1) for d in diffs], axis=0)          # (n,)
    estimate = float(per_unit.mean())
    parts, dfs = [], []
    if n > 1:
        parts.append(per_unit.var(ddof=1) / n)
        dfs.append(n - 1)
    for d in diffs:
        if d.shape[1] > 1:                   # clips: shared by the units
            clip = d.mean(axis=0)
            parts.append(clip.var(ddof=1) / len(clip) / len(diffs) ** 2)
            dfs.append(len(clip) - 1)
    var = float(sum(parts))
    if var <= 0:                             # nothing varies: no interval to speak of
        return estimate, estimate, estimate, 1.0 if estimate == 0 or not parts else 0.0
    df = var ** 2 / sum(v ** 2 / f for v, f in zip(parts, dfs) if v > 0)
    se = var ** 0.5
    half = float(stats.t.ppf(0.5 + level / 2, df)) * se
    p = float(2 * stats.t.sf(abs(estimate) / se, df))
    return estimate, estimate - half, estimate + half, p


def compare_paired(diffs: list[np.ndarray], groups: list[list] | None = None) -> Comparison:
    """A paired comparison: each task's rows of `diffs` grouped into units by `groups[t]`."""
    units = unit_means(diffs, groups)
    estimate, low, high, p = paired_t(units)
    return Comparison(estimate, low, high, p, units=units[0].shape[0],
                      clips=sum(d.shape[1] for d in units))


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment of p-values for the number of comparisons."""
    m = len(pvalues)
    order = np.argsort(pvalues)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted.tolist()
