"""Corpus recipes: turn a corpus in the layout its authors publish into an hmtl manifest.

Each recipe is registered by name (`@register_recipe`), documents where the corpus is
downloaded and its licence, and reads labels from file names and metadata only; nothing is
downloaded. `hmtl prepare CORPUS SRC_DIR --out manifest.csv` runs one, and
`hmtl prepare merge A.csv B.csv --out M.csv` joins manifests (merge.py). Importers
(importers.py: folder, audiofolder, lhotse) read generic layouts instead of one corpus."""

from __future__ import annotations

from .base import RECIPES, Recipe, register_recipe, write_manifest  # noqa: F401
from .merge import merge_manifests  # noqa: F401
# Each recipe module registers itself on import.
from . import audiomnist, audiomnist_az, crema_d, emodb, fsdd, ravdess, savee  # noqa: F401,E402
from . import arabic_sc, speech_commands  # noqa: F401,E402
from .importers import IMPORTERS, write_import  # noqa: F401,E402
from . import audiofolder, folder, lhotse  # noqa: F401,E402
