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


# ----------------------------------------------------------------------------- the reference

def test_every_key_has_a_help_string():
    import dataclasses

    from hmtl.config import reference
    from hmtl.config.schema import TaskConfig

    for section in reference.sections():
        for key in section.keys:
            assert key.help, f"{section.name}.{key.name} has no help string"
    assert all(f.metadata.get("help") for f in dataclasses.fields(TaskConfig))


def test_defaults_yaml_is_valid_and_loads_back_to_the_defaults():
    import yaml

    from hmtl.config.loading import from_dict
    from hmtl.config.reference import defaults_yaml, sections

    text = defaults_yaml()
    assert from_dict(RunConfig, yaml.safe_load(text), where="") == RunConfig()
    commented, section, previous = set(), "", ""
    for line in text.splitlines():                   # every key, with its help just above it
        if line and not line.startswith((" ", "#")) and line.endswith(":"):
            section = line[:-1]
        elif line and not line.lstrip().startswith("#") and previous.lstrip().startswith("# "):
            commented.add((section if line.startswith(" ") else "", line.split(":")[0].strip()))
        previous = line
    assert commented == {(s.name, k.name) for s in sections() for k in s.keys}


def test_defaults_yaml_task_example_is_valid_when_uncommented():
    import yaml

    from hmtl.config.loading import from_dict
    from hmtl.config.reference import defaults_yaml
    from hmtl.config.schema import TaskConfig

    lines = defaults_yaml().splitlines()
    start = lines.index("  # tasks:")
    example = [lines[start]] + [line for line in lines[start + 1:]
                                if line.startswith("  #   ")]
    tasks = yaml.safe_load("\n".join(line[len("  # "):] for line in example))["tasks"]
    assert from_dict(TaskConfig, {**tasks[0], "name": "x"}) == TaskConfig("x")


def test_markdown_reference_has_a_table_per_section():
    from hmtl.config.reference import markdown_reference, sections

    text = markdown_reference()
    title = text.splitlines()[0]
    assert title.startswith("# ") and "generated by `hmtl config --markdown`" in title
    for section in sections():
        assert f"## {section.name or 'top level'}\n" in text
        for key in section.keys:
            name = f"{section.name}.{key.name}" if section.name else key.name
            assert f"| `{name}` |" in text
    assert "| `train.device` | string | `auto` |" in text
    assert "| `data.split_by` | stratified \\| group | `stratified` |" in text   # pipes escaped


def test_docs_config_md_is_the_generated_reference():
    from hmtl.config.reference import markdown_reference

    page = REPO / "docs" / "config.md"
    assert page.read_text() == markdown_reference(), (
        "docs/config.md is out of date with the schema: run "
        "`hmtl config --markdown > docs/config.md`")


# ----------------------------------------------------------------------------- train.device

# The job keys of a default config, computed before train.device's default became `auto` (it
# was `cpu`). A job's key names its folder in a run's content-addressed cache of trainings: a
# different key would retrain every finished training of every existing run folder. The device
# is where a job runs, not what it is (training/job.py HOW_IT_RUNS), so the keys must not move.
DEFAULT_JOB_KEYS = {"single": "ae4f61773b256cdf", "pair": "3e9210547fb0241e"}


@pytest.mark.parametrize("device", [None, "cpu", "auto", "cuda"])
def test_default_device_is_auto_and_job_keys_do_not_move(device):
    from hmtl.models import TreeSpec
    from hmtl.training.job import TrainJob

    raw = {"data": {"tasks": ["a", "b"]}}
    if device:
        raw["train"] = {"device": device}
    cfg = load_config(raw=raw)
    assert cfg.train.device == (device or "auto")
    L = cfg.model.blocks
    single = TrainJob(TreeSpec.single("a", L), 0, cfg.model, cfg.train, (("a", 1.0),), "data-key")
    pair = TrainJob(TreeSpec.pair("a", "b", 2, L), 0, cfg.model, cfg.train,
                    (("a", 1.0), ("b", 1.0)), "data-key")
    assert {"single": single.key, "pair": pair.key} == DEFAULT_JOB_KEYS
