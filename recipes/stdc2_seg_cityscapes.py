"""STDC2-Seg on Cityscapes ("Rethinking BiSeNet for Real-time Semantic Segmentation", Fan et al.,
CVPR 2021), with the settings of PaddleSeg's batch-36 STDC2-Seg config.

    python -m recipes.stdc2_seg_cityscapes train --data.root=data/cityscapes
    python -m paddle.distributed.launch --gpus 0,1,2 recipes/stdc2_seg_cityscapes.py train ...
    python -m recipes.stdc2_seg_cityscapes eval                                    # whole image
    python -m recipes.stdc2_seg_cityscapes eval --eval.scales=[0.5]                # Seg50
    python -m recipes.stdc2_seg_cityscapes eval --eval.scales=[0.75]               # Seg75
    python -m recipes.stdc2_seg_cityscapes eval --eval.flip=True                   # + flip
    python -m recipes.stdc2_seg_cityscapes eval --eval.scales=[0.75,1.0,1.25] --eval.flip=True
    python -m recipes.stdc2_seg_cityscapes predict --input=data/cityscapes/leftImg8bit/test
    python -m recipes.stdc2_seg_cityscapes export --output=exported/

Training: 80k iterations, global batch 36 (`data.batch_size` is the global batch: 36 images on
one GPU, 12 per GPU on 3, 9 on 4, 6 on 6; with 8 GPUs pick 32 or 40), SGD momentum 0.9, lr 0.01,
poly 0.9 to 0 without warm-up, L2 weight decay 4e-5 on every parameter; random scale 0.125-1.5 in
steps of 0.125, 1024x512 (W x H) crop padded with ignore, horizontal flip, colour jitter 0.5
(brightness, contrast, saturation; PaddleSeg draws each with probability 0.5, here they are drawn
together with probability 0.5). Images are normalised as PaddleSeg does by default,
(pixel / 255 - 0.5) / 0.5 in RGB, which is what its published STDC-Seg checkpoints expect
(PaddleSeg's first STDC2 config used the ImageNet mean and std: `--data.mean` / `--data.std`).
Loss: OHEM cross-entropy (threshold 0.7, 10000 pixels kept at least per process batch) on the
main and both auxiliary heads plus the detail aggregation loss, weights [1, 1, 1, 1]. The
backbone starts from PaddleSeg's ImageNet STDC2 weights (STDCNet1446), downloaded and cached.

Evaluation: `--eval.scales=[s]` resizes the image by s, runs the network and resizes its logits
back to full resolution. The paper's "Seg50" / "Seg75" are scales 0.5 / 0.75. PaddleSeg's
Cityscapes table names its STDC models "Seg50" after the 1024x512 training crop, but its val
pipeline feeds the whole 2048x1024 image: compare with its 77.60 (78.32 flip, 78.83 scales
0.75/1.0/1.25 + flip) at the default scale 1.0.
"""

from pointrend.app.cli import RecipeCommands, run_cli
from pointrend.config.recipe import (
    PADDLESEG_MEAN,
    PADDLESEG_STD,
    CallbacksConfig,
    DataConfig,
    EvalConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    Recipe,
    ScheduleConfig,
)

STDC2_IMAGENET_URL = "https://bj.bcebos.com/paddleseg/dygraph/STDCNet2.tar.gz"

RECIPE = Recipe(
    name="stdc2_seg_cityscapes",
    output_dir="output/stdc2_seg_cityscapes",
    model=ModelConfig(
        arch="stdc",
        stdc_variant="stdc2",
        # Plain BN: becomes SyncBatchNorm automatically when training on several GPUs.
        norm="bn",
        pretrained=STDC2_IMAGENET_URL,
        point_head=False,
        num_classes=19,
    ),
    data=DataConfig(
        root="data/cityscapes",
        batch_size=36,
        num_workers=4,
        crop_size=(512, 1024),
        scale_range=(0.125, 1.5),
        scale_step=0.125,
        # PaddleSeg's RandomPaddingCrop takes any crop: no class-balance retries.
        cat_max_ratio=1.0,
        flip_prob=0.5,
        photometric=True,
        brightness=0.5,
        contrast=0.5,
        saturation=0.5,
        hue=0.0,
        photometric_prob=0.5,
        mean=PADDLESEG_MEAN,
        std=PADDLESEG_STD,
    ),
    loss=LossConfig(
        coarse_weight=1.0, aux_weight=1.0, detail_weight=1.0, ohem_thresh=0.7, ohem_min_kept=10000
    ),
    optim=OptimConfig(lr=0.01, momentum=0.9, weight_decay=4e-5, decay_norm_and_bias=True),
    schedule=ScheduleConfig(
        iters=80000,
        warmup_iters=0,
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
