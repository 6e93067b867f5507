"""The stage-2 measurements as task × task matrices, one cell per ordered pair, before any
drawing: per depth k the drop of the row task when it shares k blocks with the column task, and
the compatibility depth K of every pair. Decisions are read from results.json (the rule that
took them is search/compatibility.py's), never recomputed here.

A cell is one of: a measured value, "skipped" (the pair model was never trained, with the reason),
"missing" (the pair is not in results.json at all) or the diagonal."""

from __future__ import annotations

from dataclasses import dataclass

@dataclass
class Cell:
    kind: str                    # value | skipped | missing | self
    value: float | None = None   # drop (fraction) or K
    std: float | None = None
    over: bool = False           # the rule found the row task incompatible there
    reason: str = ""


def _pairs(compat: list[dict]) -> dict[tuple[str, str], dict]:
    out = {}
    for c in compat:
        a, b = c["tasks"]
        out[(a, b)] = out[(b, a)] = c
    return out


def decision(c: dict, k, task: str) -> dict | None:
    """The rule's stored decision for a task of a pair at depth k (None: not stored)."""
    return ((c.get("decisions") or {}).get(str(k)) or {}).get(task)


def depth_compatible(c: dict, k) -> bool | None:
    """Both tasks compatible at depth k, as decided (None: no decision stored)."""
    found = [decision(c, k, t) for t in c["tasks"]]
    return None if any(d is None for d in found) else all(d["compatible"] for d in found)


def drop_matrix(tasks: list[str], compat: list[dict], k: int) -> list[list[Cell]]:
    pairs = _pairs(compat)
    rows = []
    for a in tasks:
        row = []
        for b in tasks:
            c = pairs.get((a, b))
            if a == b:
                row.append(Cell("self"))
            elif c is None:
                row.append(Cell("missing", reason="pair not measured"))
            elif str(k) in (c.get("drops") or {}) and a in c["drops"][str(k)]:
                d = float(c["drops"][str(k)][a])
                std = (c.get("drop_std") or {}).get(str(k), {}).get(a)
                verdict = decision(c, k, a)
                row.append(Cell("value", d, std, verdict is not None and not verdict["compatible"]))
            else:
                why = (c.get("skipped") or {}).get(str(k)) or "not trained"
                row.append(Cell("skipped", reason=why))
        rows.append(row)
    return rows


def compatibility_depth(c: dict) -> int:
    """K as stage 2 stored it."""
    return int(c.get("depth") or 0)


def mean_synergy(c: dict) -> float | None:
    values = [float(v) for v in (c.get("synergy") or {}).values() if v is not None]
    if not values:
        values = [-sum(d.values()) / len(d) for d in (c.get("drops") or {}).values() if d]
    return sum(values) / len(values) if values else None


def depth_matrix(tasks: list[str], compat: list[dict]) -> list[list[Cell]]:
    pairs = _pairs(compat)
    return [[Cell("self") if a == b else
             Cell("missing", reason="pair not measured") if (a, b) not in pairs else
             Cell("value", float(compatibility_depth(pairs[(a, b)])))
             for b in tasks] for a in tasks]


def synergy_matrix(tasks: list[str], compat: list[dict]) -> list[list[Cell]]:
    pairs = _pairs(compat)
    out = []
    for a in tasks:
        row = []
        for b in tasks:
            s = mean_synergy(pairs[(a, b)]) if (a, b) in pairs and a != b else None
            row.append(Cell("self") if a == b else
                       Cell("missing", reason="no trained depth") if s is None else
                       Cell("value", s))
        out.append(row)
    return out


def depths_measured(compat: list[dict]) -> list[int]:
    ks = {int(k) for c in compat for k in list(c.get("drops") or {}) + list(c.get("skipped") or {})}
    return sorted(ks)
