"""report.html from a results.json alone (fixtures from a finished demo run), and `hmtl report`."""

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hmtl.cli.main import main as hmtl_main
from hmtl.errors import HmtlError
from hmtl.report import write_report

FIXTURES = Path(__file__).parent / "fixtures"
CHROMIUM = Path("/usr/bin/chromium")


def run_folder(tmp_path: Path, results: str = "report_results.json", data: bool = False) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(FIXTURES / results, run / "results.json")
    if data:
        (run / "data").mkdir()
        shutil.copy(FIXTURES / "report_meta.json", run / "data" / "meta.json")
        shutil.copy(FIXTURES / "report_config.yaml", run / "config.yaml")
    return run


def assert_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for pattern in (r"<script", r"<link", r"<img", r"<image", r"<iframe", r"@import",
                    r"url\(\s*['\"]?https?:",
                    r"(src|href)=\"(https?:)?//"):
        assert not re.search(pattern, page, re.I), pattern


def test_report_from_results_json_alone(tmp_path):
    run = run_folder(tmp_path)
    results = json.loads((run / "results.json").read_text())
    path = write_report(run)
    assert path == run / "report.html"
    assert sorted(p.name for p in run.iterdir()) == ["report.html", "results.json"]   # one file
    page = path.read_text()
    assert_self_contained(page)
    for name in results["tasks"] + list(results["methods"]):
        assert name in page
    for anchor in ("data", "stage1", "synergy", "tree", "methods", "tradeoff", "cost", "notes"):
        assert f'<section id="{anchor}">' in page and f'href="#{anchor}"' in page
    # one heat-map per depth, K and synergy matrices, the tree, two scatters
    assert page.count("<svg") >= 3 + 2 + 1 + 2
    for k in (1, 2, 3):
        assert f"k = {k} shared block" in page
    assert "compatibility depth K" in page and "mean synergy" in page
    tree = re.search(r'<svg class="tree".*?</svg>', page, re.S).group(0)
    assert tree.count('class="node shared"') == 1 + 1 + 2      # fixture tree: 1, 1, then 2 pairs
    assert "rhythm" in tree and "<path class=\"edge\"" in tree
    # matplotlib's ids are made unique per figure: no id occurs twice in the page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    assert "13,424" in page and "76.4 %" in page                # hierarchical params, reduction


def test_skipped_and_missing_pairs_are_marked(tmp_path):
    run = run_folder(tmp_path)
    results = json.loads((run / "results.json").read_text())
    pair = next(c for c in results["compatibility"] if c["tasks"] == ["vowel", "pitch"])
    for key in ("drops", "drop_std", "synergy"):
        pair[key].pop("3")
    pair["skipped"] = {"3": "incompatible at depth 2: not trained (early exit)"}
    results["compatibility"] = [c for c in results["compatibility"]
                                if c["tasks"] != ["height", "rhythm"]]
    (run / "results.json").write_text(json.dumps(results))
    page = write_report(run).read_text()
    panel = next(svg for svg in re.findall(r"<svg.*?</svg>", page, re.S)
                 if "k = 3 shared blocks" in svg)
    assert panel.count(">skip<") == 2                  # (vowel, pitch) and (pitch, vowel)
    assert panel.count(">n/a<") == 2                   # the pair left out
    assert "incompatible at depth 2: not trained (early exit)" in page


@pytest.fixture(scope="module")
def full_report(tmp_path_factory) -> Path:
    """The report of a run folder with results.json, data/meta.json and config.yaml."""
    return write_report(run_folder(tmp_path_factory.mktemp("full"), data=True))


def test_per_depth_sizes_with_config_and_meta(full_report):
    page = full_report.read_text()
    # tc_cnn, widths 32/32/6 on 32 mel bands: 5,184 params per block 1 and 2, 972 for block 3;
    # with 140 head params they add up to the hierarchical model's 13,424
    assert "params at depth" in page and "5,184" in page and "2,916" in page and "140" in page
    assert "clips per class" in page and "700" in page


