"""How the report shows a task's primary metric, whatever the task's type (hmtl.tasks):

    accuracy   classification   a fraction, shown in % (drops in points), higher is better
    eer        verification     a fraction, shown in % (drops in points), LOWER is better
    mae        regression       in the label's own unit, 2 decimals, LOWER is better

A drop (results.compare, stage 2) is positive when the task got worse, whatever the metric's
direction, and is in points for a fraction and in the label's unit for MAE. Only the fractions
share a scale: means over tasks (mean drop, the trade-off plot) take those alone.

Plain Python (no torch, numpy or matplotlib): it works on results.json alone."""

from __future__ import annotations

from dataclasses import dataclass


def fixed(x: float, digits: int = 1, sign: bool = False) -> str:
    """x with `digits` decimals, never '-0.0' (a tiny negative drop is no drop)."""
    x = round(x, digits) + 0.0
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


@dataclass(frozen=True)
class Metric:
    name: str                 # the key in results.json: accuracy | eer | mae | …
    label: str                # as written in prose: "accuracy", "EER", "MAE"
    column: str               # table column unit: "acc %", "EER %", "MAE"
    fraction: bool            # in [0, 1]: shown ×100, drops in points
    higher_is_better: bool

    @property
    def scale(self) -> float:
        return 100.0 if self.fraction else 1.0

    @property
    def digits(self) -> int:
        return 1 if self.fraction else 2

    @property
    def direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    def text(self, value: float | None, sign: bool = False) -> str:
        """The value in its display unit, without the unit: 54.2 (%), 29.2 (%), 53.42."""
        if value is None:
            return "—"
        return fixed(value * self.scale, self.digits, sign=sign)

    def short(self, value: float | None) -> str:
        """With its name and unit, for a tight label: "54.2 %", "EER 29.2 %", "MAE 53.42"."""
        if value is None:
            return ""
        if self.name == "accuracy":
            return f"{self.text(value)} %"
        return f"{self.label} {self.text(value)}" + (" %" if self.fraction else "")


METRICS = {
    "accuracy": Metric("accuracy", "accuracy", "acc %", True, True),
    "eer": Metric("eer", "EER", "EER %", True, False),
    "mae": Metric("mae", "MAE", "MAE", False, False),
}
TYPE_PRIMARY = {"classification": "accuracy", "regression": "mae", "verification": "eer"}


def metric(name: str) -> Metric:
    return METRICS.get(name) or Metric(name, name, name, False, True)


def primary_of(metrics: dict | None) -> str | None:
    """The primary metric named in a task's metrics dict (or read off its keys), else None."""
    if not isinstance(metrics, dict):
        return None
    if isinstance(metrics.get("primary"), str):
        return metrics["primary"]
    return next((k for k in ("accuracy", "eer", "mae") if k in metrics), None)


def score(name: str, value: float | None) -> float | None:
    """A higher-is-better fraction for the trade-off plot: accuracy, 1 − EER; None for a metric
    not in [0, 1] (MAE), which stays out of means over tasks."""
    m = metric(name)
    if value is None or not m.fraction:
        return None
    return value if m.higher_is_better else 1.0 - value
