import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from pointrend.ops.resize import upsample_bilinear, upsample_bilinear_any_mode, upsample_nearest

SHAPES = [(1, 1, 1, 1), (2, 3, 5, 7), (1, 2, 1, 4), (3, 4, 6, 1), (1, 19, 8, 16)]


def _random(shape):
    return paddle.to_tensor(np.random.RandomState(sum(shape)).randn(*shape).astype(np.float32))


@pytest.mark.parametrize("shape", SHAPES, ids=["x".join(map(str, s)) for s in SHAPES])
@pytest.mark.parametrize("factor", [1, 2, 4])
def test_bilinear_equals_interpolate(shape, factor):
    x = _random(shape)
    size = [factor * shape[2], factor * shape[3]]
    expected = F.interpolate(x, size=size, mode="bilinear", align_corners=False).numpy()
    np.testing.assert_allclose(upsample_bilinear(x, factor).numpy(), expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape", SHAPES, ids=["x".join(map(str, s)) for s in SHAPES])
def test_bilinear_odd_factor_equals_interpolate(shape):
    x = _random(shape)
    expected = F.interpolate(
        x, size=[3 * shape[2], 3 * shape[3]], mode="bilinear", align_corners=False
    )
    # Paddle's kernel computes with the rounded ratio 1/3, ours with exact phase weights.
    np.testing.assert_allclose(upsample_bilinear(x, 3).numpy(), expected.numpy(), atol=5e-6, rtol=0)


@pytest.mark.parametrize("shape", SHAPES, ids=["x".join(map(str, s)) for s in SHAPES])
@pytest.mark.parametrize("factor", [1, 2, 3, 4])
def test_nearest_equals_interpolate_exactly(shape, factor):
    x = _random(shape)
    expected = F.interpolate(x, size=[factor * shape[2], factor * shape[3]], mode="nearest").numpy()
    np.testing.assert_array_equal(upsample_nearest(x, factor).numpy(), expected)


def test_bilinear_gradient_equals_interpolate():
    x = _random((2, 3, 5, 6))
    x.stop_gradient = False
    weights = _random((2, 3, 10, 12))
    (upsample_bilinear(x, 2) * weights).sum().backward()
    ours = x.grad.numpy()
    x.clear_gradient()
    (
        F.interpolate(x, size=[10, 12], mode="bilinear", align_corners=False) * weights
    ).sum().backward()
    np.testing.assert_allclose(ours, x.grad.numpy(), atol=1e-5, rtol=0)


def test_traced_graph_has_no_interpolation_op_and_same_values():
    class Up(paddle.nn.Layer):
        def forward(self, x):
            return upsample_nearest(upsample_bilinear_any_mode(x, 2), 2)

    layer = Up()
    static = paddle.jit.to_static(
        layer,
        input_spec=[paddle.static.InputSpec([None, 3, None, None], "float32")],
        full_graph=True,
    )
    x = _random((1, 3, 5, 9))
    expected = F.interpolate(
        F.interpolate(x, size=[10, 18], mode="bilinear", align_corners=False),
        size=[20, 36],
        mode="nearest",
    )
    np.testing.assert_allclose(static(x).numpy(), expected.numpy(), atol=1e-6, rtol=0)
    program = str(static.forward.concrete_program.main_program)
    assert "interp" not in program and "pixel_shuffle" in program


@pytest.mark.parametrize("factor", [0, -1, 1.5])
def test_bad_factor_is_rejected(factor):
    with pytest.raises(ValueError, match="positive int"):
        upsample_bilinear(_random((1, 1, 2, 2)), factor)
