"""The device table: what each exported model (independent set, flat, hierarchical tree; float
and int8) costs on a device and scores, from results.json["device"], which `hmtl export
--latency` and benchmarks/device_table.py write (hmtl.export.pipeline.record_device). As an
HTML section of report.html (absent without exports) and as Markdown for BENCHMARKS.md."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from .metrics import metric

METHOD_ORDER = ("independent", "flat", "hierarchical")


@dataclass(frozen=True)
class DeviceRow:
    method: str
    target: str
    precision: str
    flash_bytes: int | None
    weight_bytes: int | None
    ram_bytes: int | None           # estimated peak activation memory, input included
    macs: int | None
    latency_ms: float | None
    metrics: dict                   # {task: value}
    frontend: str


def device_rows(results: dict) -> list[DeviceRow]:
    """One row per exported method and target, independent, flat, hierarchical first."""
    methods = ((results.get("device") or {}).get("methods") or {})
    order = [m for m in METHOD_ORDER if m in methods] + sorted(set(methods) - set(METHOD_ORDER))
    rows = []
    for m in order:
        for name, t in (methods[m].get("targets") or {}).items():
            rows.append(DeviceRow(m, name, t.get("precision", name), t.get("bytes"),
                                  t.get("weight_bytes"), t.get("peak_activation_bytes"),
                                  t.get("macs"), t.get("latency_ms"), t.get("metrics") or {},
                                  t.get("frontend", "")))
    return rows


def _primary(results: dict) -> dict[str, str]:
    """{task: primary metric name} from any exported method (all share the run's tasks)."""
    for entry in ((results.get("device") or {}).get("methods") or {}).values():
        if entry.get("primary"):
            return dict(entry["primary"])
    return {t: "accuracy" for t in results.get("tasks", [])}


def _kib(n) -> str:
    return f"{n / 1024:.1f}" if isinstance(n, (int, float)) else "—"


def _cells(row: DeviceRow, primary: dict[str, str]) -> list[str]:
    lat = f"{row.latency_ms:.3f}" if isinstance(row.latency_ms, (int, float)) else "—"
    macs = f"{row.macs / 1e6:.2f}" if isinstance(row.macs, (int, float)) else "—"
    return ([row.method, row.precision, _kib(row.flash_bytes), _kib(row.weight_bytes),
             _kib(row.ram_bytes), macs, lat]
            + [metric(name).text(row.metrics.get(t)) for t, name in primary.items()])


def _head(primary: dict[str, str]) -> list[str]:
    return (["method", "precision", "flash KiB", "weights KiB", "RAM KiB (est.)", "M MACs",
             "latency ms"]
            + [f"{t} {metric(name).label}" for t, name in primary.items()])


def _notes(results: dict, rows: list[DeviceRow]) -> str:
    device = results.get("device") or {}
    s = device.get("settings") or {}
    fronts = sorted({r.frontend.split(" (")[0] for r in rows if r.frontend})
    methods = (device.get("methods") or {}).values()
    clips = {e.get("test_clips") for e in methods}
    runs = sorted({str(t["latency_runs"]) for e in methods
                   for t in (e.get("targets") or {}).values() if t.get("latency_runs")})
    statistic = s.get("statistic", "median") + (f" ({'; '.join(runs)} runs)" if runs else "")
    mcu = ("; for int8 full-integer (TFLM), the tensor arena TFLM needs, measured, and latency "
           "of TFLM's reference kernels on this host"
           if any(r.target == "mcu" for r in rows) else "")
    return (f"Latency: {s.get('runtime', 'onnxruntime CPU')}, batch {s.get('batch', 1)}, "
            f"{s.get('intra_op_threads', 1)} thread, {statistic}. "
            f"Flash: the file; RAM: estimated peak of live activation tensors, input "
            f"included{mcu}; MACs for one clip. Front end: {', '.join(fronts) or 'unknown'}. "
            f"Metrics on the test split ({', '.join(str(c) for c in sorted(clips, key=str))} "
            f"clips); accuracy and EER in %.")


def markdown_table(results: dict) -> str:
    """The device table as Markdown, with its notes; "" when nothing was exported."""
    rows = device_rows(results)
    if not rows:
        return ""
    primary = _primary(results)
    head = _head(primary)
    lines = ["| " + " | ".join(head) + " |",
             "| " + " | ".join(["---", "---"] + ["---:"] * (len(head) - 2)) + " |"]
    lines += ["| " + " | ".join(_cells(r, primary)) + " |" for r in rows]
    return "\n".join(lines) + "\n\n" + _notes(results, rows) + "\n"


def device_section(info) -> str:
    """report.html's device table; "" (no section) when the run has no exports recorded."""
    from .format import section, table

    rows = device_rows(info.results)
    if not rows:
        return ""
    primary = _primary(info.results)
    body = table(_head(primary), [[escape(c) for c in _cells(r, primary)] for r in rows],
                 "device", text=(0, 1))
    return section("device", "On a device", body, escape(_notes(info.results, rows)))
