"""report.html: a self-contained page per run (tables, synergy heat-maps, the tree, accuracy
against size and compute), rebuilt from results.json without training anything. Every task is
shown in its primary metric (accuracy, EER, MAE: see metrics.py).

    load.py          results.json and the optional files of a run folder
    metrics.py       how each task's primary metric is shown: unit, scale, direction
    synergy.py       stage-2 measurements as task × task matrices
    blocks.py        per-depth size and cost of a tree, from the run's config
    plots.py         matplotlib figures as inline SVG (matplotlib is imported there only)
    tree_diagram.py  the tree as a hand-drawn SVG
    sections.py, stage2.py, comparison.py   the page's sections; format.py their helpers
    diagnostics.py   the final model's per-class scores, confusion matrices, learning curves
    html.py          the page itself and write_report()
    model_card.py    RUN/MODEL_CARD.md: what the model is, was trained on and is for
"""

from .html import write_report  # noqa: F401
from .model_card import write_model_card  # noqa: F401
