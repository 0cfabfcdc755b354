"""PointRend on ResNet101_vd, output stride 8, Cityscapes: PaddleSeg 2.8's architecture with the
settings of its `configs/pointrend/pointrend_resnet101_os8_cityscapes_1024x512_80k.yml` (and of
the R50 config and `_base_/cityscapes.yml` it builds on).

    python -m recipes.pointrend_paddleseg_r101_os8_cityscapes train --data.root=data/cityscapes
    python -m paddle.distributed.launch --gpus 0,1,2,3 \
        recipes/pointrend_paddleseg_r101_os8_cityscapes.py train --data.root=data/cityscapes
    python -m recipes.pointrend_paddleseg_r101_os8_cityscapes eval                      # whole
    python -m recipes.pointrend_paddleseg_r101_os8_cityscapes eval --eval.flip=True     # + flip
    python -m recipes.pointrend_paddleseg_r101_os8_cityscapes eval \
        --eval.scales=[0.75,1.0,1.25] --eval.flip=True                                  # ms + flip
    python -m recipes.pointrend_paddleseg_r101_os8_cityscapes predict --input=DIR_OR_IMAGE
    python -m recipes.pointrend_paddleseg_r101_os8_cityscapes eval --checkpoint=converted/DIR

Network (`pointrend.models.PADDLESEG_LAYOUT`): ResNet101_vd (deep stem, average-pool shortcuts,
a projection in every stage's first block) dilated to output stride 8, PaddleSeg's FPN neck
(256 channels) and FPN head (128 channels, no norm, logits at stride 8), point head of 3 Conv1D
layers x 256 with the coarse logits fed to every layer; 2048 training points (oversample 3,
importance 0.75); 2 subdivision steps of 8196 points (PaddleSeg's default, not the paper's 8192),
refined cells at PaddleSeg's "steps" coordinates; inputs run at their own size, unpadded. The
backbone starts from PaddleSeg's ImageNet ResNet101_vd (`resnet101_vd_ssld.tar.gz`, downloaded
once into the cache). Loss: cross-entropy on the coarse logits + point cross-entropy, weights 1, 1.

Training, as the config: 80k iterations; SGD with momentum 0.9 (PaddleSeg turns `type: SGD` with
a momentum into Momentum); lr 0.01, poly power 0.9 to 0, no warm-up; L2 weight decay 5e-4 on
every parameter, norm scales and biases included (`decay_norm_and_bias=True`: PaddleSeg passes
one float, no parameter groups). Batch: the config says 2 images per card and not how many
cards; `data.batch_size` here is the global batch, and 8 is chosen, i.e. PaddleSeg's 2 per card
on 4 cards, its usual Cityscapes setup (2 per GPU on 4 GPUs, 4 on 2, 8 on one). Augmentation:
random scale 0.5-2.0 in steps of 0.25 (ResizeStepScaling), a 1024x512 (W x H) crop anywhere
(RandomPaddingCrop, no class-balance retries: `cat_max_ratio=1.0`), padded with PaddleSeg's
127.5 grey (0 after normalisation) and ignore 255, horizontal flip 0.5, RandomDistort with
brightness, contrast and saturation 0.4 and its default hue range 18 (of PIL's 0-255 hue circle:
18 / 255 of a turn), then Normalize with mean = std = 0.5 on RGB, (pixel / 255 - 0.5) / 0.5 --
the input PaddleSeg's converted checkpoints expect too.

Not expressible exactly here: RandomDistort draws each of its four distortions with its own
probability 0.5 in a shuffled order; `data.photometric_prob=0.5` draws the four together (one
ColorJitter in random order). Checkpoints every 4000 and evaluation every 8000 iterations are this
project's choice (PaddleSeg saves every 1000 by default and evaluates at each save with
`--do_eval`).

Evaluation, as PaddleSeg's val pipeline: the whole 2048x1024 image, no resizing; with flip
and scales (`--eval.flip=True --eval.scales=[0.75,1.0,1.25]`) the views' raw logits are
averaged (`eval.average="logits"`, PaddleSeg's aug_inference), not their probabilities. The FPN
head's coarsest tower comes out at stride 0.5 (see `PaddleSegFPNHead`): at 1024x2048 it is a
2048x4096x128 float map (4.3 GB), so whole-image eval on CPU needs more than 6 GB of memory (a
GPU of 16 GB holds it). Where that is too much, `--eval.mode=slide --eval.crop=[512,1024]`
runs 1024x512 windows (about a quarter of the memory), which is not PaddleSeg's protocol and
can change the mIoU slightly.

Published: PaddleSeg's ResNet50_vd model of this config family reaches 76.54 mIoU (76.84 flip,
77.45 scales 0.75/1.0/1.25 + flip) on Cityscapes val; the earlier Paddle reproduction's R101_vd
os8 reached 78.78. Not yet measured with this recipe.
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
from pointrend.models import PADDLESEG_LAYOUT
from pointrend.models.pretrained import PADDLESEG_RESNET_VD_URLS

# RandomDistort's default hue_range: a shift of up to 18 on PIL's 0-255 hue channel, in turns.
PADDLESEG_HUE = 18 / 255

RECIPE = Recipe(
    name="pointrend_paddleseg_r101_os8_cityscapes",
    output_dir="output/pointrend_paddleseg_r101_os8_cityscapes",
    model=ModelConfig(
        **PADDLESEG_LAYOUT,
        backbone_depth=101,
        # Plain BN: becomes SyncBatchNorm automatically when training on several GPUs, as
        # PaddleSeg's backbone and neck norms do.
        norm="bn",
        pretrained=PADDLESEG_RESNET_VD_URLS[101],
        fpn_channels=256,
        head_channels=128,
        num_classes=19,
        point_head=True,
        point_head_fc_channels=256,
        point_head_num_fc=3,
        train_num_points=2048,
        oversample_ratio=3.0,
        importance_ratio=0.75,
        subdivision_steps=2,
    ),
    data=DataConfig(
        root="data/cityscapes",
        batch_size=8,
        num_workers=4,
        crop_size=(512, 1024),
        scale_range=(0.5, 2.0),
        scale_step=0.25,
        cat_max_ratio=1.0,
        flip_prob=0.5,
        photometric=True,
        brightness=0.4,
        contrast=0.4,
        saturation=0.4,
        hue=PADDLESEG_HUE,
        photometric_prob=0.5,
        mean=PADDLESEG_MEAN,
        std=PADDLESEG_STD,
        to_rgb=True,
        max_pixel_value=255.0,
        ignore_index=255,
    ),
    loss=LossConfig(coarse_weight=1.0, point_weight=1.0),
    optim=OptimConfig(lr=0.01, momentum=0.9, weight_decay=5e-4, decay_norm_and_bias=True),
    schedule=ScheduleConfig(
        iters=80000,
        warmup_iters=0,
        power=0.9,
        min_lr=0.0,
        eval_interval=8000,
        checkpoint_interval=4000,
        log_interval=50,
    ),
    callbacks=CallbacksConfig(evaluation=True),
    eval=EvalConfig(mode="whole", scales=(1.0,), flip=False, average="logits", boundary_width=3),
)

if __name__ == "__main__":
    run_cli(RecipeCommands(RECIPE))
