"""`hmtl export`: the final tree of a run as ONNX, checked against torch, optionally int8, with
latency and size of the compared methods. Writes OUT/model.onnx, one file per other target
(targets.py: OUT/model.int8.onnx, static int8; OUT/model.int8-dynamic.onnx), OUT/export.json
and OUT/model/, the saved model (hmtl.export.saved: weights and model.json, the front end
inside, for hmtl.load and `hmtl predict` without the run folder); with latency,
OUT/latency/<method>.onnx and the run's results.json gains `latency_ms` and `onnx_bytes` per
method and this export's device figures under "device".

export.json's "metrics" holds each task's primary test metric (accuracy, MAE in the label's
unit, EER on the stored test trials) for torch, the float and each int8 graph, and "agreement"
the share of test clips on which an int8 graph's top class is the float graph's; "accuracy"
is its classification part, in the shape it had before task types. "targets" holds each file's
device figures (figures.py: bytes, MACs, estimated peak activation memory, latency with
--latency), metrics and, for int8, how it was quantised."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..errors import HmtlError
from ..search.methods import exportable_methods
from ..utils.io import atomic_write_json, read_json
from ..utils.progress import say
from .calibrate import CALIBRATION_CLIPS
from .load import Run, check_exportable, load_model, load_run, load_single
from .onnx_export import export_onnx, graph_outputs
from .saved import WEIGHTS, SavedModel, write_checked
from .targets import TARGETS, parse_targets

SAVED = "model"        # OUT/model/: the saved model, next to OUT/model.onnx


def metadata(run: Run, info: dict, waveform: bool, tasks: list[str] | None = None) -> dict:
    """What `hmtl predict` needs to use the file on its own, embedded in it: per task its type
    ("types"), a classification's class names ("classes"), a regression's training mean and std
    ("regression"; the graph's value_<task> is already in the label's unit) and the output
    names by kind ("outputs": logits, probs, value, embedding -> {task: name})."""
    feats = run.cfg.features
    tasks = list(tasks or run.tasks)
    heads = run.heads
    outputs = outputs_by_task(tasks, heads)
    return {"input": "waveform" if waveform else "features",
            "length": feats.num_samples if waveform else run.frames,
            "tasks": tasks, "types": {t: heads[t]["type"] for t in tasks},
            "classes": {t: c for t, c in run.classes.items() if t in tasks},
            "regression": {t: {"mean": heads[t]["mean"], "std": heads[t]["std"]} for t in tasks
                           if heads[t]["type"] == "regression"},
            "frames": run.frames,
            "sample_rate": feats.sample_rate, "duration": feats.duration,
            "features": dataclasses.asdict(feats),
            "outputs": outputs,
            "method": info["method"], "seed": info["seed"], "trainings": info["trainings"]}


def outputs_by_task(tasks: list[str], heads: dict) -> dict[str, dict[str, str]]:
    """The graph's output names by kind and task: logits and probs always, value and embedding
    when some task has them."""
    out: dict[str, dict[str, str]] = {"logits": {}, "probs": {}}
    for kind, t, name in graph_outputs(tasks, heads):
        out.setdefault(kind, {})[t] = name
    return out


def _outputs_by_kind(run: Run) -> dict[str, list[str]]:
    """export.json's "outputs": {kind: [names]} (output_names without the tasks)."""
    return {kind: list(names.values()) for kind, names in outputs_by_task(run.tasks, run.heads).items()}


def _versions() -> dict:
    import onnxruntime
    import torch

    from .. import __version__

    return {"hmtl": __version__, "torch": torch.__version__, "onnxruntime": onnxruntime.__version__}