def test_stage1_only_run(tmp_path):
    run = run_folder(tmp_path, "report_results_stage1.json")
    page = write_report(run).read_text()
    assert_self_contained(page)
    assert "independent" in page and "vowel" in page
    assert "No pair measurements" in page and "the run stopped after stage 1" in page
    assert "No tree" in page and 'class="tree"' not in page
    assert "stopped after stage1" in page


def test_write_report_errors(tmp_path):
    with pytest.raises(HmtlError, match="run folder not found"):
        write_report(tmp_path / "nowhere")
    with pytest.raises(HmtlError, match="results.json not found"):
        write_report(tmp_path)
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(HmtlError, match="not valid JSON"):
        write_report(tmp_path)
    (tmp_path / "results.json").write_text('{"tasks": ["a"]}')
    with pytest.raises(HmtlError, match="'methods'"):
        write_report(tmp_path)


def test_cli_rewrites_report_and_results_md(tmp_path, capsys):
    run = run_folder(tmp_path)
    assert hmtl_main(["report", str(run)]) == 0
    assert (run / "report.html").is_file()
    md = (run / "results.md").read_text()
    assert "| hierarchical | 13,424 |" in md and "Hierarchical tree:" in md
    assert "report.html" in capsys.readouterr().out


def test_cli_without_results_json_exits_2_with_one_line(tmp_path):
    for target in (tmp_path, tmp_path / "missing"):
        r = subprocess.run([sys.executable, "-m", "hmtl.cli.main", "report", str(target)],
                           capture_output=True, text=True)
        assert r.returncode == 2
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hmtl: error: ") and str(target) in lines[0]


def test_import_hmtl_does_not_import_matplotlib():
    code = ("import sys, hmtl, hmtl.report, hmtl.cli.main as m; m.build_parser(); "
            "print('matplotlib' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "False", r.stderr


def chromium(page: Path, tmp_path: Path, *action: str) -> subprocess.CompletedProcess:
    """Headless Chromium on a local page, its console written to stderr (--enable-logging)."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                           "--enable-logging=stderr", "--v=0", *action, page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=120)


def console_messages(stderr: str) -> list[str]:
    """The page's console lines in Chromium's log ("...:CONSOLE:<line>] "message", source: ...").
    The log gives every console message the same level, and report.html has no script: any
    line is the browser's own complaint (an invalid SVG attribute, a blocked resource)."""
    return [line for line in stderr.splitlines() if re.search(r":CONSOLE[:(]\d*", line)]


def not_blank(png: Path) -> float:
    """Share of the screenshot's pixels that are not the background colour."""
    try:
        import matplotlib.image as mpimg
    except ImportError:               # no decoder: a blank 1280x4000 PNG is under 20 kB
        return 1.0 if png.stat().st_size > 50_000 else 0.0
    import numpy as np

    img = mpimg.imread(png)[..., :3]
    background = np.median(img.reshape(-1, 3), axis=0)
    return float((np.abs(img - background).max(axis=2) > 0.05).mean())


needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason="/usr/bin/chromium not installed")


@needs_chromium
def test_page_renders_in_headless_chromium(tmp_path, full_report):
    source = full_report.read_text()
    figures = len(re.findall(r"<svg\b", source))
    assert figures >= 3                                 # the tree diagram and the plots
    r = chromium(full_report, tmp_path, "--dump-dom")
    assert r.returncode == 0, r.stderr[-2000:]
    dom = r.stdout
    assert "<section id=\"methods\">" in dom and len(re.findall(r"<svg\b", dom)) == figures
    assert len(re.findall(r"<(path|rect|line|polyline|circle|text)\b", dom)) > 50
    assert console_messages(r.stderr) == [], console_messages(r.stderr)

    png = tmp_path / "page.png"
    r = chromium(full_report, tmp_path, f"--screenshot={png}", "--window-size=1280,4000")
    assert png.is_file(), r.stderr[-2000:]
    assert not_blank(png) > 0.02


