"""`hmtl run CONFIG.yaml [--out DIR] [--plan] [key=value …]`"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="YAML run configuration")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="override config values, e.g. search.seeds=1 train.epochs=20 (every "
                        "key: hmtl config --defaults)")
    p.add_argument("--out", help="run folder (default: runs/<config name>)")
    p.add_argument("--until", choices=["stage1", "stage2", "all"], default="all",
                   help="stop after this stage (results.json holds what exists)")
    p.add_argument("--executor", default="serial",
                   help="how trainings run: serial, local:N, dask-local:N, dask://HOST:PORT, "
                        "packed[:K] (default serial); any of them +packed[:K] trains up to K "
                        "same-shape models at once as one network, e.g. local:2+packed")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per training (default: all cores, or a fair share of "
                        "them per worker); equal counts give bitwise-equal results")
    p.add_argument("--quiet", action="store_true", help="no line per training")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also a progress bar over each training's epochs (on a terminal)")
    p.add_argument("--plan", action="store_true",
                   help="print the plan (trainings per stage, how many are done, a time "
                        "estimate from the run's finished trainings, else from a few timed "
                        "steps) and exit without training")
    p.epilog = ("Every configuration key, with its default and meaning: `hmtl config "
                "--defaults` (YAML) or docs/config.md; `hmtl config CONFIG.yaml [key=value …]` "
                "shows the configuration this run would use.")


def main(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..pipeline import run_pipeline

    import os

    if args.verbose:
        os.environ["HMTL_EPOCH_BARS"] = "1"
    cfg = load_config(args.config, args.overrides)
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    if args.plan:
        plans = run_pipeline(cfg, out, until=args.until, executor=args.executor,
                             verbose=False, threads=args.threads, plan_only=True)["plans"]
        for i, plan in enumerate(plans):
            print((f"split {i}: " if len(plans) > 1 else "") + plan.render())
        return 0
    results = run_pipeline(cfg, out, until=args.until, executor=args.executor,
                           verbose=not args.quiet, threads=args.threads)
    print((out / "results.md").read_text())
    print(f"results: {out / 'results.json'}")
    return 0 if results else 1
