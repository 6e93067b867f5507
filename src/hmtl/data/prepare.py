"""Preparing a run's dataset: features of every clip through the feature cache (audio is read
once per clip and configuration), labels, the split, per-task statistics and verification
trials, written as arrays to the run folder's `data/`; meta.json last, so its presence means
complete. A folder prepared before is reused when its inputs are the same."""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from ..config import RunConfig
from ..errors import HmtlError
from ..tasks import TaskInfo
from ..utils.io import atomic_write_bytes, atomic_write_json, atomic_write_text, read_json, stable_hash
from ..utils.progress import bar, say
from .audio import BadAudio, decode, fix_length
from .cache import FeatureCache, content_hash
from .dataset import FORMAT, Dataset, load_dataset
from .frontend import build_frontend
from .manifest import SPLITS, Manifest, read_manifest
from .splits import TRAIN, make_split

# how the dataset's fingerprint is made: 2 = from content only (1 also hashed the manifest's path)
DATA_KEY_FORMAT = 2


def extract_features(m: Manifest, cfg: RunConfig, cache: FeatureCache, out: np.ndarray,
                     batch: int = 32) -> tuple[list[str | None], dict[int, str]]:
    """Write the features (C, T_stored) float16 of every clip into `out` (which may be a
    memory-mapped file); return their content hashes and the rows that failed with the reason.
    Audio is read only for clips the cache does not have."""
    fcfg = cfg.features
    frontend = build_frontend(fcfg)
    digests: list[str | None] = [None] * len(m)
    failed: dict[int, str] = {}
    pending: list[tuple[int, str, np.ndarray]] = []
    progress = bar(len(m), desc="features", unit="clip")

    def flush():
        if not pending:
            return
        waves = torch.from_numpy(np.stack([w for _, _, w in pending]))   # (B, samples)
        with torch.no_grad():
            feats = frontend(waves).numpy().astype(np.float16)            # (B, C, T)
        for (i, digest, _), f in zip(pending, feats):
            cache.store(digest, f)
            out[i] = f
        progress.update(len(pending))
        pending.clear()

    for i, path in enumerate(m.paths):
        try:
            st = path.stat()
            digest = cache.index.lookup(path, st)
            cached = cache.load(digest) if digest else None
            if cached is None:
                data = path.read_bytes()
                digest = content_hash(data)
                cache.index.add(path, st, digest)
                cached = cache.load(digest)
                if cached is None:
                    wave = fix_length(decode(data, fcfg.sample_rate), fcfg.stored_samples, fcfg.crop)
                    pending.append((i, digest, wave))
                    if len(pending) >= batch:
                        flush()
                    digests[i] = digest
                    continue
            out[i] = cached
            digests[i] = digest
            progress.update(1)
        except FileNotFoundError:
            failed[i] = "file not found"
        except IsADirectoryError:
            failed[i] = "is a directory, not an audio file"
        except PermissionError:
            failed[i] = "permission denied"
        except BadAudio as e:
            failed[i] = str(e)
        if i in failed:
            if cfg.data.on_bad_audio == "error":
                progress.close()
                raise HmtlError(f"{m.where(i)}: {failed[i]} (data.on_bad_audio=skip leaves such "
                                f"clips out)")
            progress.update(1)
    flush()
    progress.close()
    return digests, failed


def _inputs_key(cfg: RunConfig, manifest_bytes: bytes) -> str:
    data = dataclasses.asdict(cfg.data)
    data.pop("splits")                     # how many splits a run makes, not what this one is
    return stable_hash({"format": FORMAT, "data": data,
                        "features": dataclasses.asdict(cfg.features),
                        "manifest": content_hash(manifest_bytes)})


