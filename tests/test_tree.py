import pytest

from hmtl.models import TreeSpec

T = ("a", "b", "c")


def test_constructors_and_queries():
    ind = TreeSpec.independent(T, 3)
    flat = TreeSpec.flat(T, 3)
    pair = TreeSpec.pair("a", "b", 2, 3)
    assert ind.block_count() == 9 and flat.block_count() == 3 and pair.block_count() == 4
    assert flat.shared_depth("a", "c") == 3 and ind.shared_depth("a", "c") == 0
    assert pair.shared_depth("a", "b") == 2 and pair.shared_depth_of("a") == 2
    assert pair.groups(3) == (("a",), ("b",)) and pair.parent(3, 1) == 0


def test_spec_is_canonical_and_round_trips_json():
    s = TreeSpec.from_json(T, [[["c", "b", "a"]], [["c"], ["b", "a"]]])
    assert s.partitions == ((("a", "b", "c"),), (("a", "b"), ("c",)))
    assert TreeSpec.from_json(T, s.to_json()) == s


@pytest.mark.parametrize("parts, message", [
    ([[["a", "b"]], [["a"], ["b"]]], "not a partition"),
    ([[["a", "b"], ["c"]], [["a", "c"], ["b"]]], "must nest"),
    ([[["a", "a", "b", "c"]]], "not a partition"),
])
def test_invalid_specs(parts, message):
    with pytest.raises(ValueError, match=message):
        TreeSpec.from_json(T, parts)


def test_render_folds_chains():
    s = TreeSpec.from_json(T, [[["a", "b", "c"]], [["a", "b"], ["c"]], [["a", "b"], ["c"]],
                               [["a"], ["b"], ["c"]]])
    text = s.render()
    assert "block 1: a, b, c" in text
    assert "blocks 2-3: a, b" in text
    assert "blocks 2-4: c" in text
    assert "block 4: a" in text


def test_demo_recovery_is_the_planted_groups_in_the_narrow_last_block():
    from hmtl.demo import planted_tree, recovered

    planted = planted_tree(3)
    assert recovered(planted)
    assert planted.shared_depth("vowel", "height") == 3
    assert planted.shared_depth("vowel", "pitch") == 0
    everything = (("vowel", "height", "pitch", "register"),)
    groups = planted.partitions[-1]
    assert groups == (("vowel", "height"), ("pitch", "register"))    # the demo's four tasks
    # the wide blocks shared by everything, the planted groups in the narrow one: recovered
    assert recovered(TreeSpec(planted.tasks, (everything, everything, groups)))
    # two cues sharing the narrow block, or one cue split in it: not recovered
    merged = (("vowel", "height", "register"), ("pitch",))
    assert not recovered(TreeSpec(planted.tasks, (everything, everything, merged)))
    split = (("vowel",), ("height",), ("pitch", "register"))
    assert not recovered(TreeSpec(planted.tasks, (everything, groups, split)))
    # over a subset of the tasks, the groups restricted to it
    assert recovered(planted_tree(2, ("vowel", "height", "rhythm")))
