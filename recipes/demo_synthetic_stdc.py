"""The synthetic demo with real-time PointRend: STDC1-Seg + PointRend, a few minutes on CPU.

    python -m recipes.demo_synthetic_stdc demo   # generate data if absent, train, evaluate, predict

The data and the procedure are those of `recipes.demo_synthetic` (96x192 street scenes, the same
weights evaluated with and without subdivision); the network is STDC1-Seg, whose coarse
prediction is at stride 8 (12x24 here), refined by a point head on the stride-8 backbone map and
3 subdivision steps to 96x192. Trained from scratch with STDC's losses plus the point loss.
"""

from dataclasses import replace

from pointrend.app.cli import run_cli
from pointrend.config.recipe import LossConfig, ModelConfig
from recipes.demo_synthetic import RECIPE as RESNET_DEMO
from recipes.demo_synthetic import DemoCommands

RECIPE = replace(
    RESNET_DEMO,
    name="demo_synthetic_stdc",
    output_dir="output/demo_synthetic_stdc",
    model=ModelConfig(
        arch="stdc",
        stdc_variant="stdc1",
        fine_feature_stride=8,
        point_head_fc_channels=64,
        train_num_points=512,
        # 3 steps from the 12x24 coarse map reach 96x192, 1152 points each (as the ResNet demo).
        subdivision_steps=3,
        subdivision_num_points=1152,
    ),
    # OHEM keeps at least 10000 of the 8 x 96 x 192 labelled pixels of a batch (about 7%).
    loss=LossConfig(ohem_thresh=0.7, ohem_min_kept=10000),
)

if __name__ == "__main__":
    run_cli(DemoCommands(RECIPE))
