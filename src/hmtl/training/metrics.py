"""Per-task metrics. Each metric says whether higher is better, so that a "drop" is defined
the same way for every task type (positive drop = worse)."""

from __future__ import annotations

import numpy as np

HIGHER_IS_BETTER = {"accuracy": True, "macro_f1": True, "mae": False, "pearson_r": True,
                    "eer": False}


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float((y_true == y_pred).mean()) if len(y_true) else float("nan")


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted mean of per-class F1 over the classes present in truth or prediction
    (scikit-learn's default for average='macro')."""
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


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {"accuracy": accuracy(y_true, y_pred), "macro_f1": macro_f1(y_true, y_pred),
            "n": int(len(y_true))}


def drop(reference: float, value: float, metric: str = "accuracy") -> float:
    """Positive when `value` is worse than `reference`, whatever the metric's direction."""
    return (reference - value) if HIGHER_IS_BETTER[metric] else (value - reference)