def _data_key(cfg: RunConfig, digests: list[str], y: np.ndarray, values: np.ndarray,
              split: np.ndarray, classes: dict) -> str:
    """The dataset's fingerprint: what its clips, features, labels and split are, never where the
    files lie. It seeds the validation halves and the random trees and is part of every
    training's key, so a run must decide the same wherever it lives (before format 2 it hashed
    the manifest's path, and moving a corpus or a run changed which clips picked the epochs)."""
    data = dataclasses.asdict(cfg.data)
    for where_or_how_many in ("manifest", "splits"):
        data.pop(where_or_how_many)
    return stable_hash({"format": DATA_KEY_FORMAT, "data": data,
                        "features": dataclasses.asdict(cfg.features), "digests": digests,
                        "classes": classes, "y": content_hash(y.tobytes()),
                        "values": content_hash(values.tobytes()),
                        "split": content_hash(split.tobytes())})


def _save_array(path: Path, arr: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


def prepare_dataset(cfg: RunConfig, data_dir: Path, cache: FeatureCache | None = None) -> Dataset:
    """Build (or reuse) the run's dataset in `data_dir`. Reuse needs the same data and feature
    configuration and the same manifest content; a run folder never mixes two datasets."""
    data_dir = Path(data_dir)
    manifest_path = Path(cfg.data.manifest)
    if not manifest_path.is_file():
        raise HmtlError(f"{manifest_path}: manifest not found")
    key = _inputs_key(cfg, manifest_path.read_bytes())
    meta_file = data_dir / "meta.json"
    if meta_file.exists():
        meta = read_json(meta_file)
        if meta.get("inputs_key") != key:
            _adopt_if_same(cfg, data_dir, meta, key, cache)
        return load_dataset(data_dir)

    m = read_manifest(manifest_path, cfg.data.tasks)
    split = make_split(m, cfg.data)
    cache = cache or FeatureCache(cfg.features)
    data_dir.mkdir(parents=True, exist_ok=True)
    # features go straight to a memory-mapped file: a corpus need not fit in RAM
    partial = data_dir / "x.partial.npy"
    x = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float16,
                                  shape=(len(m),) + cache.shape)
    digests, failed = extract_features(m, cfg, cache, x)
    keep = np.array([i for i in range(len(m)) if i not in failed], dtype=np.int64)
    if failed:
        rows = ["row,path,reason"] + [f"{m.rows[i]},{m.paths[i]},{r}" for i, r in failed.items()]
        atomic_write_text(data_dir / "skipped.csv", "\n".join(rows) + "\n")
        say(f"left out {len(failed)} unreadable clip(s); see {data_dir / 'skipped.csv'}")
    tasks = cfg.task_names
    y = np.stack([m.encoded(t) for t in tasks], axis=1)[keep]
    values = np.stack([m.values(t) for t in tasks], axis=1)[keep].astype(np.float32)
    split = split[keep]
    labelled = (y >= 0).any(axis=1)
    if not labelled.all():
        say(f"{int((~labelled).sum())} clip(s) have no label for any task and are left out")
        y, values, split, keep = y[labelled], values[labelled], split[labelled], keep[labelled]
    if not (split == TRAIN).any():
        raise HmtlError(f"{manifest_path}: no usable training clips")
    x = _keep_rows(x, keep, partial, data_dir / "x.npy")
    mean, std = _channel_stats(x, np.flatnonzero(split == TRAIN))
    data_key = _data_key(cfg, [digests[i] for i in keep], y, values, split, m.classes)

    table = io.StringIO()
    w = csv.writer(table, lineterminator="\n")
    w.writerow(["row", "path", "split"])
    for i, s in zip(keep, split):
        w.writerow([m.rows[i], m.paths[i], SPLITS[s]])
    atomic_write_text(data_dir / "split.csv", table.getvalue())  # for people: which clip went where
    info = task_info(cfg, m, y, values, split, manifest_path)
    for j, t in enumerate(cfg.data.tasks):
        if t.type == "verification":
            for k, name in ((1, "val"), (2, "test")):
                _save_array(data_dir / f"trials-{j}-{name}.npy",
                            build_trials(y[:, j], split == k, t.trials, cfg.data.split_seed + j,
                                         f"{manifest_path}: task '{t.name}', {name} split"))
    if (cfg.data.tasks and any(t.type == "regression" for t in cfg.data.tasks)):
        _save_array(data_dir / "values.npy", values)
    _save_array(data_dir / "y.npy", y)
    _save_array(data_dir / "split.npy", split)
    _save_array(data_dir / "norm.npy", np.stack([mean, std]).astype(np.float32))
    counts = {t: {name: int(((y[:, j] >= 0) & (split == k)).sum()) for k, name in enumerate(SPLITS)}
              for j, t in enumerate(tasks)}
    atomic_write_json(meta_file, {
        "format": FORMAT, "inputs_key": key, "data_key": data_key, "tasks": tasks,
        "classes": m.classes, "types": m.types,
        "info": {t: i.to_json() for t, i in info.items()},
        "task_config": {t.name: dataclasses.asdict(t) for t in cfg.data.tasks},
        "frames": cfg.features.num_frames, "clips": int(len(y)),
        "skipped": len(failed), "labelled": counts,
    })
    return load_dataset(data_dir)


