"""Diagnostics users expect (issue 20): per-class scores and confusion matrices of the final
models, the per-epoch history in metrics.json, learning curves, the csv experiment logger and
RUN/MODEL_CARD.md. One tiny finished run is shared with test_report.py and test_export.py."""

import csv
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from hmtl.config import ModelConfig, TrainConfig
from hmtl.errors import HmtlError
from hmtl.metrics import CONFUSION, confusion_matrix, macro_f1, per_class
from hmtl.records import MethodResult, TrainRecord
from hmtl.report import write_model_card, write_report
from hmtl.results import diagnostics

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
from hmtl_mixed_run import mixed_run_dir  # noqa: E402


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory) -> Path:
    """A finished run: vowel (classification), f0 (regression), voice (verification)."""
    return mixed_run_dir(tmp_path_factory)


def _records(run: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((run / "runs").glob("*/metrics.json"))]


# ----------------------------------------------------------------------------- pure functions

def test_per_class_scores_by_hand():
    y = np.array([0, 0, 1, 1, 2])
    p = np.array([0, 1, 1, 1, 0])
    m = confusion_matrix(y, p, 4)                  # class 3: neither labelled nor predicted
    assert m == [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    c0, c1, c2, c3 = per_class(m)
    # class 0: tp 1, fp 1 (a 2 taken for a 0), fn 1 -> P 1/2, R 1/2, F1 1/2
    assert (c0.precision, c0.recall, c0.f1, c0.support) == (0.5, 0.5, 0.5, 2)
    # class 1: tp 2, fp 1, fn 0 -> P 2/3, R 1, F1 4/5
    assert c1.precision == pytest.approx(2 / 3) and c1.recall == 1.0
    assert c1.f1 == pytest.approx(0.8) and c1.support == 2
    # class 2: never predicted -> precision 0 (nothing to count), recall 0, F1 0
    assert (c2.precision, c2.recall, c2.f1, c2.support) == (0.0, 0.0, 0.0, 1)
    assert (c3.precision, c3.recall, c3.f1, c3.support) == (0.0, 0.0, 0.0, 0)
    # macro-F1 averages the classes present in truth or prediction
    assert macro_f1(y, p) == pytest.approx((c0.f1 + c1.f1 + c2.f1) / 3)


def _record(key: str, seed: int, tree, confusion=None, history=None) -> TrainRecord:
    test = {"a": {"accuracy": 0.5, "macro_f1": 0.5, "n": 4}}
    if confusion is not None:
        test["a"][CONFUSION] = confusion
    return TrainRecord(key=key, tag="final", tasks=["a"], tree=tree, seed=seed, params=10,
                       macs=20, val=test, test=test, best_epoch=1, epochs=1, seconds=0.1,
                       device="cpu", history=history)


def test_results_diagnostics_pool_seeds_and_skip_what_is_missing():
    tree = [[["a"]]]
    h = [{"epoch": 1, "loss": 1.0, "score": 0.5}]
    final = [_record("k0", 0, tree, [[2, 0], [1, 1]], h),
             _record("k1", 1, tree, [[1, 1], [0, 2]], h)]
    pooled = [_record("k2", 0, tree, [[2, 0], [0, 2]]), _record("k3", 0, [[["a"], ["b"]]],
                                                                   [[2, 0], [0, 2]])]
    old = [_record("k4", 0, tree), _record("k5", 1, tree)]          # trained before confusion
    methods = {name: MethodResult(params=10, nonzero_params=10, macs=20, metrics={},
                                  primary="accuracy", per_seed=[], records={"a": recs})
               for name, recs in (("final", final), ("pooled", pooled), ("old", old))}
    out = diagnostics(methods, ["a"], {"a": ["x", "y"]})
    assert out["split"] == "test" and set(out["methods"]) == {"final"}
    d = out["methods"]["final"]["tasks"]["a"]
    assert d["confusion"] == [[3, 1], [1, 3]] and d["trainings"] == 2
    x, y = d["per_class"]
    # x: seed 0 P 2/3 R 1, seed 1 P 1 R 1/2
    assert x["class"] == "x" and x["precision"] == pytest.approx((2 / 3 + 1) / 2)
    assert x["recall"] == pytest.approx(0.75)
    assert x["recall_std"] == pytest.approx(np.std([1, 0.5], ddof=1))
    assert x["support"] == 2 and y["support"] == 2
    assert [r["seed"] for r in out["methods"]["final"]["history"]] == [0, 1]


# ----------------------------------------------------------------------------- a finished run

def test_history_is_in_every_metrics_json(mixed_run):
    records = _records(mixed_run)
    assert records
    for r in records:
        h = r["history"]
        assert [e["epoch"] for e in h] == list(range(1, r["epochs"] + 1))
        assert all(set(e) == {"epoch", "loss", "score"} for e in h)
        best = h[r["best_epoch"] - 1]["score"]
        assert best == max(e["score"] for e in h[:r["best_epoch"]])
        assert TrainRecord.from_json(r).to_json() == r           # the round trip keeps it
    # the test confusion matrix of every classification task, and only there
    for r in records:
        for task, m in r["test"].items():
            assert (CONFUSION in m) == (task == "vowel")
            if task == "vowel":
                assert sum(map(sum, m[CONFUSION])) == m["n"]
                hits = sum(m[CONFUSION][i][i] for i in range(len(m[CONFUSION])))
                assert hits / m["n"] == pytest.approx(m["accuracy"])
        assert all(CONFUSION not in m for m in r["val"].values())


def test_results_json_keeps_diagnostics_of_the_final_models(mixed_run):
    results = json.loads((mixed_run / "results.json").read_text())
    diag = results["diagnostics"]["methods"]
    assert {"hierarchical", "independent", "flat"} <= set(diag)
    vowel = diag["hierarchical"]["tasks"]["vowel"]
    assert list(diag["hierarchical"]["tasks"]) == ["vowel"]       # classification only
    meta = json.loads((mixed_run / "data" / "meta.json").read_text())
    assert vowel["classes"] == meta["classes"]["vowel"]
    rows = vowel["per_class"]
    assert [r["class"] for r in rows] == vowel["classes"]
    support = sum(r["support"] for r in rows)
    assert support == meta["labelled"]["vowel"]["test"]
    # recall weighted by support is the accuracy results.json reports
    acc = results["methods"]["hierarchical"]["metrics"]["vowel"]["accuracy"]
    assert sum(r["recall"] * r["support"] for r in rows) / support == pytest.approx(acc)
    assert diag["hierarchical"]["history"][0]["history"]
    # the methods' own entries are as before: no new key among them
    assert "diagnostics" not in results["methods"]["hierarchical"]


def test_report_shows_per_class_tables_confusion_and_learning_curves(mixed_run):
    page = write_report(mixed_run).read_text()
    section = re.search(r'<section id="diagnostics">.*?</section>', page, re.S).group(0)
    assert "precision %" in section and "support" in section
    assert "vowel: confusion (row %)" in section and "<svg" in section
    assert "f0" not in re.sub(r"<svg.*?</svg>", "", section, flags=re.S)   # not a class task
    curves = re.search(r'<section id="curves">.*?</section>', page, re.S).group(0)
    assert "training loss" in curves and "validation score" in curves
    assert 'href="#diagnostics"' in page and 'href="#curves"' in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))


