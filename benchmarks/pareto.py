"""The benchmark's Pareto figure (benchmarks/figures/CORPUS.svg): each method's mean drop
across widths against params and against MACs. A helper of bench.py, not a script."""

from __future__ import annotations

from pathlib import Path


def pareto_figure(name: str, points: list[dict], out: Path) -> Path:
    """Mean drop vs independent per method across widths, against params (log; LTH at its
    non-zero count) and against MACs per clip (log; LTH keeps the independent set's dense
    compute), with ± the seeds' spread; the random trees of each width as grey dots, the budget
    trees as diamonds."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    colors = {"independent": "#475569", "flat": "#dc2626", "hierarchical": "#2563eb",
              "lth": "#d97706", "lt4rec": "#7c3aed", "branched": "#059669",
              "random_tree": "#9ca3af", "flat_matched": "#db2777"}
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "hmtl-bench",
                                "font.size": 9}):
        fig = Figure(figsize=(10.4, 4.2), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, 2, sharey=True)
        for ax, size in zip(axes, ("params", "macs")):
            def x_of(e: dict) -> float:
                return e.get("nonzero_params", e["params"]) if size == "params" else e["macs"]

            for method, color in colors.items():
                xs, ys, es = [], [], []
                for p in points:
                    e = p["results"]["methods"].get(method)
                    if not e or not e.get("vs_independent"):
                        continue
                    xs.append(x_of(e))
                    ys.append(100 * e["vs_independent"]["mean_drop"])
                    es.append(100 * e["vs_independent"]["mean_drop_std"])
                if xs and method != "random_tree":
                    ax.errorbar(xs, ys, yerr=es, fmt="o-", color=color, label=method,
                                markersize=5, capsize=3, linewidth=1.2)
            for i, p in enumerate(points):
                rt = p["results"]["methods"].get("random_tree") or {}
                trees = rt.get("trees") or []
                if trees:
                    ax.scatter([t[size] for t in trees], [100 * t["mean_drop"] for t in trees],
                               s=10, color="#9ca3af", zorder=1,
                               label="random trees" if i == 0 else None)
                for b in p["results"].get("budgets") or []:
                    h = b["method"]["vs_independent"]
                    ax.errorbar([b[size]], [100 * h["mean_drop"]],
                                yerr=[100 * h["mean_drop_std"]], fmt="D", color="#111827",
                                markersize=6, capsize=3,
                                label="60 %-smaller tree" if i == 0 else None)
            ax.axhline(0, color="#9ca3af", linestyle="--", linewidth=1)
            ax.set_xscale("log")
            ax.set_xlabel("trainable parameters (non-zero)" if size == "params"
                          else "multiply-accumulates per clip (dense)")
            ax.grid(True, color="#e5e7eb", linewidth=0.8)
        axes[0].set_ylabel("mean drop vs independent (pts; ± seed std)")
        axes[0].legend(fontsize=7, ncol=2, frameon=False)
        scales = ", ×".join(f"{p['scale']:g}" for p in points)
        fig.suptitle(f"{name}: widths ×{scales}")
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    return out