# the arrays that make a dataset what it is; norm.npy is derived from them and kept as trained with
_CONTENT = ("x.npy", "y.npy", "split.npy", "values.npy")


def _adopt_if_same(cfg: RunConfig, data_dir: Path, meta: dict, key: str,
                   cache: FeatureCache | None) -> None:
    """The manifest file or the config's data section changed since this run folder was made
    (a new unused column, other path spelling, a config field added by a later hmtl version).
    Rebuild the dataset beside it (features come from the cache) and keep the folder, and every
    training keyed on its dataset, only if the clips, features, labels and split are the same;
    otherwise refuse, naming what differs, as before: a run folder never mixes two datasets."""
    check = data_dir.parent / "data.check"
    shutil.rmtree(check, ignore_errors=True)
    try:
        prepare_dataset(cfg, check, cache)
        new = read_json(check / "meta.json")
        differs = [what for what, same in (
            ("tasks", new["tasks"] == meta.get("tasks")),
            ("classes", new["classes"] == meta.get("classes")),
            *((name, _same_array(data_dir / name, check / name)) for name in _CONTENT))
            if not same]
        if differs:
            raise HmtlError(f"{data_dir.parent}: this run folder was made from another manifest or "
                            f"data/features config ({', '.join(differs)} differ); use a new --out "
                            f"folder")
        for f in check.iterdir():   # files an older version did not write (trials, values)
            if f.name not in ("meta.json", "norm.npy") and not (data_dir / f.name).exists():
                os.replace(f, data_dir / f.name)
        atomic_write_json(data_dir / "meta.json",
                          {**new, "inputs_key": key, "data_key": meta["data_key"]})
        say(f"{data_dir.parent}: the manifest or data config changed but gives the same clips, "
            f"features, labels and split; keeping the run's trainings")
    finally:
        shutil.rmtree(check, ignore_errors=True)


