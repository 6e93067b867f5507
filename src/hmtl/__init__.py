"""hmtl: hierarchical multi-task models for audio and speech, built from measured task synergy.

The package follows the pipeline:
    data/      audio → features (cached) → manifest, splits, in-memory dataset
    models/    backbone blocks and ONE tree-spec model for every sharing pattern
    training/  one plain training loop, metrics, hashed run folders
    search/    stage 1 (isolated), stage 2 (pairwise sweep), stage 3 (tree), the `run` pipeline
    cli/       the `hmtl` command, one module per verb
"""

__version__ = "0.1.0"