@needs_chromium
def test_console_check_catches_errors(tmp_path):
    """The check above can fail: a page with an invalid SVG path and a script error."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><svg width='9' height='9'>"
                    "<path d='M 0 0 L x y'/></svg><script>undefinedFunction()</script>"
                    "</body></html>")
    messages = console_messages(chromium(page, tmp_path, "--dump-dom").stderr)
    assert any("attribute d" in m for m in messages), messages
    assert any("undefinedFunction" in m for m in messages), messages


def test_latency_and_size_appear_when_exported(tmp_path):
    folder = run_folder(tmp_path)
    results = json.loads((folder / "results.json").read_text())
    results["methods"]["hierarchical"].update({"latency_ms": 0.262, "onnx_bytes": 632705})
    (folder / "results.json").write_text(json.dumps(results))
    page = write_report(folder).read_text()
    assert "latency" in page and "0.262" in page and ">633<" in page


# ----------------------------------------------------------------------------- task types

sys.path.insert(0, str(FIXTURES))
from hmtl_mixed_run import mixed_run_dir  # noqa: E402


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory) -> Path:
    """A finished run with a classification, a regression (f0) and a verification (voice)."""
    return mixed_run_dir(tmp_path_factory)


def _svgs(page: str, marker: str) -> list[str]:
    return [s for s in re.findall(r"<svg.*?</svg>", page, re.S) if marker in s]


def test_mixed_type_report_names_mae_and_eer(mixed_run):
    results = json.loads((mixed_run / "results.json").read_text())
    page = write_report(mixed_run).read_text()
    assert_self_contained(page)
    h = results["methods"]["hierarchical"]["metrics"]
    # methods table: each task in its own metric and unit, lower-is-better ones marked
    assert 'vowel<br><span class="unit">acc %</span>' in page
    assert 'f0<br><span class="unit">MAE ↓</span>' in page
    assert 'voice<br><span class="unit">EER % ↓</span>' in page
    assert f"{h['f0']['mae']:.2f}" in page and f"{100 * h['voice']['eer']:.1f}" in page
    assert "lower is better" in page and "in the label's own unit" in page
    assert 'f0 drop<br><span class="unit">MAE</span>' in page           # its own drop column
    assert "Test accuracy, mean" not in page                          # no accuracy-only intro
    # stage 1: the metric named per row
    stage1 = page[page.index('<section id="stage1">'):page.index('<section id="synergy">')]
    assert "MAE" in stage1 and "EER" in stage1 and "Pearson r" in stage1
    # heat-maps: the regression row on its own scale, said so in the legend and the labels
    drops = _svgs(page, "k = 1 shared block")
    assert drops and "f0 (MAE)" in drops[0]
    assert "f0 row, MAE in the label's unit" in page
    assert "validation accuracy drop" not in page
    synergy = _svgs(page, "mean synergy over trained depths")[0]
    assert synergy.count(">units<") == 4           # (vowel, f0), (f0, voice), both ways
    # the tree's heads: accuracy in %, EER in %, MAE in the label's unit
    tree = re.search(r'<svg class="tree".*?</svg>', page, re.S).group(0)
    assert f"MAE {h['f0']['mae']:.2f}" in tree and f"EER {100 * h['voice']['eer']:.1f} %" in tree
    assert f"{100 * h['vowel']['accuracy']:.1f} %" in tree
    # the scatters' y: accuracy and 1 − EER; the regression is left out of the mean, and said so
    scatter = _svgs(page, "dense MACs per clip")[0]
    assert "mean test accuracy and 1 − EER over tasks (%)" in scatter
    assert "regression tasks (f0) are left out of the mean" in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))


def test_mixed_type_report_from_results_json_alone(mixed_run, tmp_path):
    """Without data/ and config.yaml the types come from results.json alone."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(mixed_run / "results.json", run / "results.json")
    page = write_report(run).read_text()
    assert_self_contained(page)
    data = page[page.index('<section id="data">'):page.index('<section id="stage1">')]
    data = html.unescape(data)
    assert "MAE (in the label's unit, lower is better)" in data
    assert "EER (lower is better)" in data and "accuracy" in data
    assert 'f0<br><span class="unit">MAE ↓</span>' in page


