"""Real-time PointRend: STDC2-Seg as the coarse head of PointRend, Cityscapes.

    python -m recipes.stdc2_pointrend_cityscapes train --data.root=data/cityscapes
    python -m recipes.stdc2_pointrend_cityscapes eval --eval.compare_without_subdivision=True
    python -m recipes.stdc2_pointrend_cityscapes eval --eval.scales=[0.5]          # Seg50
    python -m recipes.stdc2_pointrend_cityscapes predict --input=... --save_points=True
    python -m recipes.stdc2_pointrend_cityscapes export --output=exported/

STDC-Seg predicts at stride 8, where thin objects and outlines are lost first. Here its main
logits are the coarse prediction of PointRend: during training 2048 points per image are chosen
by importance sampling on them (oversample 3, importance 0.75) and a point head (3 FC x 256) learns
to re-predict them from the coarse logits and the stride-8 backbone map; at inference adaptive
subdivision takes the prediction from stride 8 to full resolution in 3 steps of 8192 points
(1024x2048 from 128x256). The loss is STDC-Seg's (OHEM on the main and auxiliary heads, detail
loss) plus the point cross-entropy, all weighted 1.

Why the stride-8 backbone map for the point features: it is the map the detail loss trains to
carry boundaries and the one STDC-Seg fuses for its main head (256 channels); the stride-4 map
is two convolutions from the image (64 channels, a 7x7 receptive field), little more than colour.
The paper's semantic-segmentation PointRend likewise reads P2 at the stride of its coarse head.
`--model.fine_feature_stride=4` trains the other choice.

Everything else (data, schedule, optimiser, evaluation presets) is `recipes.stdc2_seg_cityscapes`.
`--model.subdivision_steps=0` evaluates the same weights with bilinear upsampling only.
"""

from dataclasses import replace

from pointrend.app.cli import RecipeCommands, run_cli
from recipes.stdc2_seg_cityscapes import RECIPE as STDC2_RECIPE

RECIPE = replace(
    STDC2_RECIPE,
    name="stdc2_pointrend_cityscapes",
    output_dir="output/stdc2_pointrend_cityscapes",
    model=replace(
        STDC2_RECIPE.model,
        point_head=True,
        fine_feature_stride=8,
        point_head_fc_channels=256,
        point_head_num_fc=3,
        train_num_points=2048,
        oversample_ratio=3.0,
        importance_ratio=0.75,
        subdivision_steps=3,
        subdivision_num_points=8192,
    ),
    loss=replace(STDC2_RECIPE.loss, point_weight=1.0),
)

if __name__ == "__main__":
    run_cli(RecipeCommands(RECIPE))
