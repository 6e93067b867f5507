"""What RSA pre-screening of pairs saves, and what it changes, against a finished run's sweep.

    python benchmarks/prescreen.py configs/ravdess.yaml runs/ravdess --fractions 0.5,0.7,0.9 \
        --write BENCHMARKS.md

For each fraction f, a copy of the finished run folder (hard links: every training is reused)
is rerun with `search.prescreen=f`: at each depth only the f most alike pairs (stage-1
representation affinity) are trained, the others are taken as incompatible. Nothing new trains
in stages 1-2; the final model trains only when the tree differs. Printed per fraction: pair
trainings run and saved, pairs whose compatibility depth K differs from the reference run's
sweep, and whether the tree is the same (and if not, the pre-screened tree's test drops;
with --no-final the run stops after stage 2 and only the tree is compared: no training at all).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from record import linked_copy, machine  # noqa: E402


def rerun(config: Path, ref: Path, fraction: float, final: bool = True) -> dict:
    out = ref.parent / f"{ref.name}-prescreen{int(round(100 * fraction))}"
    linked_copy(ref, out)
    exe = Path(sys.executable).parent / "hmtl"
    subprocess.run([str(exe), "run", str(config), f"search.prescreen={fraction}", "--out", str(out),
                    "--quiet"] + ([] if final else ["--until", "stage2"]), check=True, stdout=sys.stderr)
    return json.loads((out / "results.json").read_text())


def row(fraction: float, ref: dict, got: dict) -> str:
    seeds = len(got["seeds"])
    k_ref = {tuple(c["tasks"]): c["depth"] for c in ref["compatibility"]}
    k_got = {tuple(c["tasks"]): c["depth"] for c in got["compatibility"]}
    differ = [f"{'+'.join(p)} {k_ref[p]}→{k_got[p]}" for p in k_ref if k_ref[p] != k_got[p]]
    trained = got["search"]["trainings"] - seeds * len(got["tasks"])
    ref_trained = ref["search"]["trainings"] - seeds * len(ref["tasks"])
    same = got["hierarchy"]["tree"] == ref["methods"]["hierarchical"]["tree"]
    h = got["methods"].get("hierarchical")
    if h is None:   # --no-final: the tree only
        return (f"| {fraction:g} | {trained} of {ref_trained} | {', '.join(differ) or 'none'} | "
                f"{'same' if same else 'different'} | not trained | | |")
    v = h["vs_independent"]
    return (f"| {fraction:g} | {trained} of {ref_trained} | {', '.join(differ) or 'none'} | "
            f"{'same' if same else 'different'} | {h['params']:,} | "
            f"{100 * v['mean_drop']:.1f} ± {100 * v['mean_drop_std']:.1f} | {100 * v['max_drop']:.1f} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("run", type=Path, help="a finished run of the config, without pre-screening")
    ap.add_argument("--fractions", default="0.5,0.7,0.9")
    ap.add_argument("--no-final", action="store_true",
                    help="stop after stage 2: compare K and the tree, train nothing")
    ap.add_argument("--write", type=Path, default=None, help="append the table to this file")
    args = ap.parse_args(argv)
    ref = json.loads((args.run / "results.json").read_text())
    if ref["search"].get("prescreen"):
        ap.error(f"{args.run}: the reference run must not be pre-screened")
    h = ref["methods"]["hierarchical"]
    flags = " --no-final" if args.no_final else ""
    lines = [f"`python benchmarks/prescreen.py {args.config} {args.run} --fractions {args.fractions}"
             f"{flags}`, "
             f"{dt.date.today().isoformat()}, {machine()}. Reference: the run's own sweep "
             f"({ref['search']['sweep']}, {len(ref['seeds'])} seeds), tree of {h['params']:,} params, "
             f"mean drop {100 * h['vs_independent']['mean_drop']:.1f} ± "
             f"{100 * h['vs_independent']['mean_drop_std']:.1f}.", "",
             "| fraction kept | pair trainings | K differs (reference→pre-screened) | tree | "
             "params | mean drop (pts) | max drop (pts) |", "|---|---|---|---|---|---|---|"]
    for f in (float(x) for x in args.fractions.split(",")):
        lines.append(row(f, ref, rerun(args.config, args.run, f, final=not args.no_final)))
    text = "\n".join(lines)
    print(text)
    if args.write:
        with open(args.write, "a") as fh:
            fh.write("\n" + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
