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
