"""Speed of the whole method: the same config run with several executors (and sweeps), each in a
fresh run folder over the same prepared features, timed per stage.

    python benchmarks/speed.py configs/ravdess.yaml --executors serial,local:2,packed \
        --reference exhaustive --out runs/bench-speed --write BENCHMARKS.md

Prints a markdown table: wall time per stage and in all, trainings run and skipped by early
exit, mean seconds per training (a packed training's share of its pack), the ratio to the
first setting, the isolated model's MACs, the arithmetic the trainings achieved against the
machine's peak (a large matrix product timed at the same threads), and whether K and the tree
equal the reference: an exhaustive serial sweep (all
depths of all pairs) trained at the same torch threads per training as the setting, since the
thread count changes float rounding and so every trained model. `--micro K` adds the per-model
time of K same-shape pair models trained packed against a few of them trained one by one
(on CUDA also packed without CUDA graphs); it runs first, so that its figure is there even
when a later setting runs out of a GPU lease. benchmarks/gpu_speed.sh runs this on a GPU.

The features are computed once (or taken from --data RUN_DIR/data) and copied into every run
folder, so feature extraction is not part of the figures; it is reported on its own line.
`--widths 1,0.25` runs every setting at each scale of the config's block widths and compares
the time per training across scales with their MACs (issue 21: a quarter-width training should
take at most 0.2× the full-width time). Each setting's row is saved under OUT/rows; `--reuse` takes back the rows measured by the same
code (git tree of src/), config, executor and threads, so an interrupted benchmark resumes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import widths_of  # noqa: E402
from record import machine, marked, write_section  # noqa: E402


def prepare(cfg, out: Path, data_from: Path | None) -> tuple[Path, float]:
    from hmtl.data.prepare import prepare_dataset

    data_dir = out / "_features" / "data"
    start = time.perf_counter()
    if data_from is not None and not (data_dir / "meta.json").exists():
        shutil.copytree(data_from, data_dir, dirs_exist_ok=True)
    prepare_dataset(cfg, data_dir)
    return data_dir, time.perf_counter() - start


def threads_per_training(spec: str, threads: int | None) -> int:
    """Torch threads one training gets under SPEC. Float rounding, and with it every trained
    model, depends on that count (executors/__init__.py), so a setting's K and tree are
    compared with a reference trained at the same count."""
    import torch

    from hmtl.executors import make_executor

    executor = make_executor(spec.split("+")[0], threads)
    executor.close()
    return executor.threads or torch.get_num_threads()


def source_version() -> str | None:
    """Git tree hash of src/ (the code that trains), or None when it has uncommitted changes
    or is no git checkout: a saved row is reused only for the very code that measured it."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
        tree = subprocess.run(["git", "rev-parse", "HEAD:src"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return None if dirty else tree


def reference_executor(threads: int) -> str:
    """The fastest executor giving a serial run's results at THREADS per training."""
    import os

    workers = max(1, (os.cpu_count() or 1) // threads)
    return "serial" if workers == 1 else f"local:{workers}"


def setting_config(cfg, spec: str):
    """SPEC = EXECUTOR[+key=value...], e.g. `local:2+search.sweep=binary`: (executor, config).
    The executor's own modifier stays with it: `local:2+packed+search.sweep=binary`."""
    import dataclasses

    from hmtl.config import apply_override, from_dict, RunConfig

    parts = spec.split("+")
    executor = "+".join([parts[0]] + [p for p in parts[1:] if "=" not in p])
    extra = [p for p in parts[1:] if "=" in p]
    if extra:
        raw = dataclasses.asdict(cfg)
        for assignment in extra:
            apply_override(raw, assignment)
        cfg = from_dict(RunConfig, raw, where="")
    return executor, cfg


def run_setting(cfg, name: str, spec: str, data_dir: Path, out: Path, threads: int | None,
                reuse: bool = False) -> dict:
    """Time one setting in a fresh run folder. Its row is saved under OUT/rows with what it
    measured (config, executor, threads per training), so `reuse` takes it back on a rerun
    instead of training it again: an interrupted benchmark resumes setting by setting."""
    import dataclasses

    from hmtl.pipeline import run_pipeline

    executor, cfg = setting_config(cfg, spec)
    folder = out / re.sub(r"[^\w.=+-]+", "_", name).strip("_")
    identity = {"config": dataclasses.asdict(cfg), "executor": executor,
                "threads": threads_per_training(spec, threads), "source": source_version()}
    saved = out / "rows" / f"{folder.name}.json"
    if reuse and saved.exists() and identity["source"] is not None:
        row = json.loads(saved.read_text())
        if row.pop("identity", None) == json.loads(json.dumps(identity)):
            print(f"  {name}: reused {saved}", file=sys.stderr, flush=True)
            return row
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(data_dir, folder / "data")
    start = time.perf_counter()
    r = run_pipeline(cfg, folder, executor=executor, verbose=False, threads=threads)
    wall = time.perf_counter() - start
    records = [json.loads(p.read_text()) for p in (folder / "runs").glob("*/metrics.json")]
    secs = [rec["seconds"] for rec in records]
    flops = training_flops(records, folder / "data")
    row = {"name": name, "wall": wall, "stages": r["run"]["stage_seconds"],
           "trained": r["run"]["trained_now"], "skipped": r["search"]["skipped"],
           "per_training": sum(secs) / max(1, len(secs)), "tree": r["hierarchy"]["tree"],
           "K": {"+".join(p["tasks"]): p["depth"] for p in r["compatibility"]},
           "device": r["search"]["device"], "threads": identity["threads"],
           "graphed": sum(bool(rec.get("cuda_graphs")) for rec in records),
           "records": len(records), "train_seconds": sum(secs), "flops": flops,
           "macs": r["methods"]["independent"]["macs"] / len(r["tasks"]),
           "peak": gemm_peak(identity["threads"], r["search"]["device"]),
           "hier": r["methods"].get("hierarchical", {}).get("vs_independent", {})}
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps({**row, "identity": identity}, indent=1))
    return row


def training_flops(records: list[dict], data_dir: Path) -> float:
    """Arithmetic of the trainings: per epoch, 6 × MACs per training clip (forward, and a
    backward of about twice the forward) and 2 × MACs per validation clip; MACs are the dense
    model's (pruned models compute densely too)."""
    from hmtl.data.dataset import load_dataset

    data = load_dataset(data_dir)
    train, val = len(data.indices("train")), len(data.indices("val"))
    return sum(rec["epochs"] * rec["macs"] * (6 * train + 2 * val) for rec in records)


def gemm_peak(threads: int, device: str, n: int = 2048) -> float:
    """FLOP/s of an n × n fp32 matrix product at `threads` torch threads (best of 5): the
    practical peak of what one training could use."""
    import torch

    dev = torch.device("cuda" if device.startswith("cuda") else "cpu")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
        best = float("inf")
        for _ in range(6):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            a @ b
            if dev.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)
    return 2 * n ** 3 / best


def micro(cfg, data_dir: Path, k: int, plain: int) -> dict:
    """Per-model time of k same-shape pair models, packed vs plain (`plain` of them)."""
    import itertools

    from hmtl.data.dataset import load_dataset
    from hmtl.models import TreeSpec
    from hmtl.training.job import TrainJob
    from hmtl.training.plain import train_job
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
    timing = {"k": k, "plain": plain, "plain_s": t_plain}
    variants = [("packed_s", True)] + ([("packed_eager_s", False)] if graphs_apply(cfg) else [])
    for name, graphs in variants:
        start = time.perf_counter()
        records = [r for r, _ in train_packed(jobs, data, cuda_graphs=graphs)]
        timing[name] = (time.perf_counter() - start) / k
        if graphs:
            timing["cuda_graphs"] = records[0].cuda_graphs
    return timing


def graphs_apply(cfg) -> bool:
    """Whether packed training replays CUDA graphs here (then the micro benchmark also times
    it without them)."""
    from hmtl.training.device import resolve_device

    return resolve_device(cfg.train.device).type == "cuda"


def table(rows: list[dict], references: dict[int, dict]) -> str:
    """One line per setting; K and tree against the exhaustive reference of its threads."""
    base = rows[0]["wall"]
    head = ("| setting | device | threads / training | wall s | stage 1 s | stage 2 s | final s | "
            "other methods s | trainings run | skipped | s / training | × vs first | "
            "MACs / clip | GFLOP/s per training | % of peak | K = reference | tree = reference |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        st = r["stages"]
        ref = references.get((r.get("scale"), r["threads"]))
        if ref is None:
            same_k = same = ""
        else:
            diff = sum(r["K"][p] != ref["K"][p] for p in ref["K"])
            same_k = "yes" if not diff else f"**{diff} of {len(ref['K'])} pairs differ**"
            same = "yes" if r["tree"] == ref["tree"] else "**no**"
        device = r["device"] + (f" (graphs: {r['graphed']} of {r['records']} trainings)"
                                if r.get("graphed") else "")
        lines.append(f"| {r['name']} | {device} | {r['threads']} | {r['wall']:.0f} | "
                     f"{st.get('stage1', 0):.0f} | {st.get('stage2', 0):.0f} | "
                     f"{st.get('final', 0):.0f} | {st.get('methods', 0):.0f} | {r['trained']} | "
                     f"{r['skipped']} | {r['per_training']:.2f} | {base / r['wall']:.2f} | "
                     f"{arithmetic(r)}{same_k} | {same} |")
    return "\n".join(lines)


def arithmetic(r: dict) -> str:
    """MACs of an isolated model, the FLOP/s one training achieved, and that as a share of the
    peak at its threads (columns; blank for rows saved before they were measured)."""
    if "flops" not in r:
        return "| | | "
    achieved = r["flops"] / max(r["train_seconds"], 1e-9)
    return (f"{r['macs'] / 1e6:.2f} M | {achieved / 1e9:.1f} | "
            f"{100 * achieved / r['peak']:.1f} % | ")


def across_widths(rows: list[dict]) -> list[str]:
    """Per setting: time per training at each scale over the largest scale's, beside the MACs
    ratio (what a training would take if time followed arithmetic)."""
    out = []
    by_setting: dict[str, list[dict]] = {}
    for r in rows:
        if "scale" in r:
            by_setting.setdefault(r["setting"], []).append(r)
    for setting, rs in by_setting.items():
        rs = sorted(rs, key=lambda r: -r["scale"])
        full = rs[0]
        for r in rs[1:]:
            out.append(f"- {setting}: a training at ×{r['scale']:g} takes "
                       f"{r['per_training'] / full['per_training']:.2f}× the time of one at "
                       f"×{full['scale']:g} for {r['macs'] / full['macs']:.2f}× the MACs")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("overrides", nargs="*")
    ap.add_argument("--executors", default="serial,local:2,packed")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--device", default=None, help="train.device for every setting")
    ap.add_argument("--reference", choices=["none", "exhaustive"], default="exhaustive",
                    help="also run the exhaustive serial sweep and compare trees")
    ap.add_argument("--reference-executor", default=None,
                    help="executor of the exhaustive reference (default: serial, or local:N "
                         "at fewer threads per training, which gives serial's results)")
    ap.add_argument("--reuse", action="store_true",
                    help="take back settings already measured with the same config, executor "
                         "and threads (OUT/rows): resume an interrupted benchmark")
    ap.add_argument("--data", type=Path, default=None, help="a prepared data/ folder to reuse")
    ap.add_argument("--micro", type=int, default=0, help="packed-vs-plain micro benchmark size")
    ap.add_argument("--micro-plain", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=Path("runs/bench-speed"))
    ap.add_argument("--write", type=Path, default=None,
                    help="write the section into this file (between its markers, else appended)")
    ap.add_argument("--section", default="speed", help="marker name of the section in --write")
    ap.add_argument("--title", default="Speed")
    ap.add_argument("--widths", default="1",
                    help="scales of the config's block widths, each a set of rows (e.g. 1,0.25)")
    args = ap.parse_args(argv)

    from hmtl.config import load_config

    overrides = list(args.overrides) + [f"search.seeds={args.seeds}"]
    if args.device:
        overrides.append(f"train.device={args.device}")
    cfg = load_config(args.config, overrides)
    args.out.mkdir(parents=True, exist_ok=True)
    data_dir, t_features = prepare(cfg, args.out, args.data)
    print(f"features ready in {t_features:.1f} s", file=sys.stderr, flush=True)
    if args.micro:   # first: the shortest figure, there even if a later setting runs out of time
        m = micro(cfg, data_dir, args.micro, args.micro_plain)
        print(f"  micro: {json.dumps(m)}", file=sys.stderr, flush=True)

    scales = [float(w) for w in args.widths.split(",")]
    rows, references = [], {}
    for scale in scales:
        at = [] if scales == [1.0] else \
            [f"model.widths=[{','.join(map(str, widths_of(args.config, scale)))}]"]
        label = "" if scales == [1.0] else f" ×{scale:g}"
        scaled = load_config(args.config, overrides + at)
        first = len(rows)
        for spec in args.executors.split(","):
            print(f"running {spec}{label} ...", file=sys.stderr, flush=True)
            row = run_setting(scaled, spec + label, spec, data_dir, args.out, args.threads,
                              args.reuse)
            rows.append({**row, "setting": spec, "scale": scale})
            print(f"  {spec}{label}: {row['wall']:.1f} s {json.dumps(row)}", file=sys.stderr,
                  flush=True)
        if args.reference == "exhaustive":
            ex_cfg = load_config(args.config, overrides + at + ["search.sweep=exhaustive"])
            for threads in sorted({r["threads"] for r in rows[first:]}, reverse=True):
                spec = args.reference_executor or reference_executor(threads)
                name = f"{spec} exhaustive ({threads} thread{'s' * (threads > 1)}){label}"
                print(f"running {name}, the reference ...", file=sys.stderr, flush=True)
                ref = run_setting(ex_cfg, name, spec, data_dir, args.out,
                                  args.threads or threads, args.reuse)
                references.setdefault((scale, ref["threads"]), ref)
                rows.append(ref)
                print(f"  reference: {ref['wall']:.1f} s {json.dumps(ref)}", file=sys.stderr,
                      flush=True)
    out = [f"### {args.title}", "",
           f"`python benchmarks/speed.py {' '.join([args.config, *args.overrides])} "
           f"--executors {args.executors} --seeds {args.seeds}"
           + (f" --widths {args.widths}" if args.widths != "1" else "")
           + (f" --device {args.device}" if args.device else "")
           + (f" --micro {args.micro}" if args.micro else "") + "`", "",
           f"Machine: {machine()}. Date: {dt.date.today().isoformat()}. "
           f"{args.seeds} seed{'s' * (args.seeds > 1)}. Features computed once beforehand "
           f"({t_features:.1f} s, from the feature cache if it holds them) and "
           "copied into every run folder. K and the tree of a setting are compared with the "
           "exhaustive serial sweep trained at the same threads per training.",
           "", table(rows, references), ""] + across_widths(rows) + [""]
    for r in rows:
        h = r["hier"]
        if h:
            out.append(f"- {r['name']}: hierarchical {100 * h['param_reduction']:.1f} % fewer params, "
                       f"mean drop {100 * h['mean_drop']:.2f} pts, max {100 * h['max_drop']:.2f} pts")
    if args.micro:
        graphs = (f" with CUDA graphs{'' if m.get('cuda_graphs') else ' (capture FAILED: eager)'}"
                  if "packed_eager_s" in m else "")
        out += ["", f"Micro benchmark: {m['k']} same-shape pair models (k=2) packed{graphs}: "
                f"{m['packed_s']:.2f} s per model; plain loop ({m['plain']} models): "
                f"{m['plain_s']:.2f} s per model; packed is {m['plain_s'] / m['packed_s']:.1f}× "
                "faster per model."
                + (f" Packed without CUDA graphs: {m['packed_eager_s']:.2f} s per model "
                   f"({m['plain_s'] / m['packed_eager_s']:.1f}×)." if "packed_eager_s" in m else "")]
    text = "\n".join(out) + "\n"
    print(text)
    if args.write:
        write_section(args.write, args.section, marked(args.section, text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
