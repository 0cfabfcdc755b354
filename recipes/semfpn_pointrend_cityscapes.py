"""SemanticFPN + PointRend, ResNet-101 FPN, Cityscapes: the paper's semantic segmentation model.

    python -m recipes.semfpn_pointrend_cityscapes train --data.root=data/cityscapes
    python -m paddle.distributed.launch --gpus 0,1,2,3 \
        recipes/semfpn_pointrend_cityscapes.py train ...

Network and points follow the paper (detectron2): ResNet-101, output stride 32, FPN 256,
Semantic FPN head at stride 4, point head of 3 FC layers x 256 on P2 + coarse logits,
2048 training points (oversample 3, importance 0.75), 2 subdivision steps of 8192 points
(1024x2048 from the stride-4 coarse map). The backbone starts from detectron2's ImageNet weights,
MSRA's ResNet-101 (downloaded once into the cache), which take BGR images on the 0-255 scale
minus detectron2's pixel mean: the data normalisation is theirs. The schedule is the
80k-iteration poly schedule of the mmsegmentation/Paddle reproductions (batch 8, lr 0.01,
power 0.9, 1000 warm-up iterations).
"""

from pointrend.app.cli import RecipeCommands, run_cli
from pointrend.config.recipe import (
    CallbacksConfig,
    DataConfig,
    EvalConfig,
    ModelConfig,
    OptimConfig,
    Recipe,
    ScheduleConfig,
)
from pointrend.models.pretrained import MSRA_PIXEL_MEAN, MSRA_PIXEL_STD, MSRA_RESNET_URLS

RECIPE = Recipe(
    name="semfpn_pointrend_cityscapes",
    output_dir="output/semfpn_pointrend_cityscapes",
    model=ModelConfig(
        backbone_depth=101,
        backbone_stem="classic",
        # Plain BN: becomes SyncBatchNorm automatically when training on several GPUs.
        norm="bn",
        pretrained=MSRA_RESNET_URLS[101],
        point_head=True,
        train_num_points=2048,
        oversample_ratio=3.0,
        importance_ratio=0.75,
        subdivision_steps=2,
        subdivision_num_points=8192,
    ),
    data=DataConfig(
        root="data/cityscapes",
        batch_size=8,
        num_workers=4,
        crop_size=(512, 1024),
        scale_range=(0.5, 2.0),
        cat_max_ratio=0.75,
        flip_prob=0.5,
        photometric=True,
        # The MSRA weights' input: BGR, 0-255 scale, minus the pixel mean, std 1.
        mean=MSRA_PIXEL_MEAN,
        std=MSRA_PIXEL_STD,
        to_rgb=False,
        max_pixel_value=1.0,
    ),
    # Weight decay 5e-4 on every parameter: the value validated with exactly this 80k x batch-8
    # poly schedule (mmseg R101: 78.3 mIoU). detectron2's 1e-4 without norm decay belongs to its
    # 65k x batch-32 step schedule.
    optim=OptimConfig(lr=0.01, momentum=0.9, weight_decay=5e-4, decay_norm_and_bias=True),
    schedule=ScheduleConfig(
        iters=80000,
        warmup_iters=1000,
        power=0.9,
        eval_interval=8000,
        checkpoint_interval=4000,
        log_interval=50,
    ),
    callbacks=CallbacksConfig(evaluation=True),
    eval=EvalConfig(mode="whole", scales=(1.0,), flip=False, boundary_width=3),
)

if __name__ == "__main__":
    run_cli(RecipeCommands(RECIPE))
