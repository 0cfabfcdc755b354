"""Adaptive subdivision: PointRend inference (Kirillov et al. 2020, section 3.1).

Shape shorthand: N batch, K classes, C channels, H x W map, P points.
Written with tensor-valued shapes only (no Python min() on shapes, no numpy) so that it can be
traced by `paddle.jit.to_static`.
"""

from collections.abc import Callable

import paddle

from pointrend.ops import point_sample, uncertain_points_on_grid, uncertainty
from pointrend.ops.resize import upsample_bilinear_any_mode

PointHeadFn = Callable[[paddle.Tensor, paddle.Tensor], paddle.Tensor]


def scatter_point_logits(
    logits: paddle.Tensor, indices: paddle.Tensor, point_logits: paddle.Tensor
) -> paddle.Tensor:
    """Write `point_logits` [N, K, P] into `logits` [N, K, H, W] at flat cell `indices` [N, P] (y *
    W + x).

    Overwrites `logits` in place in dynamic mode; returns the result as [N, K, H, W].
    """
    flat = logits.flatten(start_axis=2)
    # tile, not expand_as: paddle2onnx writes expand_as with the traced shape (-1 for dynamic dims)
    # as a constant, which ONNX Runtime rejects.
    index = indices.unsqueeze(1).tile([1, point_logits.shape[1], 1])
    values = point_logits.astype(flat.dtype)
    if paddle.in_dynamic_mode():
        # In place: the upsampled logits belong to this step alone, and an out-of-place scatter
        # copies all of them (152 MB at 1024x2048) to change 8192 columns. Static graphs (export)
        # refuse in-place writes into a flattened view and plan their own memory anyway.
        flat.put_along_axis_(index, values, axis=2, broadcast=False)
    else:
        flat = paddle.put_along_axis(flat, index, values, axis=2, broadcast=False)
    return paddle.reshape(flat, paddle.shape(logits))


def adaptive_subdivision(
    coarse_logits: paddle.Tensor,
    fine_features: paddle.Tensor,
    point_head: PointHeadFn,
    num_steps: int,
    num_points: int,
    trace: list[dict] | None = None,
    cell_coords: str = "centre",
) -> paddle.Tensor:
    """Refine coarse logits [N, K, h, w] into [N, K, h * 2^steps, w * 2^steps].

    Each step upsamples the current logits 2x (bilinear, align_corners=False), picks the
    `num_points` most uncertain cells, predicts them with `point_head(fine, coarse)` from the
    fine features [N, C, H', W'] and the ORIGINAL coarse logits sampled at the cell centres,
    and writes those predictions back; every other cell keeps its upsampled value.
    `cell_coords` is how a cell's coordinates are computed (`pointrend.ops.grid_cell_coords`).
    When `trace` is a list, one dict per step is appended: {"indices" [N, P], "coords" [N, P, 2],
    "height", "width"} of that step's grid.
    """
    logits = coarse_logits
    for _ in range(num_steps):
        logits = upsample_bilinear_any_mode(logits, 2)
        indices, coords = uncertain_points_on_grid(uncertainty(logits), num_points, cell_coords)
        point_logits = point_head(
            point_sample(fine_features, coords), point_sample(coarse_logits, coords)
        )
        logits = scatter_point_logits(logits, indices, point_logits)
        if trace is not None:
            trace.append(
                {
                    "indices": indices,
                    "coords": coords,
                    "height": logits.shape[2],
                    "width": logits.shape[3],
                }
            )
    return logits
