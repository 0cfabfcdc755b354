"""Sampling feature maps at continuous point coordinates.

Shape shorthand: N batch, C channels, H x W map, P points.
Coordinates are normalised to [0, 1]^2 with the last axis (x, y), x along the width, so pixel
i has its centre at (i + 0.5) / W; values within half a pixel of the border blend with zeros.

Float32 CPU tensors in dynamic mode go through the compiled kernel (pointrend.ops.native);
everything else (GPU, other dtypes, static graphs for export) uses Paddle's grid_sample. Both
paths give the same numbers.
"""

import paddle
import paddle.nn.functional as F

from pointrend.ops.native import native_point_sample, native_sample_labels, native_serves

_MODES = ("bilinear", "nearest")


def _differ(a, b) -> bool:
    # Sizes unknown while tracing a static graph (-1 or symbolic values) are not checked.
    return isinstance(a, int) and isinstance(b, int) and a >= 0 and b >= 0 and a != b


def _check_shapes(name: str, maps: paddle.Tensor, map_rank: int, coords: paddle.Tensor) -> None:
    if len(maps.shape) != map_rank:
        layout = "[N, C, H, W]" if map_rank == 4 else "[N, H, W]"
        raise ValueError(
            f"{name}: expected a {map_rank}-D map {layout}, got shape {list(maps.shape)}"
        )
    if (
        len(coords.shape) != 3
        or _differ(coords.shape[2], 2)
        or _differ(coords.shape[0], maps.shape[0])
    ):
        raise ValueError(
            f"{name}: coords must be [N, P, 2] with N = {maps.shape[0]} (the map's batch size), "
            f"got shape {list(coords.shape)}"
        )


def grid_sample_points(
    features: paddle.Tensor, coords: paddle.Tensor, mode: str = "bilinear"
) -> paddle.Tensor:
    """The pure-Paddle definition of point_sample: [N, C, H, W] at [N, P, 2] -> [N, C, P]."""
    grid = 2.0 * coords.astype(features.dtype).unsqueeze(2) - 1.0
    sampled = F.grid_sample(features, grid, mode=mode, padding_mode="zeros", align_corners=False)
    return sampled.squeeze(3)


def point_sample(
    features: paddle.Tensor, coords: paddle.Tensor, mode: str = "bilinear"
) -> paddle.Tensor:
    """Sample `features` [N, C, H, W] at `coords` [N, P, 2] -> [N, C, P].

    Same numbers as `grid_sample(features, 2 * coords - 1, align_corners=False)` with zero
    padding; `mode="nearest"` is for label maps. Differentiable with respect to `features`;
    the coordinates receive no gradient.
    """
    if mode not in _MODES:
        raise ValueError(f"point_sample: mode must be 'bilinear' or 'nearest', got {mode!r}")
    _check_shapes("point_sample", features, 4, coords)
    if features.dtype == paddle.float32 and native_serves(features, coords):
        return native_point_sample(features, coords, mode)
    return grid_sample_points(features, coords.detach(), mode)


def grid_sample_labels(
    labels: paddle.Tensor, coords: paddle.Tensor, ignore_index: int = 255
) -> paddle.Tensor:
    """The pure-Paddle definition of sample_labels: [N, H, W] at [N, P, 2] -> [N, P] int64."""
    # Shifting by ignore_index turns grid_sample's zero padding into the ignore label.
    shifted = (labels.astype("float32") - float(ignore_index)).unsqueeze(1)
    sampled = grid_sample_points(shifted, coords.detach(), mode="nearest").squeeze(1)
    return (sampled + float(ignore_index)).round().astype("int64")


def sample_labels(
    labels: paddle.Tensor, coords: paddle.Tensor, ignore_index: int = 255
) -> paddle.Tensor:
    """Nearest-neighbour sample of an integer label map [N, H, W] at `coords` [N, P, 2] -> [N, P]
    int64.

    Points that fall outside the map get `ignore_index`, so they never contribute to a loss.
    """
    _check_shapes("sample_labels", labels, 3, coords)
    if paddle.is_integer(labels) and native_serves(labels, coords):
        return native_sample_labels(labels, coords, ignore_index)
    return grid_sample_labels(labels, coords, ignore_index)
