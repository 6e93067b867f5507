"""`hmtl run`, assembled: the stages, the compared methods (the baselines register themselves
when this package imports them), results and report, for one run folder (run.py) or once per
data split with the splits' results combined (splits.py)."""

from .run import check_methods, keep_deployment_figures, run_pipeline  # noqa: F401
