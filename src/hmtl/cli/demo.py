"""`hmtl demo [--out DIR]`: the whole method on the built-in synthetic corpus, whose planted
task structure the discovered tree can be checked against."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo", help="run folder (default: runs/demo)")
    p.add_argument("--clips", type=int, default=1000, help="synthetic clips (default 1000)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per model (default 1)")
    p.add_argument("--seed", type=int, default=1,
                   help="seed of the synthetic corpus (default 1; README: which seeds recover)")
    p.add_argument("--executor", default="packed",
                   help="how trainings run, as for hmtl run (default: packed)")
    p.add_argument("--quiet", action="store_true", help="no line per training")


def main(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    run_demo(Path(args.out), clips=args.clips, seeds=args.seeds, corpus_seed=args.seed,
             verbose=not args.quiet, executor=args.executor)
    return 0