def export_run(run_dir: str | Path, out: str | Path | None = None, method: str = "hierarchical",
               seed: int | None = None, waveform: bool = False, int8: bool = False,
               latency: bool = False, runs: int = 100, exporter: str = "auto",
               tolerance: float = 1e-4, targets: list[str] | str | None = None,
               calibration_clips: int = CALIBRATION_CLIPS) -> dict:
    """Export, check and measure; returns export.json's content. `targets`: --target values
    (targets.TARGETS; the float graph always); `int8`: add onnx-int8 (static). With `latency`,
    each target's latency too, and the run's results.json gains the methods' latency and this
    export's device figures (record_device)."""
    from .check import classification_accuracy, metrics_on_test_split, parity, require_parity
    from .latency import onnx_bytes
    from .runtime import session

    run = load_run(run_dir)
    check_exportable(method)
    names = parse_targets(targets, int8)
    out = Path(out) if out is not None else run.dir / "export"
    out.mkdir(parents=True, exist_ok=True)
    model, info = load_model(run, method, seed)
    path = out / "model.onnx"
    say(f"export: {method} model (seed {info['seed']}) -> {out / SAVED}/, {path}")
    saved = write_checked(SavedModel.from_loaded(run, model, info), out / SAVED)  # no onnx needed
    used = export_onnx(model, run.cfg.features, run.frames, path, waveform,
                       metadata(run, info, waveform), exporter, heads=run.heads)
    sessions = {"onnx": session(path)}
    report: dict = {
        "run": str(run.dir), "out": str(out), "method": method, "seed": info["seed"],
        "trainings": info["trainings"], "tree": model.spec.to_json(),
        "input": "waveform" if waveform else "features",
        "input_shape": ["batch", "samples"] if waveform else ["batch", run.cfg.features.channels,
                                                              "time"],
        "trained_length": run.cfg.features.num_samples if waveform else run.frames,
        "outputs": _outputs_by_kind(run),
        "exporter": used, "versions": _versions(), "tolerance": tolerance,
        "files": {"model.onnx": onnx_bytes(path),
                  f"{SAVED}/{WEIGHTS}": (saved / WEIGHTS).stat().st_size},
        "saved_model": str(saved),
    }
    report["parity"] = {"onnx": parity(run, model, sessions["onnx"], waveform)}
    try:
        require_parity(report["parity"]["onnx"], str(path), tolerance)
    except HmtlError as e:     # keep it for a look, under a name nobody deploys by mistake
        path.replace(out / "model.rejected.onnx")
        raise HmtlError(f"{e} (kept as {out / 'model.rejected.onnx'})") from None
    quantization = {}
    for name in names[1:]:
        target = TARGETS[name]
        qpath = out / target.file
        if name == "mcu":
            quantization[name], sessions[target.session] = _mcu(run, model, qpath, waveform,
                                                                calibration_clips)
            report["files"][target.file] = qpath.stat().st_size
        else:
            quantization[name] = _quantize(run, name, path, qpath, waveform, calibration_clips)
            report["files"][target.file] = onnx_bytes(qpath)
            sessions[target.session] = session(qpath)
        report["parity"][target.session] = parity(run, model, sessions[target.session],
                                                  waveform, other_length=name != "mcu")
    if "onnx-int8" in quantization:        # the keys --int8 always wrote: model.int8.onnx
        report["quantization"] = quantization["onnx-int8"]
        sizes = report["files"]
        report["int8_size_ratio"] = sizes["model.int8.onnx"] / sizes["model.onnx"]
    try:
        scores = metrics_on_test_split(run, model, sessions, waveform, agreement_with="onnx")
        scores["recorded"] = {t: info["test"].get(t, {}).get(m)
                              for t, m in scores["primary"].items()}
        report["metrics"] = scores
        report["accuracy"] = classification_accuracy(scores, run)
    except HmtlError as e:     # e.g. --waveform and the test clips' audio is gone
        report["metrics"] = report["accuracy"] = None
        report["accuracy_note"] = str(e)
    report["targets"] = {name: _target_entry(report, name, out, waveform, quantization.get(name))
                         for name in names}
    if latency:
        target_latencies(report, runs)
        report["latency"] = method_latencies(run, out, waveform, seed, runs, exporter,
                                             int8_model=out / "model.int8.onnx"
                                             if "onnx-int8" in names else None)
        update_results(run, report["latency"]["methods"])
        record_device(run.dir, report)
    atomic_write_json(out / "export.json", report)
    return report


