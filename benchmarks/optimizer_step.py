"""Cost of one training step on CPU by AdamW form: torch's default per-tensor loop, the
multi-tensor (foreach) form, and the fused kernel; and whether each takes the
loop's steps bit for bit (a form that rounds differently would no longer reproduce finished
trainings). A pair model of the config's backbone at full and a quarter of the widths, where the
many small tensors make per-step overhead count (issue 21).

    python benchmarks/optimizer_step.py configs/ravdess.yaml [--threads 1,2] [--write BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from record import machine, marked, write_section  # noqa: E402

FORMS = {"per-tensor loop (torch's CPU default)": {"foreach": False},
         "foreach": {"foreach": True},
         "fused": {"fused": True}}


def pair_model(config, scale: float):
    from hmtl.models.multitask import build_model
    from hmtl.models.tree import TreeSpec

    widths = [max(1, round(w * scale)) for w in config.model.block_widths]
    model_cfg = dataclasses.replace(config.model, widths=widths)
    f = config.features
    frames = int(f.duration * f.sample_rate) // f.hop_length + 1
    torch.manual_seed(0)
    model = build_model(TreeSpec.pair("a", "b", 2, config.model.blocks), model_cfg,
                        {"a": 8, "b": 24}, f.n_mels, frames)
    return model, (f.n_mels, frames), widths


def steps(config, scale: float, form: dict, n: int, warmup: int = 10):
    """Seconds per step over n steps after warm-up, and the weights after them."""
    model, shape, _ = pair_model(config, scale)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=config.train.lr,
                            weight_decay=config.train.weight_decay, **form)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(config.train.batch_size, *shape, generator=g)
    ya = torch.randint(0, 8, (len(x),), generator=g)
    yb = torch.randint(0, 24, (len(x),), generator=g)
    torch.manual_seed(2)
    start = 0.0
    for i in range(warmup + n):
        if i == warmup:
            start = time.perf_counter()
        out = model(x)
        loss = nn.functional.cross_entropy(out["a"], ya) + nn.functional.cross_entropy(out["b"], yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.train.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config.train.grad_clip)
        opt.step()
    return (time.perf_counter() - start) / n, [p.detach().clone() for p in model.parameters()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--widths", default="1,0.25", help="width scales (default 1,0.25)")
    ap.add_argument("--threads", default="1,2", help="torch threads per training (default 1,2)")
    ap.add_argument("--steps", type=int, default=60, help="timed steps per repeat (default 60)")
    ap.add_argument("--repeats", type=int, default=5, help="interleaved repeats; the median counts")
    ap.add_argument("--write", type=Path, default=None, help="rewrite its section of this file")
    args = ap.parse_args(argv)
    from hmtl.config import load_config

    config = load_config(args.config)
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        for scale in [float(s) for s in args.widths.split(",")]:
            times = {name: [] for name in FORMS}
            same = {}
            for _ in range(args.repeats):          # interleaved: drifts in the host hit all forms
                for name, form in FORMS.items():
                    t, weights = steps(config, scale, form, args.steps)
                    times[name].append(t)
                    same.setdefault(name, weights)
            loop = same[next(iter(FORMS))]
            base = statistics.median(times[next(iter(FORMS))])
            widths = pair_model(config, scale)[2]
            for name in FORMS:
                t = statistics.median(times[name])
                equal = all(torch.equal(a, b) for a, b in zip(loop, same[name]))
                rows.append(f"| ×{scale:g} {widths} | {threads} | {name} | {1000 * t:.2f} | "
                            f"{base / t:.2f} | {'yes' if equal else '**no**'} |")
    command = "python benchmarks/optimizer_step.py " + " ".join(
        str(a) for a in (argv if argv is not None else sys.argv[1:]))
    text = "\n".join([
        "### CPU: AdamW per-tensor loop, foreach, fused (`benchmarks/optimizer_step.py`)", "",
        f"`{command}`", "",
        f"Machine: {machine()}. Date: {dt.date.today()}. A pair model (two tasks sharing two "
        f"blocks) of {args.config.name}'s backbone, batch {config.train.batch_size}, forward, "
        f"backward, gradient clipping and the optimizer step; median of {args.repeats} "
        f"interleaved repeats of {args.steps} steps. 'bit for bit': the weights after "
        f"{args.steps + 10} steps equal the per-tensor loop's.", "",
        "| widths | threads | AdamW | ms / step | × vs loop | bit for bit |",
        "|---|---|---|---|---|---|", *rows])
    print(text)
    if args.write:
        write_section(args.write, "optimizer-cpu", marked("optimizer-cpu", text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
