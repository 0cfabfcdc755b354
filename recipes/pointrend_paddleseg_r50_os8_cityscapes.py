"""PointRend on ResNet50_vd, output stride 8, Cityscapes: PaddleSeg's
`configs/pointrend/pointrend_resnet50_os8_cityscapes_1024x512_80k.yml`, i.e. the R101 recipe on
ResNet50_vd starting from PaddleSeg's `resnet50_vd_ssld_v2.tar.gz` (its R101 config is this one
with the other backbone).

    python -m recipes.pointrend_paddleseg_r50_os8_cityscapes train --data.root=data/cityscapes
    python -m recipes.pointrend_paddleseg_r50_os8_cityscapes eval --checkpoint=converted/DIR \
        --eval.scales=[0.75,1.0,1.25] --eval.flip=True

Every command and setting of `recipes.pointrend_paddleseg_r101_os8_cityscapes` applies.
PaddleSeg's published model of this config: 76.54 mIoU on Cityscapes val (76.84 flip, 77.45
scales 0.75/1.0/1.25 + flip), the authors' numbers, not measured here.
"""

from dataclasses import replace

from pointrend.app.cli import RecipeCommands, run_cli
from pointrend.models.pretrained import PADDLESEG_RESNET_VD_URLS
from recipes.pointrend_paddleseg_r101_os8_cityscapes import RECIPE as R101_RECIPE

RECIPE = replace(
    R101_RECIPE,
    name="pointrend_paddleseg_r50_os8_cityscapes",
    output_dir="output/pointrend_paddleseg_r50_os8_cityscapes",
    model=replace(R101_RECIPE.model, backbone_depth=50, pretrained=PADDLESEG_RESNET_VD_URLS[50]),
)

if __name__ == "__main__":
    run_cli(RecipeCommands(RECIPE))
