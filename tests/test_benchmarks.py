"""The benchmark scripts are not run by the tests (they time things and need the real corpora),
but they must at least import: a helper moved between them once broke one silently."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.parametrize("script", sorted(p.stem for p in BENCHMARKS.glob("*.py")))
def test_benchmark_script_imports(script, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    module = importlib.import_module(script)
    assert callable(getattr(module, "main", None)) or script == "record", \
        f"benchmarks/{script}.py has no main()"
    sys.modules.pop(script, None)


def test_speed_compares_time_per_training_across_widths_with_macs(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    speed = importlib.import_module("speed")
    rows = [{"setting": "serial", "scale": 1.0, "per_training": 10.0, "macs": 4e6},
            {"setting": "serial", "scale": 0.25, "per_training": 5.0, "macs": 0.5e6},
            {"name": "reference", "per_training": 9.0}]          # no scale: not compared
    assert speed.across_widths(rows) == [
        "- serial: a training at ×0.25 takes 0.50× the time of one at ×1 for 0.12× the MACs"]
    # 2 GFLOP in 1 s of training against a 20 GFLOP/s peak: 10 %
    row = {"flops": 2e9, "train_seconds": 1.0, "macs": 4e6, "peak": 2e10}
    assert speed.arithmetic(row) == "4.00 M | 2.0 | 10.0 % | "
    sys.modules.pop("speed", None)


def test_bench_reads_a_run_pooled_over_splits(monkeypatch):
    """A data.splits run has no single searched tree to rank: the lines say where each split's
    rank is, and the budget line names the splits' own trees instead of candidates."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    bench = importlib.import_module("bench")
    ci = {"estimate": 0.015, "low": 0.006, "high": 0.023, "shown": True, "p_holm": 0.01}
    budget = {"params": 31000, "tree": None,
              "method": {"vs_independent": {"param_reduction": 0.62, "mean_drop": 0.002,
                                            "mean_drop_std": 0.007}},
              "comparisons": {"methods": {"random_tree": {"mean_drop": ci}}},
              "splits": [{"params": 30134}, {"params": 32390}]}
    pooled = {"splits": [{"split": 0}, {"split": 1}], "methods": {"random_tree": {}},
              "budgets": [budget]}
    assert "over 2 splits, each with its own searched tree" in bench.null_line(pooled, "x")
    assert "per split" in bench.predictor_line(pooled, "x")
    line, met = bench.budget_line(pooled, "x")
    assert "each of the 2 splits chose its own, 30,134-32,390 params" in line
    assert "+1.5 [+0.6, +2.3] (budget tree better)" in line and met
    one = {"methods": {"random_tree": {}}, "budgets": [{**budget, "splits": None}]}
    assert bench.null_line(one, "x") == "- x: no random trees of this size"
    assert "splits chose" not in bench.budget_line(one, "x")[0]
    sys.modules.pop("bench", None)
