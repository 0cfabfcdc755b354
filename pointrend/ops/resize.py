"""Integer-factor upsampling without interpolation ops, equal to `F.interpolate`.

Shape shorthand: N batch, C channels, H x W map, s the integer factor.
Built from slices, weighted sums, stack and reshape only, so that an exported graph holds no
`bilinear_interp` / `nearest_interp` op: Paddle 3.3's oneDNN executor rejects those ops
(their float-array attributes), and then a whole exported model would have to run without
oneDNN. Every op used here has a dynamic-shape static-graph and ONNX form.
"""

import paddle
import paddle.nn.functional as F


def _check_factor(factor: int) -> None:
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"upsampling factor must be a positive int, got {factor!r}")


def _interleave(phases: list[paddle.Tensor], axis: int) -> paddle.Tensor:
    """Phase tensors [N, C, H, W], the r-th holding output positions s*i + r along `axis` (2 or 3)
    -> [N, C, s*H, W] (axis 2) or [N, C, H, s*W] (axis 3)."""
    if len(phases) == 1:
        return phases[0]
    return paddle.stack(phases, axis=axis + 1).flatten(start_axis=axis, stop_axis=axis + 1)


def upsample_nearest(x: paddle.Tensor, factor: int) -> paddle.Tensor:
    """[N, C, H, W] -> [N, C, s*H, s*W]: each value repeated s x s times; equal to
    `F.interpolate(x, size=[s*H, s*W], mode="nearest")` bit for bit."""
    _check_factor(factor)
    if factor == 1:
        return x
    wide = _interleave([x] * factor, axis=3)
    return _interleave([wide] * factor, axis=2)


def _edge_neighbours(x: paddle.Tensor, axis: int) -> tuple[paddle.Tensor, paddle.Tensor]:
    """(previous, next) neighbour of every element along `axis`, repeating the edge element:
    the clamping `F.interpolate` applies at the borders."""
    first = paddle.slice(x, axes=[axis], starts=[0], ends=[1])
    last = paddle.slice(x, axes=[axis], starts=[-1], ends=[2**31 - 1])
    previous = paddle.concat(
        [first, paddle.slice(x, axes=[axis], starts=[0], ends=[-1])], axis=axis
    )
    following = paddle.concat(
        [paddle.slice(x, axes=[axis], starts=[1], ends=[2**31 - 1]), last], axis=axis
    )
    return previous, following


def _bilinear_axis(x: paddle.Tensor, factor: int, axis: int) -> paddle.Tensor:
    """Linear upsampling by `factor` along one spatial axis with half-pixel centres.

    Output position s*i + r samples the input at i + d, d = (2r + 1 - s) / (2s), |d| < 1/2:
    a blend of x[i] and its previous (d < 0) or next (d > 0) neighbour with weights 1 - |d|, |d|.
    """
    previous, following = _edge_neighbours(x, axis)
    phases = []
    for r in range(factor):
        offset = (2 * r + 1 - factor) / (2 * factor)
        if offset == 0:
            phases.append(x)
        else:
            neighbour = previous if offset < 0 else following
            phases.append(x * (1.0 - abs(offset)) + neighbour * abs(offset))
    return _interleave(phases, axis)


def upsample_bilinear(x: paddle.Tensor, factor: int) -> paddle.Tensor:
    """[N, C, H, W] -> [N, C, s*H, s*W]; equal (to float rounding) to
    `F.interpolate(x, size=[s*H, s*W], mode="bilinear", align_corners=False)`."""
    _check_factor(factor)
    if factor == 1:
        return x
    return _bilinear_axis(_bilinear_axis(x, factor, axis=3), factor, axis=2)


def upsample_bilinear_any_mode(x: paddle.Tensor, factor: int) -> paddle.Tensor:
    """`upsample_bilinear` for model code: [N, C, H, W] -> [N, C, s*H, s*W].

    Dynamic mode (training, dygraph eval) calls `F.interpolate`, whose CPU kernel is several
    times faster there than the sum of slices; a traced graph (export) gets the
    interpolation-free form, which runs under oneDNN. The two agree to float rounding.
    """
    _check_factor(factor)
    if factor == 1:
        return x
    if paddle.in_dynamic_mode():
        return F.interpolate(
            x, size=[factor * x.shape[2], factor * x.shape[3]], mode="bilinear", align_corners=False
        )
    return upsample_bilinear(x, factor)
