"""SemanticFPN + PointRend on your own data: any folder of images and masks with a dataset.json.

    python -m pointrend.data.prepare describe --root=data/mine   # once: data/mine/dataset.json
    python -m pointrend.data.prepare check --root=data/mine      # counts, pairing, values
    python -m recipes.semfpn_pointrend_custom train --data.root=data/mine \\
        --model.pretrained=<ImageNet ResNet-50 .pdparams path or URL>
    python -m recipes.semfpn_pointrend_custom eval --data.root=data/mine
    python -m recipes.semfpn_pointrend_custom predict --data.root=data/mine --input=new_images/

The number of classes and the ignore index come from dataset.json (a --model.num_classes or
--data.ignore_index on the command line wins, and a mismatch with the data is an error); the
evaluation table uses its class names and the colour predictions its palette. The model is the
paper's with a ResNet-50 backbone; the schedule is a shorter version of the Cityscapes one for
datasets of a few hundred to a few thousand images: change any field from the command line.
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

RECIPE = Recipe(
    name="semfpn_pointrend_custom",
    output_dir="output/semfpn_pointrend_custom",
    model=ModelConfig(
        backbone_depth=50,
        backbone_stem="classic",
        norm="bn",
        pretrained=None,  # --model.pretrained: ImageNet weights matter most on small datasets
        point_head=True,
        train_num_points=2048,
        subdivision_steps=2,
        subdivision_num_points=8192,
    ),
    data=DataConfig(
        root="data/custom",
        batch_size=8,
        num_workers=4,
        crop_size=(512, 512),
        scale_range=(0.5, 2.0),
        cat_max_ratio=0.75,
        flip_prob=0.5,
        photometric=True,
    ),
    optim=OptimConfig(lr=0.01, momentum=0.9, weight_decay=5e-4, decay_norm_and_bias=True),
    schedule=ScheduleConfig(
        iters=20000,
        warmup_iters=500,
        power=0.9,
        eval_interval=2000,
        checkpoint_interval=2000,
        log_interval=50,
    ),
    callbacks=CallbacksConfig(evaluation=True),
    eval=EvalConfig(mode="whole", scales=(1.0,), flip=False, boundary_width=3),
)

if __name__ == "__main__":
    run_cli(RecipeCommands(RECIPE, classes_from_dataset=True))
