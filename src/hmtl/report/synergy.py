"""The stage-2 measurements as task × task matrices, one cell per ordered pair, before any
drawing: per depth k the drop of the row task when it shares k blocks with the column task, and
the compatibility depth K of every pair.

A cell is one of: a measured value, "skipped" (the pair model was never trained, with the reason),
"missing" (the pair is not in results.json at all) or the diagonal."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TOLERANCE = 0.01


@dataclass
class Cell:
    kind: str                    # value | skipped | missing | self
    value: float | None = None   # drop (fraction) or K
    std: float | None = None
    over: bool = False           # drop above the row task's tolerance
    reason: str = ""


def _pairs(compat: list[dict]) -> dict[tuple[str, str], dict]:
    out = {}
    for c in compat:
        a, b = c["tasks"]
        out[(a, b)] = out[(b, a)] = c
    return out


def _tolerance(c: dict, task: str, default: float) -> float:
    return float((c.get("tolerance") or {}).get(task, default))


def drop_matrix(tasks: list[str], compat: list[dict], k: int,
                default_tol: float = DEFAULT_TOLERANCE) -> list[list[Cell]]:
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
                row.append(Cell("value", d, std, d > _tolerance(c, a, default_tol) + 1e-12))
            else:
                why = (c.get("skipped") or {}).get(str(k)) or "not trained"
                row.append(Cell("skipped", reason=why))
        rows.append(row)
    return rows


def compatibility_depth(c: dict, default_tol: float = DEFAULT_TOLERANCE) -> int:
    """K as stored, else recomputed: the largest k compatible at every depth <= k."""
    if isinstance(c.get("depth"), int):
        return c["depth"]
    k = 0
    for key in sorted((c.get("drops") or {}), key=int):
        if int(key) != k + 1 or any(v > _tolerance(c, t, default_tol)
                                    for t, v in c["drops"][key].items()):
            break
        k += 1
    return k


def mean_synergy(c: dict) -> float | None:
    values = [float(v) for v in (c.get("synergy") or {}).values() if v is not None]
    if not values:
        values = [-sum(d.values()) / len(d) for d in (c.get("drops") or {}).values() if d]
    return sum(values) / len(values) if values else None


def depth_matrix(tasks: list[str], compat: list[dict],
                 default_tol: float = DEFAULT_TOLERANCE) -> list[list[Cell]]:
    pairs = _pairs(compat)
    return [[Cell("self") if a == b else
             Cell("missing", reason="pair not measured") if (a, b) not in pairs else
             Cell("value", float(compatibility_depth(pairs[(a, b)], default_tol)))
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
