"""Per-depth size and cost of a tree, for the diagram: results.json holds each method's total
only, so the backbone is rebuilt from the run's config.yaml (shapes only, no weights)."""

from __future__ import annotations

from dataclasses import dataclass

from .load import RunInfo


@dataclass
class BlockCosts:
    params: list[int]            # one instance of block d (index d-1)
    macs: list[int]
    head_params: dict[str, int]  # per task (empty when the classes are unknown)

    def per_depth(self, tree: list) -> list[tuple[int, int, int]]:
        """(instances, params, MACs) at each depth of a tree."""
        return [(len(p), len(p) * self.params[d], len(p) * self.macs[d])
                for d, p in enumerate(tree)]


def head_outputs(meta: dict, task: str) -> int | None:
    """Outputs of a task's head, by its type: its classes, 1 number, or the embedding size."""
    kind = (meta.get("types") or {}).get(task, "classification")
    if kind == "regression":
        return 1
    if kind == "verification":
        from ..config import TaskConfig

        dim = ((meta.get("task_config") or {}).get(task) or {}).get("embedding_dim")
        return int(dim or TaskConfig(task).embedding_dim)
    classes = (meta.get("classes") or {}).get(task)
    return len(classes) if classes else None


def block_costs(info: RunInfo) -> BlockCosts | None:
    """None when config.yaml is absent, unreadable, or disagrees with the sizes in results.json
    (a config edited after the run): a wrong per-depth figure is worse than none."""
    if not info.config or not info.depth:
        return None
    try:
        from ..config import FeatureConfig, ModelConfig, from_dict
        from ..models.backbones import get_backbone, head_params

        model = from_dict(ModelConfig, info.config.get("model"), "model")
        features = from_dict(FeatureConfig, info.config.get("features"), "features")
        frames = (info.meta or {}).get("frames") or features.num_frames
        backbone = get_backbone(model, features.channels, frames)
        if backbone.depth != info.depth:
            return None
        params = [backbone.block_params(d) for d in range(1, backbone.depth + 1)]
        macs = [backbone.block_macs(d) for d in range(1, backbone.depth + 1)]
        heads = {t: head_params(backbone.out_features, n)
                 for t in info.tasks if (n := head_outputs(info.meta or {}, t))}
    except Exception:                                   # optional detail: never fail the report
        return None
    costs = BlockCosts(params, macs, heads if len(heads) == len(info.tasks) else {})
    if costs.head_params:
        for m in info.methods.values():
            tree = m.get("tree")
            if tree and len(tree) == len(params) and m.get("nonzero_params") == m.get("params"):
                total = sum(p for _, p, _ in costs.per_depth(tree)) + sum(heads.values())
                if total != m.get("params"):
                    return None
    return costs