def _same_array(a: Path, b: Path) -> bool:
    if not a.exists() or not b.exists():
        return a.exists() == b.exists()
    x, y = np.load(a, mmap_mode="r", allow_pickle=False), np.load(b, mmap_mode="r", allow_pickle=False)
    if x.shape != y.shape or x.dtype != y.dtype:
        return False
    step = max(1, (64 << 20) // max(1, x[:1].nbytes))   # compare in chunks of about 64 MiB
    return all(np.array_equal(x[i:i + step], y[i:i + step]) for i in range(0, len(x), step))


def task_info(cfg: RunConfig, m: Manifest, y: np.ndarray, values: np.ndarray, split: np.ndarray,
              source: Path) -> dict[str, TaskInfo]:
    """What each task's head and metrics need beyond its labels: classes; the training targets'
    statistics (regression: standardisation and the median's error); the training identities
    (verification: the margin classifier's classes)."""
    info = {}
    train = split == TRAIN
    for j, t in enumerate(cfg.data.tasks):
        if t.type == "regression":
            v = values[train & (y[:, j] >= 0), j].astype(np.float64)
            if len(v) < 2:
                raise HmtlError(f"{source}: task '{t.name}' has {len(v)} labelled training clip(s)")
            info[t.name] = TaskInfo(mean=float(v.mean()), std=float(max(v.std(), 1e-6)),
                                    mad=float(max(np.abs(v - np.median(v)).mean(), 1e-6)))
        elif t.type == "verification":
            seen = sorted({int(k) for k in y[train & (y[:, j] >= 0), j]})
            if len(seen) < 2:
                raise HmtlError(f"{source}: task '{t.name}' has {len(seen)} identity(ies) in the "
                                f"training split; verification needs at least 2")
            info[t.name] = TaskInfo(classes=m.classes[t.name], train_ids=seen,
                                    train_classes=[m.classes[t.name][k] for k in seen])
        else:
            info[t.name] = TaskInfo(classes=m.classes[t.name])
    return info


def build_trials(ids: np.ndarray, in_split: np.ndarray, count: int, seed: int,
                 where: str) -> np.ndarray:
    """Trial pairs (i, j, same) of the split's clips labelled with an identity: for clips in a
    seeded random order, one same-identity and one other-identity partner each, until `count`
    trials. Row indices are the dataset's."""
    rows = np.flatnonzero(in_split & (ids >= 0))
    rng = np.random.default_rng(seed)
    by_id: dict[int, list[int]] = {}
    for r in rows:
        by_id.setdefault(int(ids[r]), []).append(int(r))
    if len(by_id) < 2 or not any(len(v) > 1 for v in by_id.values()):
        raise HmtlError(f"{where}: needs at least 2 identities and one with 2 clips for trials "
                        f"({len(rows)} clips of {len(by_id)} identities)")
    trials = []
    for r in rng.permutation(rows):
        own = by_id[int(ids[r])]
        if len(own) > 1:
            partner = own[int(rng.integers(len(own)))]
            while partner == r:
                partner = own[int(rng.integers(len(own)))]
            trials.append((int(r), partner, 1))
        other = rows[ids[rows] != ids[r]]
        trials.append((int(r), int(other[rng.integers(len(other))]), 0))
        if len(trials) >= count:
            break
    return np.array(trials[:count], dtype=np.int64)


def _keep_rows(x: np.ndarray, keep: np.ndarray, partial: Path, final: Path,
               chunk: int = 4096) -> np.ndarray:
    """The rows `keep` of the memory-mapped `x` as the file `final` (renamed into place)."""
    if len(keep) == len(x):
        x.flush()
        del x
        os.replace(partial, final)
    else:
        kept = final.with_name("x.kept.npy")
        out = np.lib.format.open_memmap(kept, mode="w+", dtype=x.dtype, shape=(len(keep),) + x.shape[1:])
        for start in range(0, len(keep), chunk):
            out[start:start + chunk] = x[keep[start:start + chunk]]
        out.flush()
        del out, x
        os.replace(kept, final)
        os.unlink(partial)
    return np.load(final, mmap_mode="r")


def _channel_stats(x: np.ndarray, rows: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std over the given clips and all frames, in chunks (float64)."""
    total = np.zeros(x.shape[1])
    squares = np.zeros(x.shape[1])
    for start in range(0, len(rows), chunk):
        a = np.asarray(x[rows[start:start + chunk]], dtype=np.float64)      # (n, C, T)
        total += a.sum(axis=(0, 2))
        squares += (a * a).sum(axis=(0, 2))
    n = len(rows) * x.shape[2]
    mean = total / n
    std = np.sqrt(np.maximum(squares / n - mean ** 2, 0.0)) + 1e-5
    return mean.astype(np.float32), std.astype(np.float32)
