"""Loading a run configuration: YAML, `key=value` overrides, type checks with one-line errors
naming the key (and "did you mean" for typos), validation; and writing it back."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml

from ..errors import HmtlError
from ..utils.io import user_path
from .schema import DataConfig, RunConfig, SearchConfig


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check and convert one YAML value to the annotated type, or raise a one-line HmtlError."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where)
    if origin is Literal:
        if value not in args:
            raise HmtlError(f"{where}: must be one of {list(args)}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise HmtlError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise HmtlError(f"{where}: expected a mapping of names to values, got {value!r}")
        return {k: _coerce(v, args[1], f"{where}.{k}") for k, v in value.items()}
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if tp is bool:
        if not isinstance(value, bool):
            raise HmtlError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise HmtlError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise HmtlError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise HmtlError(f"{where}: expected a string, got {value!r}")
        return value
    raise HmtlError(f"{where}: unsupported type {_type_name(tp)}")


def _normalise_tasks(value: Any, where: str) -> Any:
    """Tasks may be written as names, as mappings, or as {name: {…}}; all become mappings."""
    if isinstance(value, dict):
        value = [{"name": k, **(v or {})} for k, v in value.items()]
    if isinstance(value, list):
        return [{"name": v} if isinstance(v, str) else v for v in value]
    raise HmtlError(f"{where}: expected a list of tasks, got {value!r}")


def from_dict(cls: type, data: Any, where: str = "config") -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise HmtlError(f"{where}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in names and not (cls is SearchConfig and key == "early_exit"):
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f"; known: {', '.join(names)}"
            raise HmtlError(f"{path}: unknown key{hint}")
        if cls is DataConfig and key == "tasks":
            value = _normalise_tasks(value, path)
        if cls is SearchConfig and key == "early_exit":   # deprecated: search.sweep replaces it
            if "sweep" not in data:
                kwargs["sweep"] = "upward" if _coerce(value, bool, path) else "exhaustive"
            continue
        kwargs[key] = _coerce(value, hints[key], path)
    missing = [f.name for f in dataclasses.fields(cls)
               if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
               and f.name not in kwargs]
    if missing:
        raise HmtlError(f"{where}: missing key(s) {missing}")
    return cls(**kwargs)


def apply_override(raw: dict, assignment: str) -> None:
    """Apply one `a.b.c=value` to a raw config mapping; the value is parsed as YAML."""
    if "=" not in assignment:
        raise HmtlError(f"override '{assignment}': expected key=value")
    key, text = assignment.split("=", 1)
    try:
        value = yaml.safe_load(text) if text != "" else None
    except yaml.YAMLError:
        value = text
    parts = key.strip().split(".")
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise HmtlError(f"override '{assignment}': '{part}' is not a section")
        node = child
    node[parts[-1]] = value


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                raw: dict | None = None) -> RunConfig:
    """Load, override, type-check and validate. The manifest path becomes absolute, resolved
    against the config file's folder, so the run does not depend on the working directory."""
    base = Path.cwd()
    if raw is None:
        raw = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise HmtlError(f"{path}: config file not found")
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            at = f" line {mark.line + 1}" if mark is not None else ""
            raise HmtlError(f"{path}:{at} YAML syntax error: {getattr(e, 'problem', e)}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise HmtlError(f"{path}: expected a mapping at top level")
        raw = {**(loaded or {}), **raw}
        base = path.resolve().parent
    for assignment in overrides or []:
        apply_override(raw, assignment)
    cfg = from_dict(RunConfig, raw, where="")
    if cfg.data.manifest:
        manifest = user_path(cfg.data.manifest)
        cfg.data.manifest = str(manifest if manifest.is_absolute() else (base / manifest).resolve())
    cfg.model.imports = [_resolve_import(name, base) for name in cfg.model.imports]
    cfg.validate(where="")
    return cfg


def _resolve_import(name: str, base: Path) -> str:
    """A .py file becomes absolute (against the config's folder), so that every worker process
    of every executor imports the same file; a module name stays as it is."""
    if not name.endswith(".py"):
        return name
    path = user_path(name)
    return str(path if path.is_absolute() else (base / path).resolve())


def dump_config(cfg: RunConfig) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