def _quantize(run: Run, name: str, src: Path, dst: Path, waveform: bool, clips: int) -> dict:
    """Write target `name` (an int8 one) from the float graph `src`; what was done."""
    from .quantize import quantize_int8, quantize_static_int8

    if name == "onnx-int8-dynamic":
        return quantize_int8(src, dst)
    from .calibrate import calibration_inputs

    inputs = calibration_inputs(run, waveform, clips)
    return quantize_static_int8(src, dst, inputs, waveform,
                                {"split": "train", "draw": "random, seed 0",
                                 "input": "waveform" if waveform else "features"})


def _mcu(run: Run, model, path: Path, waveform: bool, clips: int):
    """Write the mcu target (tflm/) calibrated on training clips; (what was done, a session
    running it in TensorFlow Lite Micro)."""
    from .calibrate import calibration_inputs
    from .tflm import TflmSession, convert, mcu_summary

    if waveform:
        raise HmtlError("--target mcu takes features: on a microcontroller the front end runs "
                        "in the device's DSP code; export without --waveform")
    kinds = {t: run.heads[t]["type"] for t in model.tasks}
    other = [t for t, k in kinds.items() if k != "classification"]
    if other:
        raise HmtlError(f"--target mcu: only classification tasks convert so far; "
                        f"'{other[0]}' is {kinds[other[0]]}")
    inputs = calibration_inputs(run, False, clips)
    mcu = convert(model, inputs)
    path.write_bytes(mcu.flatbuffer)
    summary = mcu_summary(mcu)
    summary["calibration"] = {"clips": int(len(inputs)), "split": "train", "draw": "random, seed 0",
                              "input": "features"}
    return summary, TflmSession(mcu, outputs_by_task(model.tasks, run.heads))


def _target_entry(report: dict, name: str, out: Path, waveform: bool,
                  quantization: dict | None) -> dict:
    """export.json's "targets"[name]: the device figures of one file (figures.graph_figures;
    for the mcu target, tflm/'s, with TFLM's measured arena as RAM), its test metrics and
    agreement with the float graph."""
    from .deps import need
    from .figures import graph_figures
    from .quantize import frontend_nodes, frontend_words

    target = TARGETS[name]
    path = out / target.file
    if name == "mcu":
        entry = {"file": target.file, "precision": target.precision,
                 "frontend": "out of the graph (features in; normalisation on the host)",
                 **quantization["figures"]}
        quantization = {k: v for k, v in quantization.items() if k != "figures"}
    else:
        front = frontend_nodes(need("onnx").load(str(path)))
        entry = {"file": target.file, "precision": target.precision,
                 "frontend": frontend_words(len(front), waveform),
                 **graph_figures(path, report["trained_length"], front)}
    scores = report.get("metrics") or {}
    entry["metrics"] = scores.get(target.session)
    if name != "onnx":
        entry["agreement"] = (scores.get("agreement") or {}).get(target.session)
        entry["quantization"] = quantization
    return entry


def file_latency(path: Path, runs: int = 100) -> dict:
    """median_ms and p90_ms of one clip through an exported file: onnxruntime for ONNX, TFLM's
    interpreter (its reference kernels on this host) for the mcu target's .tflite."""
    if path.suffix == ".tflite":
        from .tflm import measure_tflm_latency

        return measure_tflm_latency(path, runs=runs)
    from .latency import measure_latency

    return measure_latency(path, runs=runs)


def target_latencies(report: dict, runs: int = 100) -> None:
    """Add latency_ms and p90_ms (batch 1, 1 thread: latency.measure_latency) to every target
    of an export report, in place."""
    from .latency import measure_latency

    out = Path(report["out"])
    for entry in report["targets"].values():
        lat = file_latency(out / entry["file"], runs)
        entry["latency_ms"], entry["p90_ms"] = lat["median_ms"], lat["p90_ms"]
        entry["latency_runs"] = runs


