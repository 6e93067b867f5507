"""The Python API, for a notebook: run the method, load a model, predict on a waveform, without
stitching config, pipeline, export and front end together by hand. `hmtl.run`, `hmtl.load`,
`hmtl.save_model` and `hmtl.SavedModel` come from here (lazily: `import hmtl` loads no torch).

    import hmtl, soundfile as sf
    run_dir = hmtl.run("configs/digits.yaml", ["train.epochs=5"], out="runs/digits")
    model = hmtl.load(run_dir)             # the final tree (or a saved-model folder)
    model.save("models/digits")            # model.safetensors + model.json: all it needs
    wave, rate = sf.read("clip.wav")       # mono, any rate: resampled to the model's
    print(model.predict(wave, rate))       # {"digit": {"label": "7", "probability": 0.93}, ...}

A loaded model is an nn.Module (hmtl.export.saved.SavedModel): model(waveforms) maps a batch
(batch, samples) at model.sample_rate to {task: probabilities, values or unit embeddings}."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .errors import HmtlError

if TYPE_CHECKING:
    from .config import RunConfig
    from .export.saved import SavedModel

__all__ = ["run", "load", "save_model", "SavedModel"]


def run(config: "str | os.PathLike | dict | RunConfig", overrides: Iterable[str] = (),
        out: str | os.PathLike | None = None, executor: str | None = None, *,
        until: str = "all", threads: int | None = None, verbose: bool = True) -> Path:
    """Run (or resume) the method as `hmtl run` does; returns the run folder. `config`: a YAML
    file, a mapping of the same sections, or a RunConfig; `overrides`: "key=value" strings;
    `out`: the run folder (default for a file, as the CLI: runs/<file name>); `executor`:
    serial (default), local:N, dask-local:N, dask://HOST:PORT or packed[:K]."""
    from .config import RunConfig, load_config
    from .pipeline import run_pipeline

    overrides = [overrides] if isinstance(overrides, str) else list(overrides)
    if isinstance(config, RunConfig):
        cfg = load_config(raw=config.to_dict(), overrides=overrides)
    elif isinstance(config, dict):
        cfg = load_config(raw=config, overrides=overrides)
    elif isinstance(config, (str, os.PathLike)):
        cfg = load_config(config, overrides)
    else:
        raise HmtlError(f"config: a YAML file, a mapping or a RunConfig, got "
                        f"{type(config).__name__}")
    if out is None:
        if not isinstance(config, (str, os.PathLike)):
            raise HmtlError("out: name the run folder (it defaults to runs/<config file name> "
                            "only when config is a file)")
        out = Path("runs") / Path(config).stem
    out = Path(out)
    results = run_pipeline(cfg, out, until=until, executor=executor or "serial",
                           verbose=verbose, threads=threads)
    if not results:
        raise HmtlError(f"{out / 'results.json'}: the run finished without results")
    return out


def load(path: str | os.PathLike, method: str | None = None,
         seed: int | None = None) -> "SavedModel":
    """The model of a run folder (`method`, default hierarchical: the final tree; `seed`,
    default the lowest) or of a saved-model folder (holding model.json), in eval mode."""
    from .export.saved import CARD, SavedModel, load_saved

    path = Path(path)
    if (path / CARD).is_file():
        model = load_saved(path)
        card = model.card
        if method not in (None, card.method) or seed not in (None, card.seed):
            raise HmtlError(f"{path}: a saved model holds one training, the {card.method} "
                            f"model of seed {card.seed}; method and seed choose among a run "
                            f"folder's")
        return model
    if not path.is_dir():
        raise HmtlError(f"{path}: not a folder (hmtl.load reads a run folder or a saved-model "
                        f"folder; an .onnx file runs with `hmtl predict`)")
    if not (path / "config.yaml").is_file():
        raise HmtlError(f"{path}: neither a run folder (config.yaml, results.json) nor a "
                        f"saved-model folder ({CARD} is missing)")
    return SavedModel.from_run(path, method or "hierarchical", seed)


def save_model(run_dir: str | os.PathLike, method: str = "hierarchical", seed: int | None = None,
               out_dir: str | os.PathLike | None = None) -> Path:
    """Save a run's model as a self-contained folder (default RUN/models/<method>/), checked to
    load back to the same outputs; returns the folder."""
    from .export.saved import save_model as save

    return save(run_dir, method, seed, out_dir)


def __getattr__(name: str):
    if name == "SavedModel":                  # the class, for isinstance and annotations
        from .export.saved import SavedModel

        return SavedModel
    raise AttributeError(f"module 'hmtl.api' has no attribute {name!r}")
