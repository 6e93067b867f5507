"""The documentation inside the repository: every relative link resolves to a file of the
repository (never into ../shared, which a clone or a wheel lacks), and the example manifest and
config of docs/your-data.md load with the project's own readers and prepare into a dataset."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
HREF = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")
EXAMPLE = re.compile(r"<!--\s*docs-example:\s*(\w+)\s*-->\s*\n```\w*\n(.*?)^```", re.S | re.M)


def link_targets(text: str) -> list[str]:
    """Link targets of a markdown text, outside code blocks and inline code."""
    prose = INLINE_CODE.sub("", FENCE.sub("", text))
    return [m.group(1) for pattern in (INLINE_LINK, REFERENCE, HREF) for m in pattern.finditer(prose)]


def relative_targets(doc: Path) -> list[str]:
    """Targets that name a file of the repository: no URL scheme, no bare anchor; anchors dropped."""
    out = []
    for target in link_targets(doc.read_text(encoding="utf-8")):
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("#"):
            continue                                   # http(s), mailto, …; in-page anchors
        out.append(target.split("#", 1)[0].split("?", 1)[0])
    return [t for t in out if t]


def test_docs_exist():
    names = {p.name for p in DOCS}
    assert {"README.md", "method.md", "cli.md", "formats.md", "your-data.md"} <= names
    assert (ROOT / "LICENSE").is_file() and (ROOT / "CHANGELOG.md").is_file()


def test_link_parser_sees_links_not_code():
    text = ("see [a](docs/a.md#x) and [b][ref], `[c](nope.md)`, <a href=\"img/d.png\">d</a>\n"
            "```\n[e](in-code.md)\n```\n[ref]: ../shared/docs/b.md \"title\"\n"
            "[f](https://example.org/g.md) [h](#anchor)\n")
    assert set(link_targets(text)) == {"docs/a.md#x", "../shared/docs/b.md", "img/d.png",
                                       "https://example.org/g.md", "#anchor"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path):
    missing = []
    for target in relative_targets(doc):
        path = (doc.parent / target).resolve()
        if not path.exists():
            missing.append(target)
    assert not missing, f"{doc.relative_to(ROOT)}: links to nothing: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_link_leaves_the_repository(doc: Path):
    outside = []
    for target in relative_targets(doc):
        path = (doc.parent / target).resolve()
        if "shared/" in target.replace("\\", "/") or not path.is_relative_to(ROOT):
            outside.append(target)
    assert not outside, f"{doc.relative_to(ROOT)}: links outside the repository: {outside}"


def anchors(doc: Path) -> set[str]:
    """GitHub's heading anchors of a markdown file: lower case, punctuation dropped, spaces to '-'."""
    text = FENCE.sub("", doc.read_text(encoding="utf-8"))
    out = set()
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", text, re.M):
        out.add(re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-"))
    return out


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_anchors_into_markdown_exist(doc: Path):
    wrong = []
    for target in link_targets(doc.read_text(encoding="utf-8")):
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or "#" not in target:
            continue
        file, anchor = target.split("#", 1)
        path = (doc.parent / file).resolve() if file else doc
        if path.suffix == ".md" and path.is_file() and anchor not in anchors(path):
            wrong.append(target)
    assert not wrong, f"{doc.relative_to(ROOT)}: anchors that no heading makes: {wrong}"


# ----------------------------------------------------------------------------- your-data.md

def examples() -> dict[str, str]:
    text = (ROOT / "docs" / "your-data.md").read_text(encoding="utf-8")
    found = {m.group(1): m.group(2) for m in EXAMPLE.finditer(text)}
    assert {"manifest", "config"} <= found.keys(), \
        "docs/your-data.md: the <!-- docs-example: manifest|config --> blocks are missing"
    return found


def write_clips(manifest: Path, rate: int = 16000) -> int:
    """A short sine (0.6-2.4 s, so that clips are both cropped and padded) for every row."""
    import csv

    import soundfile as sf

    with open(manifest, newline="") as f:
        rows = list(csv.DictReader(f))
    for i, row in enumerate(rows):
        path = manifest.parent / row["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        seconds = 0.6 + 0.3 * (i % 7)
        t = np.arange(int(seconds * rate)) / rate
        sf.write(path, (0.3 * np.sin(2 * np.pi * (150 + 40 * i) * t)).astype(np.float32), rate)
    return len(rows)


def test_your_data_examples_load(tmp_path: Path):
    from hmtl.config import load_config
    from hmtl.data.manifest import read_manifest
    from hmtl.data.prepare import prepare_dataset
    from hmtl.data.splits import make_split

    found = examples()
    config = tmp_path / "config.yaml"
    config.write_text(found["config"])
    import yaml

    manifest = tmp_path / yaml.safe_load(found["config"])["data"]["manifest"]
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(found["manifest"])
    clips = write_clips(manifest)

    cfg = load_config(config)                      # the project's loader: types, keys, validation
    assert Path(cfg.data.manifest) == manifest.resolve()
    m = read_manifest(cfg.data.manifest, cfg.data.tasks)
    assert len(m) == clips
    assert any(v is None for labels in m.labels.values() for v in labels), \
        "the example should show an empty (unlabelled) cell"
    split = make_split(m, cfg.data)
    assert set(split.tolist()) == {0, 1, 2}

    data = prepare_dataset(cfg, tmp_path / "run" / "data")   # decode, crop/pad, features
    assert data.x.shape[0] == clips
    assert data.x.shape[2] >= cfg.features.num_frames