def test_model_card_names_every_task(mixed_run, tmp_path):
    card = (mixed_run / "MODEL_CARD.md").read_text()               # written by the run
    for task in ("vowel", "f0", "voice"):
        assert f"| {task} |" in card
    for heading in ("## Model", "## Tasks and labels", "## Data", "## Test metrics",
                    "## Intended use", "## Limitations", "## Training"):
        assert heading in card
    assert "**TO FILL IN**" in card and "manifest.csv" in card
    assert "`a`, `ae`" in card                                      # vowel's label set
    assert "ravdess: CC BY-NC-SA 4.0" in card                       # the recipes' licences
    # `hmtl report` writes it too, from a results.json alone
    from hmtl.cli.main import main as hmtl_main

    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(mixed_run / "results.json", alone / "results.json")
    assert hmtl_main(["report", str(alone)]) == 0
    card = (alone / "MODEL_CARD.md").read_text()
    assert all(f"| {t} |" in card for t in ("vowel", "f0", "voice"))


def test_old_results_json_without_the_new_keys_still_renders(mixed_run, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    results = json.loads((mixed_run / "results.json").read_text())
    results.pop("diagnostics")
    (old / "results.json").write_text(json.dumps(results))
    page = write_report(old).read_text()
    assert '<section id="diagnostics">' not in page and 'href="#curves"' not in page
    assert "| vowel |" in write_model_card(old).read_text()
    # a run whose final trainings were reused from before: the sections say why they are empty
    reused = tmp_path / "reused"
    reused.mkdir()
    results["diagnostics"] = {"split": "test", "methods": {}}
    (reused / "results.json").write_text(json.dumps(results))
    page = write_report(reused).read_text()
    section = re.search(r'<section id="diagnostics">.*?</section>', page, re.S).group(0)
    assert "Not recorded" in section
    # the report fixtures of an older run, as test_report.py uses them
    shutil.copy(FIXTURES / "report_results.json", tmp_path / "results.json")
    page = write_report(tmp_path).read_text()
    assert '<section id="diagnostics">' not in page and '<section id="methods">' in page


# ----------------------------------------------------------------------------- the logger

def _job(record: TrainRecord, logger: str):
    from hmtl.models import TreeSpec
    from hmtl.training.job import TrainJob

    return TrainJob(TreeSpec.from_json(record.tasks, record.tree), record.seed, ModelConfig(),
                    TrainConfig(logger=logger), tuple((t, 1.0) for t in record.tasks), "data",
                    tag=record.tag)


def test_csv_logger_writes_one_file_per_training_and_is_not_identity(mixed_run, tmp_path):
    from hmtl.training.store import RunStore

    raw = next(r for r in _records(mixed_run) if r["tag"] == "hierarchical")
    record = TrainRecord.from_json(raw)
    job = _job(record, "csv")
    assert job.key == _job(record, "none").key == _job(record, "tensorboard").key
    store = RunStore(tmp_path / "run" / "runs")
    store.save(job, record, {})
    logs = list((tmp_path / "run" / "logs").glob("*.csv"))
    assert [p.name for p in logs] == [f"hierarchical-seed{record.seed}-{record.key[:8]}.csv"]
    with open(logs[0], newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [h["epoch"] for h in record.history]
    assert [float(r["loss"]) for r in rows] == [h["loss"] for h in record.history]
    assert [int(r["epoch"]) for r in rows if r["best"] == "1"] == [record.best_epoch]
    # no logger: no logs folder
    store = RunStore(tmp_path / "quiet" / "runs")
    store.save(_job(record, "none"), record, {})
    assert not (tmp_path / "quiet" / "logs").exists()


def test_logger_key_is_checked_before_anything_runs(corpus, tmp_path):
    from hmtl.pipeline import run_pipeline
    from hmtl.testing import tiny_config
    from hmtl.training.logger import check_logger

    with pytest.raises(HmtlError, match="train.logger"):
        tiny_config(corpus, overrides=["train.logger=wandb"])
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(HmtlError, match="pip install tensorboard"):
            check_logger("tensorboard")
        cfg = tiny_config(corpus, overrides=["train.logger=tensorboard"])
        with pytest.raises(HmtlError, match="pip install tensorboard"):
            run_pipeline(cfg, tmp_path / "run", verbose=False)
        assert not (tmp_path / "run").exists()
    else:
        check_logger("tensorboard")
