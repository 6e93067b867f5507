"""`hmtl export RUN_DIR [--target onnx|onnx-int8|onnx-int8-dynamic|mcu ...] [--int8] [--waveform]
[--method M] [--seed N] [--latency] [--out DIR]`

Writes the ONNX graph and, next to it, the saved model (OUT/model/): one export, both
deployables, so a user never has to point anything at the run folder again."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Export a run's final tree as ONNX, dynamic batch and time length, with outputs per task "
        "by its type: logits_<task> and probs_<task> (classification), value_<task> (regression: "
        "the prediction in the label's unit, de-standardised in the graph), embedding_<task> "
        "(verification: L2-normalised); metadata for `hmtl predict` embedded (types, classes, "
        "regression mean and std). Checks every output against torch on random inputs and on "
        "test clips (fails if the max abs difference exceeds --tolerance; a regression value is "
        "compared in units of its target's std) and reports each task's primary test metric "
        "for torch and each ONNX file: accuracy, MAE (label's unit) or EER (on the run's stored "
        "test trials). Writes OUT/model.onnx, OUT/model.int8.onnx (static int8: --int8 or --target onnx-int8), "
        "OUT/model.int8-dynamic.onnx (--target onnx-int8-dynamic), OUT/model.tflite (--target "
        "mcu, full-integer int8 for TensorFlow Lite Micro), OUT/export.json and "
        "OUT/model/, the saved model: model.safetensors and model.json (tree, configs, tasks "
        "and class names), the front end inside, loaded with hmtl.load(OUT/model) or run by "
        "`hmtl predict OUT/model` without the run folder (written first, checked to load back "
        "to the same outputs). Needs the export extra: pip install 'hmtl[export]'.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run folder")
    p.add_argument("--out", metavar="DIR", help="output folder (default: RUN_DIR/export)")
    p.add_argument("--method", default="hierarchical",
                   help="which method's model to export: a method with one dense model per "
                        "seed (default: hierarchical, the final tree; flat; independent: all "
                        "stage-1 models side by side in one graph), or budget:N, the tree "
                        "search.budgets trained for a budget of N params")
    p.add_argument("--seed", type=int, default=None,
                   help="which seed's training (default: the lowest)")
    p.add_argument("--waveform", action="store_true",
                   help="put the front end in the graph: input (batch, samples) at the run's "
                        "sample rate, instead of features (batch, channels, frames)")
    p.add_argument("--target", action="append", metavar="T[,T...]",
                   help="what to write, repeatable or comma-separated (default onnx; the float "
                        "model.onnx is always written): onnx; onnx-int8, model.int8.onnx, static "
                        "int8 (QDQ, per-channel weights, activations calibrated on "
                        "--calibration-clips training clips, front end kept float); "
                        "onnx-int8-dynamic, model.int8-dynamic.onnx, int8 weights only; mcu, "
                        "model.tflite, full-integer int8 for microcontrollers, run in TensorFlow "
                        "Lite Micro (features in; pip install 'hmtl[mcu]'). Each "
                        "target's file bytes, MACs, estimated peak activation memory and test "
                        "metrics go to export.json (latency with --latency)")
    p.add_argument("--int8", action="store_true",
                   help="same as --target onnx-int8 (static int8; the dynamic quantisation "
                        "--int8 wrote before is --target onnx-int8-dynamic)")
    p.add_argument("--calibration-clips", type=int, default=128, metavar="N",
                   help="training clips static int8 is calibrated on (default 128)")
    p.add_argument("--latency", action="store_true",
                   help="also measure per-clip latency (onnxruntime, batch 1, 1 thread, median) "
                        "of each target and of the independent, flat and hierarchical float "
                        "models with their ONNX size; adds latency_ms and onnx_bytes to each "
                        "method in RUN_DIR/results.json, and this export's targets under "
                        "\"device\" (the report's device table)")
    p.add_argument("--runs", type=int, default=100, help="timed runs per latency (default 100)")
    p.add_argument("--exporter", default="auto", choices=["auto", "dynamo", "torchscript"],
                   help="torch's ONNX exporter (default auto: torch.export, else the legacy one)")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="largest allowed |torch - ONNX| of any output, a regression's value "
                        "divided by its target's std (default 1e-4)")


def main(args: argparse.Namespace) -> int:
    from ..errors import HmtlError

    if args.runs < 1:
        raise HmtlError(f"--runs: must be >= 1, got {args.runs}")
    if args.calibration_clips < 1:
        raise HmtlError(f"--calibration-clips: must be >= 1, got {args.calibration_clips}")
    from ..export.targets import parse_targets

    targets = parse_targets(args.target, args.int8)     # before any work: bad names fail fast
    from ..export.pipeline import export_run

    report = export_run(args.run_dir, args.out, method=args.method, seed=args.seed,
                        waveform=args.waveform, latency=args.latency, runs=args.runs,
                        exporter=args.exporter, tolerance=args.tolerance, targets=targets,
                        calibration_clips=args.calibration_clips)
    print(summary(report))
    return 0


def summary(report: dict) -> str:
    files = ", ".join(f"{k} {v / 1024:.1f} KiB" for k, v in report["files"].items())
    lines = [f"{report['method']} model, seed {report['seed']}, {report['input']} in: {files}"]
    for name, p in report["parity"].items():
        lines.append(f"max |torch - {name}|: {p['max']:.2e}")
    scores = report.get("metrics")
    if scores:
        cols = [k for k in ("torch", "onnx", "onnx_int8", "onnx_int8_dynamic") if k in scores]
        lines.append(f"test metrics ({scores['clips']} clips): task metric " + " ".join(cols))
        for t, name in scores["primary"].items():
            note = {"mae": " (label's unit, lower is better)",
                    "eer": " (lower is better)"}.get(name, "")
            lines.append(f"  {t} {name}: " + " ".join(_value(scores[c][t]) for c in cols) + note)
    elif report.get("accuracy"):                      # an export.json of an older hmtl
        acc = report["accuracy"]
        cols = [k for k in ("torch", "onnx", "onnx_int8") if k in acc]
        lines.append(f"test accuracy ({acc['clips']} clips): task " + " ".join(cols))
        for t in acc["torch"]:
            lines.append(f"  {t}: " + " ".join(_value(acc[c][t]) for c in cols))
    for name, t in (report.get("targets") or {}).items():
        lines.append(f"target {name} ({t['file']}): {_figures(t)}")
    for name, m in report.get("latency", {}).get("methods", {}).items():
        lines.append(f"latency {name}: {m['latency_ms']:.3f} ms, {m['onnx_bytes']:,} bytes")
    out = report.get("out")
    if out:
        lines.append(f"export: {out}")
    if report.get("saved_model"):
        lines.append(f"saved model: {report['saved_model']} (hmtl.load, hmtl predict)")
    return "\n".join(lines)


def _value(v) -> str:
    return f"{v:.4f}" if isinstance(v, (int, float)) else "—"


def _figures(t: dict) -> str:
    """One target's device figures in a line."""
    parts = [f"{t['bytes']:,} bytes"]
    if t.get("macs") is not None:
        parts.append(f"{t['macs'] / 1e6:.2f} M MACs")
    if t.get("peak_activation_bytes") is not None:
        parts.append(f"~{t['peak_activation_bytes'] / 1024:.1f} KiB peak activations")
    if t.get("latency_ms") is not None:
        parts.append(f"{t['latency_ms']:.3f} ms")
    agree = t.get("agreement") or {}
    if agree:
        low = min((v for v in agree.values() if v is not None), default=None)
        if low is not None:
            parts.append(f"top class as float on >= {100 * low:.1f} % of test clips")
    return ", ".join(parts)
