"""Every metric hmtl reports, in one table: its direction, its unit and how it is written.

    accuracy   classification   a fraction, shown in % (drops in points), higher is better
    macro_f1   classification   a fraction, higher is better
    eer        verification     a fraction, shown in % (drops in points), LOWER is better
    mae        regression       in the label's own unit, LOWER is better
    pearson_r  regression       a correlation, higher is better

A "drop" is positive when a value is worse than its reference, whatever the metric's direction,
in points for a fraction and in the label's unit for MAE. Only fractions share a scale, so means
over tasks take those alone. Plain Python: the report reads results.json through this table
without torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricSpec:
    name: str                 # the key in results.json and metrics.json
    higher_is_better: bool
    unit: str                 # "fraction" (shown in %), "label" (the label's unit), "correlation"
    label: str                # as written in prose: "accuracy", "EER", "MAE"
    column: str               # table column: "acc %", "EER %", "MAE"

    @property
    def fraction(self) -> bool:
        return self.unit == "fraction"


METRICS: dict[str, MetricSpec] = {m.name: m for m in (
    MetricSpec("accuracy", True, "fraction", "accuracy", "acc %"),
    MetricSpec("macro_f1", True, "fraction", "macro-F1", "F1 %"),
    MetricSpec("eer", False, "fraction", "EER", "EER %"),
    MetricSpec("mae", False, "label", "MAE", "MAE"),
    MetricSpec("pearson_r", True, "correlation", "Pearson r", "r"),
)}
TYPE_PRIMARY = {"classification": "accuracy", "regression": "mae", "verification": "eer"}
COUNTS = ("n", "trials")          # counts in a task's metrics dict, not metrics
PER_CLIP = "per_clip"             # a task's per-clip values on a split (see per_clip_values)
CONFUSION = "confusion"           # a classification's test confusion matrix (see per_class)
NOT_METRICS = COUNTS + ("primary", PER_CLIP, CONFUSION)
PRIMARY_ORDER = ("accuracy", "eer", "mae")


def metric_spec(name: str) -> MetricSpec:
    """The table's entry; an unknown name reads as a higher-is-better number in its own unit."""
    return METRICS.get(name) or MetricSpec(name, True, "label", name, name)


def drop(reference: float, value: float, metric: str = "accuracy") -> float:
    """Positive when `value` is worse than `reference`, whatever the metric's direction."""
    return (reference - value) if metric_spec(metric).higher_is_better else (value - reference)


def primary_of(metrics: dict | None) -> str | None:
    """The primary metric a task's metrics dict names (or the first of accuracy, EER, MAE it
    holds), else None."""
    if not isinstance(metrics, dict):
        return None
    if isinstance(metrics.get("primary"), str):
        return metrics["primary"]
    return next((k for k in PRIMARY_ORDER if k in metrics), None)


def primary_metric(metrics: dict) -> str:
    """The metric drops use, read off a task's metrics dict (whatever the task's type)."""
    name = primary_of(metrics)
    if name is None:
        raise KeyError(f"no primary metric among {sorted(metrics)}")
    return name


def primary_value(metrics: dict) -> float:
    return metrics[primary_metric(metrics)]


def per_clip_values(metrics: dict) -> list[float] | None:
    """Each clip's share of the primary metric, in the split's clip order: 1/0 for a correct or
    wrong class (their mean is the accuracy), the absolute error for a regression (their mean is
    the MAE); None where the metric is not a mean over clips (EER) or was not recorded."""
    stored = metrics.get(PER_CLIP)
    if stored is None:
        return None
    if isinstance(stored, str):
        return [float(c == "1") for c in stored]
    return [float(v) for v in stored]


# ----------------------------------------------------------------------------- classification

def accuracy(y_true, y_pred) -> float:
    return float((y_true == y_pred).mean()) if len(y_true) else float("nan")


def macro_f1(y_true, y_pred) -> float:
    """Unweighted mean of per-class F1 over the classes present in truth or prediction
    (scikit-learn's default for average='macro')."""
    import numpy as np

    if not len(y_true):
        return float("nan")
    classes = np.union1d(y_true, y_pred)
    scores = []
    for c in classes:
        tp = np.sum((y_pred == c) & (y_true == c))
        fp = np.sum((y_pred == c) & (y_true != c))
        fn = np.sum((y_pred != c) & (y_true == c))
        denom = 2 * tp + fp + fn
        scores.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(scores))


def confusion_matrix(y_true, y_pred, n_classes: int) -> list[list[int]]:
    """Clips per (true class, predicted class): row i holds the clips of class i, column j the
    clips predicted as j. Plain lists, as metrics.json stores them."""
    import numpy as np

    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return counts.tolist()


@dataclass(frozen=True)
class ClassScores:
    """One class's precision, recall and F1 from a confusion matrix, and its support (clips of
    the class). A ratio with nothing to count (no clip predicted or labelled as the class) is 0,
    as macro_f1 counts it."""

    precision: float
    recall: float
    f1: float
    support: int


def per_class(confusion: list[list[int]]) -> list[ClassScores]:
    """Each class's scores, rows of `confusion` being the true classes (confusion_matrix).
    Plain Python, so that it needs no numpy where results.json is read."""
    n = len(confusion)
    out = []
    for c in range(n):
        tp = confusion[c][c]
        support = sum(confusion[c])
        predicted = sum(confusion[r][c] for r in range(n))
        fp, fn = predicted - tp, support - tp
        out.append(ClassScores(precision=tp / predicted if predicted else 0.0,
                               recall=tp / support if support else 0.0,
                               f1=2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0,
                               support=int(support)))
    return out
