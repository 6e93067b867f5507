"""How the report writes a task's primary metric, whatever the task's type. Direction and unit
come from hmtl.metrics, the one table of metrics; this adds the display rules (a fraction in %
with one decimal, a label's unit with two).

Plain Python (no torch, numpy or matplotlib): it works on results.json alone."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..metrics import TYPE_PRIMARY, MetricSpec, metric_spec, primary_of  # noqa: F401  (load.py)


def fixed(x: float, digits: int = 1, sign: bool = False) -> str:
    """x with `digits` decimals, never '-0.0' (a tiny negative drop is no drop)."""
    x = round(x, digits) + 0.0
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


@dataclass(frozen=True)
class Metric(MetricSpec):
    """A metric as the report writes it: hmtl.metrics' entry with display rules."""

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


def metric(name: str) -> Metric:
    return Metric(**dataclasses.asdict(metric_spec(name)))


def score(name: str, value: float | None) -> float | None:
    """A higher-is-better fraction for the trade-off plot: accuracy, 1 − EER; None for a metric
    not in [0, 1] (MAE), which stays out of means over tasks."""
    m = metric(name)
    if value is None or not m.fraction:
        return None
    return value if m.higher_is_better else 1.0 - value
