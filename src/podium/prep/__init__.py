"""Data preparation recipes (the Data Wrangler stand-in): ordered transforms compiled to
DuckDB SQL, previews, a data-quality report and export to a script or workflow."""

from podium.prep.executor import Prepared, apply_recipe, prepare, run_recipe
from podium.prep.preview import StepPreview, preview
from podium.prep.recipe import Recipe, load_recipe, parse_recipe

__all__ = [
    "Prepared",
    "Recipe",
    "StepPreview",
    "apply_recipe",
    "load_recipe",
    "parse_recipe",
    "prepare",
    "preview",
    "run_recipe",
]
