"""`hmtl predict MODEL AUDIO…`"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Print one JSON line per audio file: {\"file\": ..., \"<task>\": {...}, ...}, each task "
        "by its type: a classification gives {\"label\": ..., \"probability\": ...} (the most "
        "probable class); a regression {\"value\": ...}, the prediction in the label's own unit; "
        "a verification {\"embedding_norm\": ...}, the length of the mean of the clip's "
        "L2-normalised window embeddings (1.0 for a clip of one window, lower when its windows "
        "disagree), or with --enroll {\"score\": ...}, the cosine similarity in [-1, 1] between "
        "the clip's embedding and the enrolment clip's (higher: more likely the same identity). "
        "MODEL is a run folder (its final tree, run by torch), a saved-model folder written by "
        "`hmtl export` (OUT/model/: model.safetensors and model.json, run by torch) or an .onnx "
        "file written by `hmtl export` (run by onnxruntime; its task names, types, classes and "
        "feature settings are read from the file's metadata). Audio is decoded to mono at the "
        "model's sample rate. A clip longer than the model's window (features.duration) is cut "
        "into windows of that length every half window, plus one ending at the clip's end; "
        "classification probabilities and regression values are averaged over the windows, and "
        "verification embeddings are averaged and then L2-normalised; a shorter clip is "
        "zero-padded as in training (centre, or the run's crop policy). A file that cannot be "
        "read or decoded gets a line {\"file\": ..., \"error\": reason} on stdout and one line "
        "naming it on stderr; the other files are still predicted, and the exit code is then 2.")
    p.add_argument("model", metavar="MODEL",
                   help="a run folder, a saved-model folder or an exported .onnx file")
    p.add_argument("audio", metavar="AUDIO", nargs="+",
                   help="audio files (any format soundfile reads)")
    p.add_argument("--method", default="hierarchical",
                   help="with a run folder: which method's model, as for `hmtl export` "
                        "(default: hierarchical)")
    p.add_argument("--seed", type=int, default=None,
                   help="with a run folder: which seed's training (default: the lowest)")
    p.add_argument("--enroll", metavar="FILE", default=None,
                   help="one enrolment clip (e.g. a known speaker): every verification task "
                        "then reports {\"score\": cosine similarity of each AUDIO clip's "
                        "embedding and this clip's, in [-1, 1]} instead of its embedding_norm; "
                        "the clip is windowed and averaged like any other. An unreadable FILE, "
                        "or a model without a verification task, is exit code 2")


def main(args: argparse.Namespace) -> int:
    from ..data.audio import BadAudio
    from ..export.predict import enrolment, open_model, predict_file

    predictor = open_model(args.model, args.method, args.seed)   # a bad MODEL: HmtlError, exit 2
    enroll = enrolment(predictor, args.enroll) if args.enroll is not None else None
    failed = 0
    for path in args.audio:
        try:
            line = predict_file(predictor, path, enroll)
        except BadAudio as e:
            failed += 1
            line = {"file": str(path), "error": str(e)}
            print(f"hmtl: error: {e}", file=sys.stderr, flush=True)
        print(json.dumps(line), flush=True)
    return 2 if failed else 0
