"""`hmtl predict MODEL AUDIO…`"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Print one JSON line per audio file: {\"file\": ..., \"<task>\": {\"label\": ..., "
        "\"probability\": ...}, ...}. MODEL is a run folder (its final tree, run by torch) or an "
        ".onnx file written by `hmtl export` (run by onnxruntime; its task names, classes and "
        "feature settings are read from the file's metadata). Audio is decoded to mono at the "
        "model's sample rate. A clip longer than the model's window (features.duration) is cut "
        "into windows of that length every half window, plus one ending at the clip's end, and "
        "each task's probabilities are averaged over the windows; a shorter clip is zero-padded "
        "as in training (centre, or the run's crop policy). A file that cannot be read or "
        "decoded gets a line {\"file\": ..., \"error\": reason} on stdout and one line naming it "
        "on stderr; the other files are still predicted, and the exit code is then 2.")
    p.add_argument("model", metavar="MODEL", help="a run folder or an exported .onnx file")
    p.add_argument("audio", metavar="AUDIO", nargs="+",
                   help="audio files (any format soundfile reads)")
    p.add_argument("--method", default="hierarchical",
                   choices=["hierarchical", "flat", "independent"],
                   help="with a run folder: which model (default: hierarchical)")
    p.add_argument("--seed", type=int, default=None,
                   help="with a run folder: which seed's training (default: the lowest)")


def main(args: argparse.Namespace) -> int:
    from ..data.audio import BadAudio
    from ..export.predict import open_model, predict_file

    predictor = open_model(args.model, args.method, args.seed)   # a bad MODEL: HmtlError, exit 2
    failed = 0
    for path in args.audio:
        try:
            line = predict_file(predictor, path)
        except BadAudio as e:
            failed += 1
            line = {"file": str(path), "error": str(e)}
            print(f"hmtl: error: {e}", file=sys.stderr, flush=True)
        print(json.dumps(line), flush=True)
    return 2 if failed else 0
