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

The Python API (api.py: hmtl.run, hmtl.load, hmtl.save_model, hmtl.SavedModel) is reached
lazily through this package, so that `import hmtl` stays cheap (no torch):

    import hmtl
    model = hmtl.load("runs/digits")            # a run folder or a saved-model folder
    print(model.predict(wave, sample_rate))     # {task: {"label", "probability"} | ...}
"""

__version__ = "0.1.0"

API = ("run", "load", "save_model", "SavedModel")
__all__ = ["__version__", *API]


def __getattr__(name: str):
    """hmtl.run, hmtl.load, …: import hmtl.api on first use. importlib, not an import
    statement, so that modules importing __version__ from here are not seen by import-linter
    as importing the pipeline through this package (they never do: only these names load it)."""
    if name in API:
        import importlib

        return getattr(importlib.import_module("hmtl.api"), name)
    raise AttributeError(f"module 'hmtl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(API))
