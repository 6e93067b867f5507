"""The device table of a finished run: the independent set (one graph), the flat model and the
hierarchical tree, each exported as float ONNX, static int8 (QDQ) and full-integer int8 for
TensorFlow Lite Micro (the mcu target; features in only), with what a device holds and spends
per clip and what each scores on the test split.

    python benchmarks/device_table.py runs/bench/ravdess/w0.25 [--rounds 5] [--runs 200] \
        [--write BENCHMARKS.md]

Per method and target: flash (the file), weights, estimated peak activation memory (input
included; hmtl.export.figures; for the mcu target TFLM's measured arena), MACs, latency
(onnxruntime CPU, or TFLM's reference kernels for the mcu target; batch 1, 1 thread: the median
of --runs runs; float and int8 measured in turn --rounds times and the best median kept, so
that a background load hits both alike) and each task's primary test metric. Exports go to
RUN_DIR/export/device/<method>/; the figures are recorded in RUN_DIR/results.json under
"device" (the report's device table) and printed as Markdown."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record import machine, marked, write_section  # noqa: E402

METHODS = ("independent", "flat", "hierarchical")
TARGETS = ["onnx", "onnx-int8", "mcu"]


def best_latencies(report: dict, rounds: int, runs: int) -> None:
    """Each target's latency: the best of `rounds` medians, targets measured in turn."""
    from hmtl.export.pipeline import file_latency

    out = Path(report["out"])
    best: dict[str, dict] = {}
    for _ in range(rounds):
        for name, entry in report["targets"].items():
            lat = file_latency(out / entry["file"], runs=runs)
            if name not in best or lat["median_ms"] < best[name]["median_ms"]:
                best[name] = lat
    for name, entry in report["targets"].items():
        entry["latency_ms"], entry["p90_ms"] = best[name]["median_ms"], best[name]["p90_ms"]
        entry["latency_runs"] = f"best median of {rounds} × {runs}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--waveform", action="store_true", help="front end in the graph")
    p.add_argument("--exporter", default="auto")
    p.add_argument("--calibration-clips", type=int, default=128)
    p.add_argument("--write", metavar="BENCHMARKS.md", help="also write the table there")
    args = p.parse_args(argv)

    from hmtl.export.pipeline import export_run, record_device
    from hmtl.report.device import markdown_table
    from hmtl.utils.io import read_json

    run = Path(args.run_dir)
    for method in args.methods.split(","):
        report = export_run(run, run / "export" / "device" / method, method=method,
                            waveform=args.waveform, exporter=args.exporter,
                            targets=[t for t in TARGETS if not (args.waveform and t == "mcu")],
                            calibration_clips=args.calibration_clips)
        best_latencies(report, args.rounds, args.runs)
        record_device(run, report)
    table = markdown_table(read_json(run / "results.json"))
    text = (f"Device table of `{run}` ({machine()}; "
            f"{'waveform' if args.waveform else 'features'} in).\n\n{table}")
    print(text)
    if args.write:
        write_section(Path(args.write), "device", marked("device", text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
