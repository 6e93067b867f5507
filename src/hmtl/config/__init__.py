"""Typed run configuration: the schema (schema.py) and how it is loaded from YAML with
`key=value` overrides (loading.py)."""

from .loading import apply_override, dump_config, from_dict, load_config  # noqa: F401
from .schema import (DEFAULT_METHODS, BaselinesConfig, DataConfig, FeatureConfig,  # noqa: F401
                     ModelConfig, RunConfig, SearchConfig, TaskConfig, TrainConfig)
