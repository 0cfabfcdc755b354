"""STDC1-Seg on Cityscapes: the STDC2-Seg recipe on the STDC1 (STDCNet813) backbone, as PaddleSeg's
STDC1 config is its STDC2 config with the other backbone.

    python -m recipes.stdc1_seg_cityscapes train --data.root=data/cityscapes
    python -m recipes.stdc1_seg_cityscapes eval --eval.scales=[0.5]     # Seg50; [0.75]: Seg75

Every command and setting of `recipes.stdc2_seg_cityscapes` applies (PaddleSeg's table: 74.74,
75.71 flip, 76.64 scales 0.75/1.0/1.25 + flip, with its whole-image evaluation).
"""

from dataclasses import replace

from pointrend.app.cli import RecipeCommands, run_cli
from recipes.stdc2_seg_cityscapes import RECIPE as STDC2_RECIPE

STDC1_IMAGENET_URL = "https://bj.bcebos.com/paddleseg/dygraph/STDCNet1.tar.gz"

RECIPE = replace(
    STDC2_RECIPE,
    name="stdc1_seg_cityscapes",
    output_dir="output/stdc1_seg_cityscapes",
    model=replace(STDC2_RECIPE.model, stdc_variant="stdc1", pretrained=STDC1_IMAGENET_URL),
)

if __name__ == "__main__":
    run_cli(RecipeCommands(RECIPE))
