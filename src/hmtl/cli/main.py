"""The `hmtl` command. Each verb lives in its own module, imported only when used, so that
`hmtl --help` answers at once without loading torch."""

from __future__ import annotations

import argparse
import importlib
import sys

VERBS = {
    "demo": ("hmtl.cli.demo", "the whole pipeline on the built-in synthetic corpus"),
    "prepare": ("hmtl.cli.prepare", "write a manifest: a known corpus, a generic layout (folder, audiofolder, lhotse) or a merge"),
    "run": ("hmtl.cli.run", "stages 1-3, final model and compared methods; resumes what exists"),
    "config": ("hmtl.cli.config", "every config key with its default and meaning, or a config as resolved"),
    "report": ("hmtl.cli.report", "rewrite a run's report.html, MODEL_CARD.md and results.md from results.json"),
    "export": ("hmtl.cli.export", "a run's model as a saved-model folder and ONNX, checked against torch (int8, latency)"),
    "predict": ("hmtl.cli.predict", "one JSON line per audio file: every task's prediction (label, value or embedding)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hmtl", description="Hierarchical multi-task models for audio, from measured task synergy.")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"hmtl {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb, (module, help_text) in VERBS.items():
        p = sub.add_parser(verb, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # key=value overrides may come after options (`hmtl run c.yaml --out d a.b=1`): argparse
    # leaves those over, and verbs that take overrides collect them here
    args, extra = parser.parse_known_args(argv)
    if extra:
        if hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
            args.overrides = list(args.overrides or []) + extra
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not args.verb:
        parser.print_help()
        return 2
    from ..errors import HmtlError

    try:
        return int(importlib.import_module(VERBS[args.verb][0]).main(args) or 0)
    except HmtlError as e:
        print(f"hmtl: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hmtl: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
