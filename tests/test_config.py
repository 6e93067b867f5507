from pathlib import Path

import pytest

from hmtl.config import RunConfig, dump_config, load_config
from hmtl.errors import HmtlError

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path, text: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_loads_yaml_and_resolves_manifest_next_to_config(tmp_path):
    cfg = load_config(write(tmp_path, "data:\n  manifest: m.csv\n  tasks: [a, b]\n"))
    assert cfg.data.manifest == str(tmp_path / "m.csv")
    assert cfg.task_names == ["a", "b"]
    assert cfg.data.tasks[0].type == "classification"


def test_task_forms_are_equivalent(tmp_path):
    a = load_config(raw={"data": {"tasks": ["x", "y"]}})
    b = load_config(raw={"data": {"tasks": [{"name": "x"}, {"name": "y"}]}})
    c = load_config(raw={"data": {"tasks": {"x": None, "y": {}}}})
    assert a.data.tasks == b.data.tasks == c.data.tasks


def test_overrides_are_typed(tmp_path):
    cfg = load_config(write(tmp_path, "data: {tasks: [a]}\n"),
                      ["train.epochs=7", "model.widths=[8,8,8,8]", "search.noise_z=1"])
    assert cfg.train.epochs == 7 and cfg.model.widths == [8, 8, 8, 8]
    assert cfg.search.noise_z == 1.0 and isinstance(cfg.search.noise_z, float)


@pytest.mark.parametrize("text, message", [
    ("data: {tasks: [a]}\ntrain: {epoch: 3}\n", "train.epoch: unknown key (did you mean 'epochs'?)"),
    ("data: {tasks: [a]}\ntrain: {epochs: -1}\n", "train.epochs: must be >= 1"),
    ("data: {tasks: [a]}\ntrain: {epochs: many}\n", "train.epochs: expected an integer"),
    ("data: {tasks: [a]}\nfeatures: {kind: cqt}\n", "features.kind: must be one of"),
    ("data: {tasks: []}\n", "data.tasks: at least one task"),
    ("data: {tasks: [a, a]}\n", "duplicate task name"),
    ("data: {tasks: [a]}\nmodel: {blocks: 3, widths: [4, 4]}\n", "model.widths: need 3"),
    ("data: {tasks: [a]\n", "YAML syntax error"),
])
def test_bad_configs_give_one_line_naming_the_key(tmp_path, text, message):
    with pytest.raises(HmtlError) as e:
        load_config(write(tmp_path, text))
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_file():
    with pytest.raises(HmtlError, match="config file not found"):
        load_config("/nonexistent/x.yaml")


def test_dump_round_trips(tmp_path):
    cfg = load_config(raw={"data": {"tasks": ["a"]}, "train": {"epochs": 3}})
    again = load_config(write(tmp_path, dump_config(cfg)))
    assert again == cfg and isinstance(again, RunConfig)


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    from hmtl.pipeline import check_methods

    cfg = load_config(path)
    check_methods(cfg)
    assert cfg.task_names


def test_unknown_methods_are_named_in_one_line(tmp_path):
    from hmtl.pipeline import check_methods

    with pytest.raises(HmtlError) as e:
        check_methods(load_config(write(tmp_path, "data: {tasks: [a]}\nmethods: [flat, magic]\n")))
    assert "unknown method(s) ['magic']" in str(e.value) and "\n" not in str(e.value)


def test_deprecated_early_exit_maps_to_sweep():
    assert load_config(raw={"data": {"tasks": ["a"]}, "search": {"early_exit": False}}).search.sweep == "exhaustive"
    assert load_config(raw={"data": {"tasks": ["a"]}, "search": {"early_exit": True}}).search.sweep == "upward"
    assert load_config(raw={"data": {"tasks": ["a"]},
                            "search": {"early_exit": False, "sweep": "binary"}}).search.sweep == "binary"
