"""hmtl: hierarchical multi-task models for audio and speech, built from measured task synergy.

The package follows the pipeline, each layer importing only from those below it (the contract
in pyproject.toml, checked by `make test`):
    cli/        the `hmtl` command, one module per verb
    pipeline/   `hmtl run`: stages, compared methods, results and report; repeated splits
    baselines/  lth, lt4rec, branched, random_tree, flat_matched (registered methods)
    report/, export/
    search/     stage 1 (isolated), stage 2 (pairwise sweep), the compatibility rule, stage 3
                (tree), budget trees, stability, the method registry
    executors/  where trainings run (serial, local, dask, packed), behind a registry
    training/   one fit over trainees (one model, a pack of models), jobs and their store
    results.py, evidence.py   results.json and the paired comparisons of methods
    models/, data/, recipes/  backbones and the tree model; audio to features to dataset
    tasks.py, records.py, metrics.py, config/, utils/
"""

__version__ = "0.1.0"
