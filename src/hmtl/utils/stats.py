"""Small statistics for honest comparisons with few seeds: every comparison of two methods is
paired (same seeds, same splits, same test clips) and reported with a 95 % interval and a p-value
corrected for the number of comparisons; a difference whose interval includes 0 is "no
difference shown".

The unit of a comparison is a set of per-clip differences per task, one row per training unit
(a seed, or a seed of a split): `diffs[t]` is a (units × clips) array whose mean is the task's
difference in its primary metric. Two sources of noise go into the interval: which seeds were
trained (resampled as whole rows, the same rows for every task) and which clips were tested
(resampled within each task, the same clips for every unit: a clip is one sample of the
population, whatever model measures it). scipy's bootstrap resamples one level; this nested
resampling is written here. The p-value is scipy's permutation test over clips: under "no
difference", each clip's unit-averaged difference is as likely to have either sign."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
RESAMPLES = 4000


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
    units: int                # seeds (× splits) paired
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


def _weights(rng: np.random.Generator, n: int, draws: int) -> np.ndarray:
    """(draws × n) bootstrap weights: how often each of n items is drawn, over n."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=draws) / n


def paired_bootstrap(diffs: list[np.ndarray], resamples: int = RESAMPLES, level: float = LEVEL,
                     seed: int = 0) -> tuple[float, float, float]:
    """(estimate, low, high): the mean over tasks of each task's mean difference, with a
    percentile interval from resampling units (rows, shared by the tasks) and each task's clips
    (columns)."""
    rng = np.random.default_rng(seed)
    units = diffs[0].shape[0]
    estimate = float(np.mean([d.mean() for d in diffs]))
    unit_w = _weights(rng, units, resamples)                               # (B, units)
    total = np.zeros(resamples)
    for d in diffs:
        clip_w = _weights(rng, d.shape[1], resamples)                     # (B, clips)
        per_unit = clip_w @ d.T                                            # (B, units)
        total += (per_unit * unit_w).sum(axis=1)
    total /= len(diffs)
    alpha = (1 - level) / 2
    low, high = np.quantile(total, [alpha, 1 - alpha])
    return estimate, float(low), float(high)


def clip_permutation_p(diffs: list[np.ndarray], resamples: int = 9999, seed: int = 0) -> float:
    """Two-sided p-value of "no difference": each clip's unit-averaged difference changes sign
    at random (scipy.stats.permutation_test on paired samples); tasks weigh equally. When every
    task has one value per unit (no clips), the units' mean differences change sign instead."""
    from scipy import stats

    if all(d.shape[1] == 1 for d in diffs):           # one value per unit: flip the units
        values = np.mean(np.concatenate(diffs, axis=1), axis=1)
        weight = np.full(len(values), 1.0 / len(values))
    else:
        values = np.concatenate([d.mean(axis=0) for d in diffs])
        weight = np.concatenate([np.full(d.shape[1], 1.0 / (len(diffs) * d.shape[1]))
                                 for d in diffs])
    if len(values) < 2 or not np.any(values):       # nothing to permute, or nothing to test
        return 1.0

    def statistic(x, y, axis=-1):
        return np.sum((x - y) * weight, axis=axis)

    result = stats.permutation_test((values, np.zeros_like(values)), statistic,
                                    permutation_type="samples", n_resamples=resamples,
                                    vectorized=True, random_state=seed)
    return float(result.pvalue)


def compare_paired(diffs: list[np.ndarray], seed: int = 0) -> Comparison:
    estimate, low, high = paired_bootstrap(diffs, seed=seed)
    return Comparison(estimate, low, high, clip_permutation_p(diffs, seed=seed),
                      units=diffs[0].shape[0], clips=sum(d.shape[1] for d in diffs))


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
