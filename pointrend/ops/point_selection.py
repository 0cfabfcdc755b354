"""Choosing where to evaluate the point head.

Shape shorthand: N batch, K classes, H x W map, P points. Coordinates are in [0, 1]^2, (x, y).
"""
import paddle

from pointrend.ops.point_sample import point_sample


def uncertainty(logits: paddle.Tensor) -> paddle.Tensor:
    """Second-largest minus largest logit over axis 1: [N, K, ...] -> [N, 1, ...].

    Values are <= 0; 0 marks the most uncertain location (a tie between the top two classes).
    """
    top2 = paddle.topk(logits, k=2, axis=1).values
    return top2[:, 1:2] - top2[:, 0:1]


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
        flat = (top + paddle.arange(batch, dtype=top.dtype).unsqueeze(1) * num_candidates).reshape([-1])
        chosen.append(paddle.gather(candidates.reshape([-1, 2]), flat).reshape([batch, num_uncertain, 2]))
    if num_uniform > 0:
        chosen.append(paddle.rand([batch, num_uniform, 2], dtype="float32"))
    return paddle.concat(chosen, axis=1)


def uncertain_points_on_grid(uncertainty_map: paddle.Tensor, num_points: int):
    """The `num_points` most uncertain cells of a map [N, 1, H, W].

    Returns (indices [N, P] int64 with idx = y * W + x, coords [N, P, 2] at cell centres)
    with P = min(num_points, H * W).
    """
    _, _, height, width = uncertainty_map.shape
    num_points = min(num_points, height * width)
    flat = uncertainty_map.reshape([uncertainty_map.shape[0], height * width])
    indices = paddle.topk(flat, k=num_points, axis=1).indices
    x = ((indices % width).astype("float32") + 0.5) / width
    y = ((indices // width).astype("float32") + 0.5) / height
    return indices, paddle.stack([x, y], axis=-1)