DEVICE_SETTINGS = {
    "runtime": "onnxruntime CPU", "batch": 1, "intra_op_threads": 1,
    "statistic": "median after 10 warm-up runs",
    "flash": "file bytes (graph, weights, metadata)",
    "ram": "estimated peak of live activation tensors incl. the input (hmtl.export.figures)",
    "macs": "Conv, Gemm and MatMul multiply-accumulates for one clip"}


def record_device(run_dir: str | Path, report: dict) -> None:
    """results.json["device"]["methods"][method]: this export's targets (figures, latency,
    test metrics), read again just before writing so that nothing written meanwhile is lost.
    The report's device table and benchmarks/device_table.py read it."""
    path = Path(run_dir) / "results.json"
    results = read_json(path)
    device = results.setdefault("device", {})
    device["settings"] = DEVICE_SETTINGS
    scores = report.get("metrics") or {}
    device.setdefault("methods", {})[report["method"]] = {
        "seed": report["seed"], "input": report["input"],
        "length": report["trained_length"], "test_clips": scores.get("clips"),
        "primary": scores.get("primary"), "torch": scores.get("torch"),
        "targets": {name: {k: v for k, v in entry.items() if k != "quantization"}
                    for name, entry in report["targets"].items()},
        "export": report["out"]}
    atomic_write_json(path, results)


def method_latencies(run: Run, out: Path, waveform: bool, seed: int | None, runs: int,
                     exporter: str, int8_model: Path | None = None) -> dict:
    """Latency and size of the float ONNX graph of each compared method. The independent
    method is ONE graph holding every task's stage-1 model side by side (one session, one
    input, like the others); the sum over separate per-task files is reported next to it."""
    from .latency import measure_latency, onnx_bytes

    folder = out / "latency"
    methods: dict = {}
    for name in exportable_methods():
        if name != "independent" and name not in run.results.get("methods", {}):
            continue
        model, info = load_model(run, name, seed)
        path = folder / f"{name}.onnx"
        export_onnx(model, run.cfg.features, run.frames, path, waveform,
                    metadata(run, info, waveform), exporter, heads=run.heads)
        lat = measure_latency(path, runs=runs)
        methods[name] = {"latency_ms": lat["median_ms"], "p90_ms": lat["p90_ms"],
                         "onnx_bytes": onnx_bytes(path), "file": str(path.relative_to(out)),
                         "seed": info["seed"]}
    separate = {"latency_ms": 0.0, "onnx_bytes": 0, "files": []}
    for task in run.tasks:
        single, info = load_single(run, task, seed)
        path = folder / f"independent_{_safe(task)}.onnx"
        meta = metadata(run, info, waveform, tasks=[task])
        export_onnx(single, run.cfg.features, run.frames, path, waveform, meta, exporter,
                    heads={task: run.heads[task]})
        separate["latency_ms"] += measure_latency(path, runs=runs)["median_ms"]
        separate["onnx_bytes"] += onnx_bytes(path)
        separate["files"].append(str(path.relative_to(out)))
    result = {"settings": {"runtime": "onnxruntime CPU", "batch": 1, "intra_op_threads": 1,
                           "statistic": f"median of {runs} runs after 10 warm-up runs",
                           "input": "waveform" if waveform else "features",
                           "precision": "float32"},
              "methods": methods, "independent_separate_files": separate}
    if int8_model is not None:
        lat = measure_latency(int8_model, runs=runs)
        result["model.int8.onnx"] = {"latency_ms": lat["median_ms"], "p90_ms": lat["p90_ms"],
                                     "onnx_bytes": onnx_bytes(int8_model)}
    return result


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def update_results(run: Run, methods: dict) -> None:
    """Add latency_ms and onnx_bytes to each measured method of the run's results.json, read
    again just before writing so that nothing written meanwhile is lost."""
    path = run.dir / "results.json"
    results = read_json(path)
    for name, m in methods.items():
        entry = results.get("methods", {}).get(name)
        if entry is not None:
            entry["latency_ms"] = round(m["latency_ms"], 4)
            entry["onnx_bytes"] = int(m["onnx_bytes"])
    atomic_write_json(path, results)
