"""How long a large manifest takes to validate and split (no audio is read).

    python benchmarks/manifest_scale.py --rows 100000

Writes a synthetic manifest (paths need not exist: reading the manifest does not touch audio),
then times read_manifest (parse, resolve paths, duplicates, classes) and the stratified and the
group-disjoint splits. Prints one line per step and a markdown table."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--tasks", type=int, default=5)
    args = ap.parse_args()

    from hmtl.config import DataConfig, TaskConfig
    from hmtl.data.manifest import read_manifest
    from hmtl.data.splits import make_split

    tasks = [TaskConfig(f"t{j}") for j in range(args.tasks)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", *[t.name for t in tasks], "group"])
            for i in range(args.rows):
                w.writerow([f"clips/{i // 1000}/{i}.wav"]
                           + [("" if (i + j) % 7 == 0 else f"c{(i * (j + 3)) % (j + 4)}")
                              for j in range(args.tasks)] + [f"spk{i % 1000}"])
        timings = []
        start = time.perf_counter()
        m = read_manifest(path, tasks)
        timings.append(("read and validate", time.perf_counter() - start))
        start = time.perf_counter()
        make_split(m, DataConfig(tasks=tasks))
        timings.append(("stratified split", time.perf_counter() - start))
        start = time.perf_counter()
        make_split(m, DataConfig(tasks=tasks, split_by="group"))
        timings.append(("group-disjoint split", time.perf_counter() - start))
    print(f"`python benchmarks/manifest_scale.py --rows {args.rows} --tasks {args.tasks}` on "
          f"{os.cpu_count()} cores ({platform.machine()}), {dt.date.today().isoformat()}\n")
    print("| step | seconds |\n|---|---|")
    for name, sec in timings:
        print(f"| {name} | {sec:.2f} |")


if __name__ == "__main__":
    main()
