"""Speed of the whole method: the same config run with several executors (and sweeps), each in a
fresh run folder over the same prepared features, timed per stage.

    python benchmarks/speed.py configs/ravdess.yaml --executors serial,local:2,packed \
        --reference exhaustive --out runs/bench-speed --write BENCHMARKS.md

Prints a markdown table: wall time per stage and in all, trainings run and skipped by early
exit, mean seconds per training (a packed training's share of its pack), the ratio to the
first setting, and whether the tree equals the reference (an exhaustive serial sweep, all
depths of all pairs, when --reference exhaustive). `--micro K` adds the per-model time of K
same-shape pair models trained packed against a few of them trained one by one.

The features are computed once (or taken from --data RUN_DIR/data) and copied into every run
folder, so feature extraction is not part of the figures; it is reported on its own line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record import machine, marked, write_section  # noqa: E402


def prepare(cfg, out: Path, data_from: Path | None) -> tuple[Path, float]:
    from hmtl.data.dataset import prepare_dataset

    data_dir = out / "_features" / "data"
    start = time.perf_counter()
    if data_from is not None and not (data_dir / "meta.json").exists():
        shutil.copytree(data_from, data_dir, dirs_exist_ok=True)
    prepare_dataset(cfg, data_dir)
    return data_dir, time.perf_counter() - start


def run_setting(cfg, name: str, executor: str, data_dir: Path, out: Path, threads) -> dict:
    """One setting: EXECUTOR[+key=value...], e.g. `serial+search.sweep=binary`."""
    import dataclasses

    from hmtl.config import apply_override, from_dict, RunConfig
    from hmtl.search.pipeline import run_pipeline

    executor, *extra = executor.split("+")
    if extra:
        raw = dataclasses.asdict(cfg)
        for assignment in extra:
            apply_override(raw, assignment)
        cfg = from_dict(RunConfig, raw, where="")

    folder = out / name.replace(":", "_").replace("/", "_")
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(data_dir, folder / "data")
    start = time.perf_counter()
    r = run_pipeline(cfg, folder, executor=executor, verbose=False, threads=threads)
    wall = time.perf_counter() - start
    secs = [json.loads(p.read_text())["seconds"] for p in (folder / "runs").glob("*/metrics.json")]
    return {"name": name, "wall": wall, "stages": r["run"]["stage_seconds"],
            "trained": r["run"]["trained_now"], "skipped": r["search"]["skipped"],
            "per_training": sum(secs) / max(1, len(secs)), "tree": r["hierarchy"]["tree"],
            "K": {"+".join(p["tasks"]): p["depth"] for p in r["compatibility"]},
            "device": r["search"]["device"],
            "hier": r["methods"].get("hierarchical", {}).get("vs_independent", {})}


def micro(cfg, data_dir: Path, k: int, plain: int) -> dict:
    """Per-model time of k same-shape pair models, packed vs plain (`plain` of them)."""
    import itertools

    from hmtl.data.dataset import load_dataset
    from hmtl.models import TreeSpec
    from hmtl.training.job import TrainJob, train_job
    from hmtl.training.packed import train_packed

    data = load_dataset(data_dir)
    tasks = cfg.task_names
    pairs = list(itertools.combinations(tasks, 2))
    jobs = []
    for seed in itertools.count():
        for a, b in pairs:
            jobs.append(TrainJob(TreeSpec.pair(a, b, 2, cfg.model.blocks), seed, cfg.model,
                                 cfg.train, ((a, 1.0), (b, 1.0)), data.key))
        if len(jobs) >= k:
            break
    jobs = jobs[:k]
    start = time.perf_counter()
    for job in jobs[:plain]:
        train_job(job, data)
    t_plain = (time.perf_counter() - start) / plain
    start = time.perf_counter()
    train_packed(jobs, data)
    t_packed = (time.perf_counter() - start) / k
    return {"k": k, "plain": plain, "plain_s": t_plain, "packed_s": t_packed}


def table(rows: list[dict], reference: dict | None) -> str:
    base = rows[0]["wall"]
    head = ("| setting | device | wall s | stage 1 s | stage 2 s | final s | other methods s | "
            "trainings run | skipped | s / training | × vs first | K = reference | tree = reference |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        st = r["stages"]
        same = "" if reference is None else ("yes" if r["tree"] == reference["tree"] else "**no**")
        if reference is None:
            same_k = ""
        else:
            diff = sum(r["K"][p] != reference["K"][p] for p in reference["K"])
            same_k = "yes" if not diff else f"**{diff} of {len(reference['K'])} pairs differ**"
        lines.append(f"| {r['name']} | {r['device']} | {r['wall']:.0f} | {st.get('stage1', 0):.0f} | "
                     f"{st.get('stage2', 0):.0f} | {st.get('final', 0):.0f} | "
                     f"{st.get('methods', 0):.0f} | {r['trained']} | {r['skipped']} | "
                     f"{r['per_training']:.2f} | {base / r['wall']:.2f} | {same_k} | {same} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("overrides", nargs="*")
    ap.add_argument("--executors", default="serial,local:2,packed")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--device", default=None, help="train.device for every setting")
    ap.add_argument("--reference", choices=["none", "exhaustive"], default="exhaustive",
                    help="also run the exhaustive serial sweep and compare trees")
    ap.add_argument("--reference-executor", default="serial",
                    help="executor of the exhaustive reference (serial is the definition)")
    ap.add_argument("--data", type=Path, default=None, help="a prepared data/ folder to reuse")
    ap.add_argument("--micro", type=int, default=0, help="packed-vs-plain micro benchmark size")
    ap.add_argument("--micro-plain", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=Path("runs/bench-speed"))
    ap.add_argument("--write", type=Path, default=None,
                    help="write the section into this file (between its markers, else appended)")
    ap.add_argument("--section", default="speed", help="marker name of the section in --write")
    ap.add_argument("--title", default="Speed")
    args = ap.parse_args(argv)

    from hmtl.config import load_config

    overrides = list(args.overrides) + [f"search.seeds={args.seeds}"]
    if args.device:
        overrides.append(f"train.device={args.device}")
    cfg = load_config(args.config, overrides)
    args.out.mkdir(parents=True, exist_ok=True)
    data_dir, t_features = prepare(cfg, args.out, args.data)
    print(f"features ready in {t_features:.1f} s", file=sys.stderr, flush=True)

    rows = []
    for spec in args.executors.split(","):
        print(f"running {spec} ...", file=sys.stderr, flush=True)
        rows.append(run_setting(cfg, spec, spec, data_dir, args.out, args.threads))
        print(f"  {spec}: {rows[-1]['wall']:.1f} s {json.dumps(rows[-1])}", file=sys.stderr,
              flush=True)
    reference = None
    if args.reference == "exhaustive":
        ex_cfg = load_config(args.config, overrides + ["search.sweep=exhaustive"])
        print("running the exhaustive reference ...", file=sys.stderr, flush=True)
        reference = run_setting(ex_cfg, f"{args.reference_executor} exhaustive",
                                args.reference_executor, data_dir, args.out, args.threads)
        rows.append(reference)
        print(f"  reference: {reference['wall']:.1f} s {json.dumps(reference)}", file=sys.stderr,
              flush=True)
    out = [f"### {args.title}", "",
           f"`python benchmarks/speed.py {args.config} {' '.join(args.overrides)} "
           f"--executors {args.executors} --seeds {args.seeds}"
           + (f" --device {args.device}" if args.device else "")
           + (f" --micro {args.micro}" if args.micro else "") + "`", "",
           f"Machine: {machine()}. Date: {dt.date.today().isoformat()}. "
           f"{args.seeds} seed(s). Features computed once beforehand ({t_features:.1f} s) and "
           "copied into every run folder.", "", table(rows, reference), ""]
    for r in rows:
        h = r["hier"]
        if h:
            out.append(f"- {r['name']}: hierarchical {100 * h['param_reduction']:.1f} % fewer params, "
                       f"mean drop {100 * h['mean_drop']:.2f} pts, max {100 * h['max_drop']:.2f} pts")
    if args.micro:
        m = micro(cfg, data_dir, args.micro, args.micro_plain)
        print(f"  micro: {json.dumps(m)}", file=sys.stderr, flush=True)
        out += ["", f"Micro benchmark: {m['k']} same-shape pair models (k=2) packed: "
                f"{m['packed_s']:.2f} s per model; plain loop ({m['plain']} models): "
                f"{m['plain_s']:.2f} s per model; packed is {m['plain_s'] / m['packed_s']:.1f}× "
                "faster per model."]
    text = "\n".join(out) + "\n"
    print(text)
    if args.write:
        write_section(args.write, args.section, marked(args.section, text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