def test_cost_section_says_when_trainings_ran_at_different_thread_counts(tmp_path):
    run = run_folder(tmp_path)
    for key, threads in (("a", 2), ("b", 2)):
        (run / "runs" / key).mkdir(parents=True)
        (run / "runs" / key / "metrics.json").write_text(
            json.dumps({"tag": f"pair {key}", "seconds": 1.0, "threads": threads}))
    cost = re.search(r'<section id="cost">.*?</section>', write_report(run).read_text(), re.S)
    assert "torch threads per training" in cost.group(0) and "mixed" not in cost.group(0)
    (run / "runs" / "b" / "metrics.json").write_text(
        json.dumps({"tag": "pair b", "seconds": 1.0, "threads": 1}))
    cost = re.search(r'<section id="cost">.*?</section>', write_report(run).read_text(), re.S)
    assert "1, 2 — mixed" in cost.group(0)


def test_incompatible_cells_are_the_stored_decisions_not_a_recomputation():
    from hmtl.report.synergy import depth_matrix, drop_matrix

    # a is 3 points worse at k=1 but the stored decision (noise-aware) found it compatible;
    # b is 0.5 points worse and the decision says incompatible: the report shows the decisions
    compat = [{"tasks": ["a", "b"], "depth": 1, "drops": {"1": {"a": 0.03, "b": 0.005}},
               "tolerance": {"a": 0.01, "b": 0.01},
               "decisions": {"1": {"a": {"compatible": True}, "b": {"compatible": False}}}}]
    row_a, row_b = drop_matrix(["a", "b"], compat, 1)
    assert row_a[1].value == 0.03 and not row_a[1].over
    assert row_b[0].value == 0.005 and row_b[0].over
    assert depth_matrix(["a", "b"], compat)[0][1].value == 1.0       # K as stored


def test_pooled_run_report_gives_each_splits_rank_structure_and_predictor(tmp_path):
    """A run over splits pools their seeds; the report reads each split's folder for what only
    one split can say, and leaves out a split whose folder is gone."""
    run = run_folder(tmp_path)
    results = json.loads((run / "results.json").read_text())
    tasks = results["tasks"]
    results["splits"] = [{"split": i, "folder": f"split-{i}", "split_seed": i} for i in range(3)]
    (run / "results.json").write_text(json.dumps(results))
    for i, (beaten, matters, rho) in enumerate([(0.7, True, 0.67), (0.9, False, -0.2)]):
        split = json.loads(json.dumps(results))
        del split["splits"]
        split["methods"]["hierarchical"]["tree"] = [[tasks], [tasks[:1], tasks[1:]]]
        split["methods"]["random_tree"] = {
            "params": 1000, "searched": {"trees": 10, "percentile": beaten,
                                         "at_least_as_good": round(1 - beaten, 1),
                                         "at_least_as_good_interval": [0.05, 0.6]},
            "structure": {"spread": 0.01, "seed_noise": 0.002, "p": 0.0 if matters else 0.4,
                          "matters": matters}}
        split["predictor"] = {"trees": [], "spearman": rho, "same_size": []}
        (run / f"split-{i}").mkdir()
        (run / f"split-{i}" / "results.json").write_text(json.dumps(split))
    page = write_report(run).read_text()
    part = page[page.index("Each split on its own"):]
    part = part[:part.index("</table>")]
    assert "(2 of 3 split folders found)" in part
    assert "In all, 4 of 20 random trees are at least as good" in part
    assert "matters (p &lt; 0.001)" in part                    # escaped: a bare < breaks the page
    cells = [html.unescape(re.sub(r"<[^>]+>", "", c))
             for c in re.findall(r"<td[^>]*>(.*?)</td>", part)]
    assert "3 of 10 (beats 70 %)" in cells and "1 of 10 (beats 90 %)" in cells
    assert "matters (p < 0.001)" in cells and "not shown (p = 0.400)" in cells
    assert "+0.67" in cells and "-0.20" in cells
    assert f"{tasks[0]} / {'+'.join(tasks[1:])}" in cells
