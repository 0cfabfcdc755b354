"""Sampling feature maps at continuous point coordinates.

Shape shorthand: N batch, C channels, H x W map, P points.
Coordinates are normalised to [0, 1]^2 with the last axis (x, y), x along the width, so pixel
i has its centre at (i + 0.5) / W; values within half a pixel of the border blend with zeros.
"""
import paddle
import paddle.nn.functional as F


def point_sample(features: paddle.Tensor, coords: paddle.Tensor, mode: str = "bilinear") -> paddle.Tensor:
    """Sample `features` [N, C, H, W] at `coords` [N, P, 2] -> [N, C, P].

    Same numbers as `grid_sample(features, 2 * coords - 1, align_corners=False)` with zero
    padding; `mode="nearest"` is for label maps. Differentiable with respect to `features`.
    """
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"point_sample: mode must be 'bilinear' or 'nearest', got {mode!r}")
    grid = 2.0 * coords.unsqueeze(2) - 1.0
    sampled = F.grid_sample(features, grid, mode=mode, padding_mode="zeros", align_corners=False)
    return sampled.squeeze(3)


def sample_labels(labels: paddle.Tensor, coords: paddle.Tensor, ignore_index: int = 255) -> paddle.Tensor:
    """Nearest-neighbour sample of an integer label map [N, H, W] at `coords` [N, P, 2] -> [N, P] int64.

    Points that fall outside the map get `ignore_index`, so they never contribute to a loss.
    """
    # Shifting by ignore_index turns grid_sample's zero padding into the ignore label.
    shifted = (labels.astype("float32") - float(ignore_index)).unsqueeze(1)
    sampled = point_sample(shifted, coords, mode="nearest").squeeze(1)
    return (sampled + float(ignore_index)).round().astype("int64")
