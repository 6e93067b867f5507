"""The benchmark scripts are not run by the tests (they time things and need the real corpora),
but they must at least import: a helper moved between them once broke one silently."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
HELPERS = {"record", "pareto"}           # modules the scripts import, without a main() of their own


@pytest.mark.parametrize("script", sorted(p.stem for p in BENCHMARKS.glob("*.py")))
def test_benchmark_script_imports(script, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    module = importlib.import_module(script)
    assert callable(getattr(module, "main", None)) or script in HELPERS, \
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


def test_bench_reads_a_run_pooled_over_splits(monkeypatch, tmp_path):
    """A data.splits run has no single searched tree to rank: the lines give each split's rank
    and predictor figures from its folder (or say where they are), and the budget line names
    the splits' own trees instead of candidates."""
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
    # with the run's folder, each split's own rank and predictor figures, and their sum
    for i, (better, spearman) in enumerate([(7, 0.65), (9, 0.88)]):
        (tmp_path / f"split-{i}").mkdir()
        (tmp_path / f"split-{i}" / "results.json").write_text(json.dumps({
            "methods": {"random_tree": {"same_size": True, "searched": {
                "percentile": better / 10, "trees": 10, "at_least_as_good": 1 - better / 10,
                "at_least_as_good_interval": [0.1, 0.6]}}},
            "predictor": {"spearman": spearman, "trees": [{}] * 25,
                          "same_size": [{"trees": 11, "params": 23302, "spearman": 0.5}]}}))
    folders = {**pooled, "splits": [{"split": 0, "folder": "split-0"},
                                    {"split": 1, "folder": "split-1"}]}
    per_split = bench.split_results(folders, tmp_path)      # read once, for both lines
    line = bench.null_line(folders, "x", per_split)
    assert "in all, 4 of 20 random trees are at least as good" in line
    assert "split 0 beats 70 % of 10" in line and "split 1 beats 90 % of 10" in line
    line = bench.predictor_line(folders, "x", per_split)
    assert "+0.65 (split 0, 25 trees), +0.88 (split 1, 25 trees)" in line
    assert "split 1 +0.50 (11 of 23,302 params)" in line
    one = {"methods": {"random_tree": {}}, "budgets": [{**budget, "splits": None}]}
    assert bench.null_line(one, "x") == "- x: no random trees of this size"
    assert "splits chose" not in bench.budget_line(one, "x")[0]
    sys.modules.pop("bench", None)


def test_pareto_figure_plots_drop_against_params_and_against_macs(monkeypatch, tmp_path):
    """Issue 17 asks for the drop against params and against MACs: LTH is small in non-zero
    params but keeps the dense compute, which only the MACs panel shows."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    pareto = importlib.import_module("pareto")
    vs = {"mean_drop": 0.01, "mean_drop_std": 0.002}
    results = {"methods": {
        "independent": {"params": 900, "macs": 9e6, "vs_independent": {**vs, "mean_drop": 0.0}},
        "hierarchical": {"params": 400, "macs": 4e6, "vs_independent": vs},
        "lth": {"params": 900, "nonzero_params": 400, "macs": 9e6, "vs_independent": vs},
        "random_tree": {"params": 400, "macs": 4e6, "vs_independent": vs,
                        "trees": [{"params": 400, "macs": 4e6, "mean_drop": 0.03}]}},
        "budgets": [{"params": 350, "macs": 3e6, "method": {"vs_independent": vs}}]}
    out = pareto.pareto_figure("toy", [{"scale": 0.5, "results": results}], tmp_path / "toy.svg")
    svg = out.read_text()
    assert "trainable parameters (non-zero)" in svg and "multiply-accumulates per clip" in svg
    assert svg.count("random trees") == 1 and "60 %-smaller tree" in svg
    sys.modules.pop("pareto", None)


def test_full_bench_plan_is_the_deciding_points_unless_asked(monkeypatch):
    """make bench runs the points that decide the goal (sized for 3 h on 2 cores); widths or
    methods asked for hold at every point of the corpora asked for."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    bench = importlib.import_module("bench")
    every = tuple(bench.METHODS)
    assert bench.plan("ravdess", None, None) == [(0.25, every), (0.5, every)]
    [(scale, methods)] = bench.plan("digits3", None, None)
    assert scale == 0.5 and "lt4rec" not in methods and set(methods) == set(every) - {"lt4rec"}
    assert bench.plan("digits", None, None) == [(0.25, every), (0.5, every), (1.0, every)]
    assert bench.plan("digits3", "0.25,1", None) == [(0.25, methods), (1.0, methods)]
    asked = ["independent", "hierarchical", "lt4rec"]
    assert bench.plan("digits3", None, asked) == [(0.5, tuple(asked))]
    assert bench.plan("ravdess", "1", asked) == [(1.0, tuple(asked))]
    sys.modules.pop("bench", None)


def test_bench_section_says_when_its_trainings_ran(monkeypatch):
    """A resumed run renders today what trained earlier: the section names the trainings' days."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    bench = importlib.import_module("bench")
    one = [{"trained": ("2026-12-01", "2026-12-01")}, {"trained": None}]
    assert bench.trained_when(one) == " (trainings 2026-12-01)"
    two = [{"trained": ("2026-12-01", "2026-12-02")}, {"trained": ("2026-11-30", "2026-12-01")}]
    assert bench.trained_when(two) == " (trainings 2026-11-30 to 2026-12-02)"
    assert bench.trained_when([{}]) == ""
    sys.modules.pop("bench", None)
