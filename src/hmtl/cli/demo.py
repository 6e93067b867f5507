"""`hmtl demo [--out DIR]`: the whole method on the built-in synthetic corpus, whose planted
task structure the discovered tree can be checked against."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..demo import DEMO


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo", help="run folder (default: runs/demo)")
    p.add_argument("--clips", type=int, default=DEMO.clips,
                   help=f"synthetic clips (default {DEMO.clips})")
    p.add_argument("--seeds", type=int, default=DEMO.seeds,
                   help=f"seeds per model (default {DEMO.seeds})")
    p.add_argument("--seed", type=int, default=DEMO.corpus_seed,
                   help=f"seed of the synthetic corpus (default {DEMO.corpus_seed}; README: which "
                        f"seeds recover)")
    p.add_argument("--executor", default=DEMO.executor,
                   help=f"how trainings run, as for hmtl run (default: {DEMO.executor})")
    p.add_argument("--quiet", action="store_true", help="no line per training")


def main(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    run_demo(Path(args.out), clips=args.clips, seeds=args.seeds, corpus_seed=args.seed,
             verbose=not args.quiet, executor=args.executor)
    return 0
