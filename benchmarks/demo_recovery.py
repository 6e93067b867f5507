"""How often `hmtl demo` recovers its planted structure: the demo's whole method on synthetic
corpora of several seeds, and the count of recoveries (hmtl.demo.recovered: in the narrow last
block, where the demo plants the competition, exactly the planted groups). The demo's promise
is at least 8 of 10.

    python benchmarks/demo_recovery.py [--seeds 0-9] [--out runs/demo-recovery] [key=value ...]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from pathlib import Path

from hmtl.demo import recovered, run_demo
from hmtl.models import TreeSpec


def seeds_of(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="0-9", help="corpus seeds: 0-9 or 0,3,5")
    p.add_argument("--out", type=Path, default=Path("runs/demo-recovery"))
    p.add_argument("--executor", default="packed", help="as for hmtl demo (default: packed)")
    p.add_argument("overrides", nargs="*", help="config overrides, as for hmtl run")
    args = p.parse_args(argv)
    hits, seeds = 0, seeds_of(args.seeds)
    for s in seeds:
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            r = run_demo(args.out / f"seed-{s}", corpus_seed=s, verbose=False,
                         overrides=args.overrides, executor=args.executor)
        tree = TreeSpec.from_json(r["tasks"], r["methods"]["hierarchical"]["tree"])
        ok = recovered(tree)
        hits += ok
        depths = {"+".join(c["tasks"]): c["depth"] for c in r["compatibility"]}
        print(f"corpus seed {s}: {'recovered' if ok else 'NOT recovered'} "
              f"({time.perf_counter() - start:.0f} s); K = {depths}", flush=True)
    print(f"planted structure recovered on {hits} of {len(seeds)} corpus seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
