"""Models: backbone blocks (registry), the tree spec, and one model class for every tree."""

from .backbones import BACKBONES, Backbone, register_backbone  # noqa: F401
from .multitask import TreeModel, build_model, tree_cost  # noqa: F401
from .tree import TreeSpec  # noqa: F401
