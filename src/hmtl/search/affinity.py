"""Task affinity from representation similarity (RSA) of the stage-1 models, with no training:
for each task, seed and depth d, the K×K dissimilarity matrix 1 − Pearson(r_i, r_j) between the
representations of K held-out clips after block d; the affinity of two tasks at depth d is the
Spearman correlation of their matrices' upper triangles (averaged over seeds). Representation:
the block's output through the backbone's own global average pooling (over time for tc_cnn,
over frequency and time for ds_cnn), so a clip is a C-vector, insensitive to where in the clip
things happen.

Used by stage 2's pre-screening (search.prescreen) and by the `branched` baseline (Vandenhende
et al., BMVC 2020)."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from ..models import TreeSpec
from ..training.batches import crop
from .context import Context

REPRESENTATION = "global average pooling after each block (time; frequency and time for ds_cnn)"


@torch.no_grad()
def representations(model, x: torch.Tensor) -> list[np.ndarray]:
    """(K, C_d) per depth d: a single-task model's pooled output of each block."""
    model.eval()
    h = model.backbone.prepare(model.norm(x))              # (K, C, T) or (K, 1, F, T)
    out = []
    for blocks in model.blocks:
        h = blocks[0](h)
        out.append(model.backbone.pool(h).double().cpu().numpy())   # (K, C_d)
    return out


def dissimilarity(reps: np.ndarray) -> np.ndarray:
    """K×K: 1 − Pearson correlation between the clips' representation vectors (a constant
    vector correlates 0 with anything)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.corrcoef(reps)
    return 1.0 - np.nan_to_num(c, nan=0.0)


def _ranks(v: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (Spearman's convention)."""
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(len(v), dtype=float)
    _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = _ranks(a) - (len(a) - 1) / 2, _ranks(b) - (len(b) - 1) / 2
    denom = np.sqrt((ra ** 2).sum() * (rb ** 2).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else 0.0


def rsa_affinity(rdm_a: np.ndarray, rdm_b: np.ndarray) -> float:
    iu = np.triu_indices(len(rdm_a), k=1)
    return spearman(rdm_a[iu], rdm_b[iu])


def rsa_clips(ctx: Context) -> torch.Tensor:
    """The first K validation clips (training clips when there is no validation split)."""
    index = ctx.data.indices("val")
    if len(index) < 3:
        index = ctx.data.indices("train")
    return index[:ctx.cfg.baselines.rsa_clips]


def task_affinity(ctx: Context) -> np.ndarray:
    """(L, T, T) affinities, averaged over seeds, from the stage-1 models."""
    tasks, L = ctx.tasks, ctx.depth
    x = crop(ctx.data.x[rsa_clips(ctx)], ctx.data.frames)           # (K, C, frames)
    total = np.zeros((L, len(tasks), len(tasks)))
    for s in ctx.seeds:
        jobs = [ctx.job(TreeSpec.single(t, L), s, f"stage1 {t}") for t in tasks]
        ctx.run(jobs, desc="branched: stage-1 models")                # read back, not trained
        rdms = []
        for t, job in zip(tasks, jobs):
            model = ctx.build_model(job.spec)
            model.load_state_dict(ctx.store.load_state(job))
            rdms.append([dissimilarity(r) for r in representations(model, x)])
        for d in range(L):
            for i, j in itertools.combinations_with_replacement(range(len(tasks)), 2):
                a = 1.0 if i == j else rsa_affinity(rdms[i][d], rdms[j][d])
                total[d, i, j] += a
                total[d, j, i] = total[d, i, j]
    return total / len(ctx.seeds)
