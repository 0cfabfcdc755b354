"""Parameter counts (and optionally feature shapes) of the SemanticFPN + PointRend models.

python -m pointrend.models.summary              # R18, R50, R101 parameter counts
python -m pointrend.models.summary --shapes     # also run one 1024x2048 image through R50
"""

import argparse

import paddle

from pointrend.models.builder import build_model
from pointrend.models.segmentor import Segmentor

DEPTHS = (18, 50, 101)


def count_parameters(layer: paddle.nn.Layer) -> int:
    """Learnable tensors' sizes; BN running statistics (parameters in Paddle) are not counted."""
    return sum(
        int(p.size)
        for name, p in layer.named_parameters()
        if not name.endswith(("_mean", "_variance"))
    )


def parameter_summary(model: Segmentor) -> dict[str, int]:
    parts = {
        "backbone": model.backbone,
        "neck": model.neck,
        "head": model.coarse_head,
        "point head": getattr(model, "point_head", None),
    }
    counts = {
        name: count_parameters(part) if part is not None else 0 for name, part in parts.items()
    }
    counts["total"] = count_parameters(model)
    return counts


def print_shapes(model: Segmentor, height: int, width: int) -> None:
    """The backbone's and the FPN neck's feature shapes (C2.. and P2..) for one image."""
    if model.neck is None:
        raise ValueError("print_shapes needs a model with a feature pyramid neck (Semantic FPN)")
    model.eval()
    images = paddle.zeros([1, 3, height, width])
    with paddle.no_grad():
        features = model.backbone(images)
        pyramid = model.neck(features)
        coarse = model.coarse_head(pyramid)
        logits = model(images)
    for level, (c, p) in enumerate(zip(features, pyramid, strict=True), start=2):
        print(f"  C{level} {list(c.shape)}   P{level} {list(p.shape)}")
    print(f"  coarse logits {list(coarse.shape)}   output logits {list(logits.shape)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--shapes", action="store_true", help="run one image through ResNet-50 and print shapes"
    )
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=2048)
    args = parser.parse_args()
    header = f"{'model':<32}{'total':>12}{'backbone':>12}{'neck':>12}{'head':>12}{'point head':>12}"
    print(header)
    print("-" * len(header))
    for depth in DEPTHS:
        counts = parameter_summary(build_model(backbone_depth=depth))
        print(
            f"{f'R{depth}-FPN SemanticFPN+PointRend':<32}"
            + "".join(
                f"{counts[k]:>12,}" for k in ("total", "backbone", "neck", "head", "point head")
            )
        )
    if args.shapes:
        print(f"\nR50 shapes at {args.height}x{args.width}:")
        print_shapes(build_model(backbone_depth=50), args.height, args.width)


if __name__ == "__main__":
    main()
