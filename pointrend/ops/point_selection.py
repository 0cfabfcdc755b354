"""Choosing where to evaluate the point head.

Shape shorthand: N batch, K classes, H x W map, P points. Coordinates are in [0, 1]^2, (x, y).
"""

import paddle

from pointrend.ops.point_sample import point_sample

# How a grid cell's index becomes its coordinates (see grid_cell_coords).
CELL_COORDS = ("centre", "steps")


def uncertainty(logits: paddle.Tensor) -> paddle.Tensor:
    """Second-largest minus largest logit over axis 1: [N, K, ...] -> [N, 1, ...].

    Values are <= 0; 0 marks the most uncertain location (a tie between the top two classes).
    """
    if logits.shape[1] < 2:
        raise ValueError(
            f"uncertainty: need at least 2 classes on axis 1, got shape {list(logits.shape)}"
        )
    # A running top-2 over the class slices is exact (a tie leaves first == second) and about 8x
    # faster on CPU than topk(k=2) along a non-last axis. One slice per class, not unbind: in an
    # exported graph unbind (and the unsqueeze it needed) copies all the logits first, which made
    # this 4x slower under Paddle Inference at 1024x2048.
    first = logits[:, 0:1]
    second = paddle.full_like(first, float("-inf"))
    for k in range(1, logits.shape[1]):
        scores = logits[:, k : k + 1]
        second = paddle.maximum(second, paddle.minimum(first, scores))
        first = paddle.maximum(first, scores)
    return second - first


@paddle.no_grad()
def sample_points_for_training(
    coarse_logits: paddle.Tensor,
    num_points: int,
    oversample_ratio: float = 3,
    importance_ratio: float = 0.75,
) -> paddle.Tensor:
    """Importance sampling of training points (PointRend, section 3.1): [N, K, H, W] -> [N, P, 2].

    Draws oversample_ratio * P uniform points, keeps the importance_ratio * P most uncertain of
    them (by the coarse prediction sampled there) and tops up with fresh uniform points.
    Output order: uncertain points first, then uniform ones. No gradient.
    """
    if oversample_ratio < 1:
        raise ValueError(f"oversample_ratio must be >= 1, got {oversample_ratio}")
    if not 0 <= importance_ratio <= 1:
        raise ValueError(f"importance_ratio must be in [0, 1], got {importance_ratio}")
    batch = coarse_logits.shape[0]
    num_candidates = int(num_points * oversample_ratio)
    num_uncertain = int(importance_ratio * num_points)
    num_uniform = num_points - num_uncertain

    candidates = paddle.rand([batch, num_candidates, 2], dtype="float32")
    chosen = []
    if num_uncertain > 0:
        scores = uncertainty(point_sample(coarse_logits.astype("float32"), candidates))[:, 0]
        top = paddle.topk(scores, k=num_uncertain, axis=1).indices
        flat = (top + paddle.arange(batch, dtype=top.dtype).unsqueeze(1) * num_candidates).reshape(
            [-1]
        )
        chosen.append(
            paddle.gather(candidates.reshape([-1, 2]), flat).reshape([batch, num_uncertain, 2])
        )
    if num_uniform > 0:
        chosen.append(paddle.rand([batch, num_uniform, 2], dtype="float32"))
    return paddle.concat(chosen, axis=1)


def uncertain_points_on_grid(
    uncertainty_map: paddle.Tensor, num_points: int, cell_coords: str = "centre"
) -> tuple[paddle.Tensor, paddle.Tensor]:
    """The `num_points` most uncertain cells of a map [N, 1, H, W].

    Returns (indices [N, P] int64 with idx = y * W + x, coords [N, P, 2] of the cells, see
    `grid_cell_coords`) with P = min(num_points, H * W).
    """
    if len(uncertainty_map.shape) != 4 or uncertainty_map.shape[1] != 1:
        raise ValueError(
            "uncertain_points_on_grid: expected a map [N, 1, H, W], got shape "
            f"{list(uncertainty_map.shape)}"
        )
    # Sizes come from paddle.shape, not Python ints, so that an exported graph with a dynamic
    # H x W still takes min(num_points, H * W) points.
    size = paddle.shape(uncertainty_map).astype("int64")
    height, width = size[2], size[3]
    num_cells = height * width
    k = paddle.minimum(paddle.full([], num_points, dtype="int64"), num_cells)
    indices = paddle.topk(uncertainty_map.flatten(start_axis=1), k=k, axis=1).indices
    return indices, grid_cell_coords(indices, height, width, cell_coords)


def grid_cell_coords(
    indices: paddle.Tensor, height: paddle.Tensor, width: paddle.Tensor, convention: str = "centre"
) -> paddle.Tensor:
    """Normalised (x, y) of flat cell indices [N, P] (y * W + x) of an H x W grid -> [N, P, 2].

    "centre": (x + 0.5) / W, the cell centre computed in one rounding (detectron2).
    "steps":  step / 2 + x * step with step = 1 / W, every operation rounded to float32
              (PaddleSeg's get_points_test); the same centres up to the last bits.
    """
    if convention not in CELL_COORDS:
        raise ValueError(f"cell_coords must be one of {CELL_COORDS}, got {convention!r}")
    column = (indices % width).astype("float32")
    row = (indices // width).astype("float32")
    height, width = height.astype("float32"), width.astype("float32")
    if convention == "centre":
        return paddle.stack([(column + 0.5) / width, (row + 0.5) / height], axis=-1)
    x_step, y_step = 1.0 / width, 1.0 / height
    return paddle.stack([x_step / 2.0 + column * x_step, y_step / 2.0 + row * y_step], axis=-1)
