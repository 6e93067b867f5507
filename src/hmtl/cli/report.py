"""`hmtl report RUN_DIR`: rewrite report.html, MODEL_CARD.md, results.json and results.md from
results.json, training nothing."""

from __future__ import annotations

import argparse
import os


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder holding results.json")


def main(args: argparse.Namespace) -> int:
    from ..errors import HmtlError
    from ..report.html import write_page
    from ..report.load import load_run
    from ..report.model_card import write_card

    info = load_run(args.run_dir)              # raises HmtlError before anything is written
    from ..results import write_results        # (imports torch: only once the input is fine)

    card = write_card(info)                    # no matplotlib needed: written first
    path = write_page(info)
    results_json = info.run_dir / "results.json"
    before = results_json.read_bytes(), results_json.stat()
    try:
        write_results(info.run_dir, info.results)
    except (KeyError, TypeError, ValueError) as e:
        raise HmtlError(f"{results_json}: cannot write results.md "
                        f"({type(e).__name__}: {e})") from None
    if results_json.read_bytes() == before[0]:    # same content: keep the run's own date
        os.utime(results_json, ns=(before[1].st_atime_ns, before[1].st_mtime_ns))
    print(f"report: {path}")
    print(f"model card: {card}")
    print(f"results: {info.run_dir / 'results.md'}")
    return 0
