"""How stable the search is: stages 1 and 2 repeated with fresh seeds (search.stability), and how
often the same compatibility depths K and the same tree come back. A tree that changes with the
seeds is a tree the data does not determine; the report says so."""

from __future__ import annotations

import dataclasses

from ..utils.progress import say
from .context import Context
from .stage1 import run_stage1
from .stage2 import PairOutcome, run_stage2
from .stage3 import tree_from_pairs


def depths_of(pairs: list[PairOutcome]) -> dict[str, int]:
    return {"+".join(p.tasks): p.compatibility_depth for p in pairs}


def repeat_search(ctx: Context, pairs: list[PairOutcome], repeats: int) -> dict:
    """Stages 1-2 again `repeats` times, repeat i with seeds r·i … r·i + r − 1 (resumable like
    every training), compared with the run's own search."""
    r = len(ctx.seeds)
    reference = depths_of(pairs)
    tree = tree_from_pairs(ctx.tasks, ctx.depth, pairs)
    runs = []
    for i in range(1, repeats + 1):
        say(f"stability: search repeat {i}/{repeats} (seeds {r * i}-{r * i + r - 1})")
        again = dataclasses.replace(ctx, seed_offset=ctx.seed_offset + r * i)
        found = run_stage2(again, run_stage1(again))
        runs.append({"seeds": again.seeds, "depths": depths_of(found),
                     "tree": tree_from_pairs(ctx.tasks, ctx.depth, found).to_json()})
    same_k = sum(run["depths"] == reference for run in runs)
    same_tree = sum(run["tree"] == tree.to_json() for run in runs)
    per_pair = {p: sum(run["depths"][p] == k for run in runs) / repeats
                for p, k in reference.items()}
    return {"repeats": repeats, "same_depths": same_k / repeats, "same_tree": same_tree / repeats,
            "pair_agreement": per_pair, "runs": runs}
