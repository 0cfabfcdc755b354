"""The SemanticFPN baseline: the PointRend recipe without the point head (bilinear upsampling of
the stride-4 coarse prediction), for a like-for-like comparison."""

from dataclasses import replace

from pointrend.app.cli import RecipeCommands, run_cli
from recipes.semfpn_pointrend_cityscapes import RECIPE as POINTREND_RECIPE

RECIPE = replace(
    POINTREND_RECIPE,
    name="semfpn_cityscapes",
    output_dir="output/semfpn_cityscapes",
    model=replace(POINTREND_RECIPE.model, point_head=False),
)

if __name__ == "__main__":
    run_cli(RecipeCommands(RECIPE))
