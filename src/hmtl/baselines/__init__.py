"""Baselines the paper compares with (LTH, LT4REC) and cheaper estimators beyond it (branched,
random tree, width-matched flat), each a registered method of `hmtl run`:

    lth           iterative magnitude pruning of each single-task model to the target size
    lt4rec        sparse sharing: one flat network, one IMP mask per task, joint training
    branched      tree from representation-similarity affinities of the stage-1 models
    random_tree   random trees of about the hierarchical model's size
    flat_matched  the flat model with its widths scaled to the hierarchical model's size

They use the run's split, seeds, backbone and recipe, train through the executor (so they
resume), and report params, non-zero params and dense MACs next to the other methods."""

from . import branched, flat_matched, lt4rec, lth, random_tree  # noqa: F401  (registration)
