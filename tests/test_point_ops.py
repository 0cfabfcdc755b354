import shutil
import sysconfig

import numpy as np
import paddle
import pytest

from pointrend.ops import (
    get_num_threads,
    grid_sample_labels,
    grid_sample_points,
    native,
    native_available,
    point_sample,
    sample_labels,
    sample_points_for_training,
    set_num_threads,
    uncertain_points_on_grid,
    uncertainty,
)

needs_native = pytest.mark.skipif(
    not native_available(), reason="compiled point-sampling kernel not built"
)


def test_point_sample_hits_pixel_centres():
    features = paddle.arange(12, dtype="float32").reshape([1, 1, 3, 4])
    coords = paddle.to_tensor([[[0.5 / 4, 0.5 / 3], [3.5 / 4, 2.5 / 3]]], dtype="float32")
    np.testing.assert_allclose(point_sample(features, coords).numpy(), [[[0.0, 11.0]]], atol=1e-6)


def test_sample_labels_outside_is_ignore():
    labels = paddle.to_tensor([[[1, 2], [3, 4]]], dtype="int64")
    coords = paddle.to_tensor([[[0.25, 0.75], [-0.5, 0.5]]], dtype="float32")
    np.testing.assert_array_equal(sample_labels(labels, coords).numpy(), [[3, 255]])


def test_uncertainty_is_second_minus_first():
    logits = paddle.to_tensor([[[[1.0]], [[3.0]], [[2.5]]]])
    np.testing.assert_allclose(uncertainty(logits).numpy().ravel(), [-0.5])


def _kernel_sample(features, coords, mode="bilinear"):
    return native.native_point_sample(features, coords, mode)


# Every hand-computed case runs on both implementations.
SAMPLERS = [
    pytest.param(grid_sample_points, id="grid_sample"),
    pytest.param(_kernel_sample, id="kernel", marks=needs_native),
]


def _row_map(values):
    """A 1 x W map [1, 1, 1, W]; y = 0.5 is the centre of its only row."""
    return paddle.to_tensor(values, dtype="float32").reshape([1, 1, 1, -1])


def _at_x(*xs):
    return paddle.to_tensor([[[x, 0.5] for x in xs]], dtype="float32")


@pytest.mark.parametrize("sample", SAMPLERS)
def test_bilinear_hand_computed_values(sample):
    features = _row_map([10.0, 20.0, 30.0, 40.0])  # pixel i has its centre at x = (i + 0.5) / 4
    coords = _at_x(
        0.125,  # centre of pixel 0
        0.25,  # half-way between pixels 0 and 1
        0.0,  # left border: half a pixel outside the centre, blends 50 % with zero padding
        1.0,  # right border
        -0.0625,  # a quarter pixel outside the map: 25 % of pixel 0
        -0.125,  # half a pixel outside: nothing left
        0.4375,  # a quarter of the way from pixel 1 to pixel 2
    )
    expected = [10.0, 15.0, 5.0, 20.0, 2.5, 0.0, 22.5]
    np.testing.assert_allclose(
        sample(features, coords, "bilinear").numpy().ravel(), expected, atol=1e-5
    )


@pytest.mark.parametrize("sample", SAMPLERS)
def test_bilinear_blends_both_axes(sample):
    features = paddle.to_tensor([[1.0, 2.0], [3.0, 4.0]]).reshape([1, 1, 2, 2])
    centre = paddle.to_tensor([[[0.5, 0.5], [0.5, 0.0]]], dtype="float32")
    # Map centre: mean of all four; top border at x = 0.5: half of the top row's mean.
    np.testing.assert_allclose(
        sample(features, centre, "bilinear").numpy().ravel(), [2.5, 0.75], atol=1e-6
    )


@pytest.mark.parametrize("sample", SAMPLERS)
def test_nearest_hand_computed_values(sample):
    features = _row_map([10.0, 20.0, 30.0, 40.0])
    coords = _at_x(0.2, 0.3, -0.1, 1.1, 0.999)
    expected = [10.0, 20.0, 0.0, 0.0, 40.0]
    np.testing.assert_allclose(sample(features, coords, "nearest").numpy().ravel(), expected)


def test_nearest_kernel_matches_grid_sample_on_exact_halves():
    if not native_available():
        pytest.skip("compiled point-sampling kernel not built")
    features = _row_map([1.0, 2.0, 3.0, 4.0])
    # Pixel positions -0.5, 0.5, ..., 3.5: every one is a rounding tie.
    coords = _at_x(*[(k + 0.5) / 4 for k in range(-1, 4)])
    reference = grid_sample_points(features, coords, "nearest").numpy()
    np.testing.assert_array_equal(_kernel_sample(features, coords, "nearest").numpy(), reference)


@pytest.mark.parametrize("use_kernel", [False, pytest.param(True, marks=needs_native)])
def test_sample_labels_nearest_and_ignore(use_kernel):
    labels = paddle.to_tensor([[[0, 1, 2], [3, 4, 5]]], dtype="int64")
    coords = paddle.to_tensor(
        [[[0.1, 0.2], [0.9, 0.9], [0.5, 0.6], [1.2, 0.5], [0.5, -0.3]]], dtype="float32"
    )
    run = native.native_sample_labels if use_kernel else grid_sample_labels
    np.testing.assert_array_equal(run(labels, coords, 255).numpy(), [[0, 5, 4, 255, 255]])
    np.testing.assert_array_equal(run(labels, coords, 7).numpy(), [[0, 5, 4, 7, 7]])


def _random_case(seed, batch=2, channels=5, height=9, width=13, points=300):
    rng = np.random.RandomState(seed)
    features = rng.randn(batch, channels, height, width).astype("float32")
    # Some points fall outside the map to exercise the zero padding.
    coords = rng.uniform(-0.15, 1.15, size=(batch, points, 2)).astype("float32")
    grad_out = rng.randn(batch, channels, points).astype("float32")
    return features, coords, grad_out


def _forward_backward(sample, features, coords, grad_out, mode):
    features = paddle.to_tensor(features, stop_gradient=False)
    out = sample(features, paddle.to_tensor(coords), mode)
    (grad,) = paddle.grad(out, features, grad_outputs=paddle.to_tensor(grad_out))
    return out.numpy(), grad.numpy()


@needs_native
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_kernel_matches_grid_sample_forward_and_backward(mode):
    case = _random_case(seed=0)
    out_kernel, grad_kernel = _forward_backward(_kernel_sample, *case, mode)
    out_reference, grad_reference = _forward_backward(grid_sample_points, *case, mode)
    np.testing.assert_allclose(out_kernel, out_reference, atol=1e-5, rtol=0)
    np.testing.assert_allclose(grad_kernel, grad_reference, atol=1e-5, rtol=0)
    assert np.abs(grad_reference).sum() > 0


@needs_native
def test_kernel_matches_grid_sample_labels_on_random_maps():
    rng = np.random.RandomState(1)
    labels = paddle.to_tensor(rng.randint(0, 19, size=(2, 11, 17)).astype("int64"))
    coords = paddle.to_tensor(rng.uniform(-0.1, 1.1, size=(2, 500, 2)).astype("float32"))
    np.testing.assert_array_equal(
        native.native_sample_labels(labels, coords, 255).numpy(),
        grid_sample_labels(labels, coords).numpy(),
    )


@needs_native
def test_kernel_results_do_not_depend_on_thread_count():
    case = _random_case(seed=2, channels=64, points=2000)
    try:
        set_num_threads(1)
        single = _forward_backward(_kernel_sample, *case, "bilinear")
        set_num_threads(2)
        double = _forward_backward(_kernel_sample, *case, "bilinear")
    finally:
        set_num_threads(None)
    np.testing.assert_array_equal(single[0], double[0])
    np.testing.assert_array_equal(single[1], double[1])


def test_kernel_is_built_where_a_compiler_exists():
    """The fast path must not vanish silently: a machine with a C compiler builds it at install."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip(
            f"no C compiler ({compiler}) on this machine; the grid_sample fallback is in use"
        )
    assert native_available(), (
        "pointrend.ops._native is missing although a C compiler exists: reinstall with "
        "`pip install -e .` (or run `python setup.py build_ext --inplace`) and read the build log"
    )


class _KernelSpy:
    """Stands in for the compiled module and records which kernels ran."""

    def __init__(self, module):
        self._module = module
        self.calls = []

    def __getattr__(self, name):
        attribute = getattr(self._module, name)
        if not callable(attribute):
            return attribute

        def record(*args):
            self.calls.append(name)
            return attribute(*args)

        return record


@needs_native
def test_dispatch_uses_kernel_only_for_float32_cpu(monkeypatch):
    spy = _KernelSpy(native._native)
    monkeypatch.setattr(native, "_native", spy)
    features, coords, _ = _random_case(seed=3)
    coords = paddle.to_tensor(coords)
    features32 = paddle.to_tensor(features, stop_gradient=False)
    point_sample(features32, coords).sum().backward()
    sample_labels(paddle.zeros([2, 9, 13], dtype="int64"), coords)
    assert spy.calls == ["forward", "backward", "sample_labels"]

    spy.calls.clear()
    out64 = point_sample(paddle.to_tensor(features.astype("float64")), coords)
    assert spy.calls == [] and out64.dtype == paddle.float64
    np.testing.assert_allclose(out64.numpy(), point_sample(features32, coords).numpy(), atol=1e-5)


def test_static_graph_uses_grid_sample_and_matches():
    def sample(features, coords):
        return point_sample(features, coords)

    static_sample = paddle.jit.to_static(
        sample,
        input_spec=[
            paddle.static.InputSpec([None, 3, None, None], "float32"),
            paddle.static.InputSpec([None, None, 2], "float32"),
        ],
        full_graph=True,
    )
    features, coords, _ = _random_case(seed=4, channels=3)
    features, coords = paddle.to_tensor(features), paddle.to_tensor(coords)
    np.testing.assert_allclose(
        static_sample(features, coords).numpy(), point_sample(features, coords).numpy(), atol=1e-5
    )


def test_coords_get_no_gradient():
    features = paddle.randn([1, 2, 5, 5])
    features.stop_gradient = False
    coords = paddle.rand([1, 7, 2])
    coords.stop_gradient = False
    point_sample(features, coords).sum().backward()
    assert features.grad is not None
    assert coords.grad is None


def test_mismatched_shapes_are_rejected():
    with pytest.raises(ValueError, match="coords must be"):
        point_sample(paddle.zeros([2, 1, 4, 4]), paddle.zeros([1, 3, 2]))
    with pytest.raises(ValueError, match="4-D map"):
        point_sample(paddle.zeros([1, 4, 4]), paddle.zeros([1, 3, 2]))
    with pytest.raises(ValueError, match="mode"):
        point_sample(paddle.zeros([1, 1, 4, 4]), paddle.zeros([1, 3, 2]), mode="bicubic")


def test_thread_count_rule(monkeypatch):
    monkeypatch.setenv("POINTREND_NUM_THREADS", "3")
    assert get_num_threads() == 3
    try:
        set_num_threads(5)
        assert get_num_threads() == 5
    finally:
        set_num_threads(None)
    monkeypatch.setenv("POINTREND_NUM_THREADS", "zero")
    with pytest.raises(ValueError, match="POINTREND_NUM_THREADS"):
        get_num_threads()


def test_uncertainty_matches_top2_and_handles_ties():
    logits = paddle.to_tensor(np.random.RandomState(5).randn(2, 7, 3, 4).astype("float32"))
    top2 = np.sort(logits.numpy(), axis=1)[:, ::-1][:, :2]
    expected = top2[:, 1:2] - top2[:, 0:1]
    np.testing.assert_allclose(uncertainty(logits).numpy(), expected, atol=1e-6)
    tie = paddle.to_tensor([[[2.0], [5.0], [5.0], [1.0]]])  # [N=1, K=4, P=1]
    np.testing.assert_array_equal(uncertainty(tie).numpy(), [[[0.0]]])
    assert (uncertainty(logits).numpy() <= 0).all()


def test_uncertain_points_on_grid_indices_and_centres():
    # Ties-free 3 x 4 map whose most uncertain cells (values closest to 0) are known.
    values = -np.array([[5, 9, 2, 11], [7, 0, 10, 3], [8, 6, 1, 4]], dtype="float32")
    indices, coords = uncertain_points_on_grid(paddle.to_tensor(values).reshape([1, 1, 3, 4]), 3)
    np.testing.assert_array_equal(indices.numpy(), [[5, 10, 2]])  # y * W + x of values 0, -1, -2
    np.testing.assert_allclose(
        coords.numpy(), [[[1.5 / 4, 1.5 / 3], [2.5 / 4, 2.5 / 3], [2.5 / 4, 0.5 / 3]]], atol=1e-6
    )
    all_indices, all_coords = uncertain_points_on_grid(
        paddle.to_tensor(values).reshape([1, 1, 3, 4]), 100
    )
    assert all_indices.shape == [1, 12] and all_coords.shape == [1, 12, 2]


def _ramp_logits(batch=2, height=512, width=32):
    """Two classes whose margin grows with |x - 0.5|: the vertical centre line is most uncertain.

    The map is tall so that the half-pixel bands at the top and bottom, where zero padding also
    shrinks the margin, hold a negligible share of the points.
    """
    x = (np.arange(width, dtype="float32") + 0.5) / width
    margin = np.broadcast_to(10.0 * (x - 0.5), (batch, height, width))
    return paddle.to_tensor(np.stack([np.zeros_like(margin), margin], axis=1))


def test_sample_points_for_training_shape_order_and_determinism():
    logits = _ramp_logits()
    logits.stop_gradient = False
    paddle.seed(11)
    points = sample_points_for_training(logits, 400, oversample_ratio=3, importance_ratio=0.75)
    paddle.seed(11)
    again = sample_points_for_training(logits, 400, oversample_ratio=3, importance_ratio=0.75)
    assert points.shape == [2, 400, 2]
    assert points.stop_gradient
    np.testing.assert_array_equal(points.numpy(), again.numpy())
    distance = np.abs(points.numpy()[..., 0] - 0.5)
    # The 300 most uncertain of 1200 uniform candidates lie within about 1/8 of the centre line;
    # the 100 uniform points after them spread over the whole map.
    assert distance[:, :300].max() < 0.2
    assert distance[:, 300:].max() > 0.3
    assert ((points.numpy() >= 0) & (points.numpy() <= 1)).all()


def test_sample_points_for_training_ratio_extremes_and_errors():
    logits = _ramp_logits(batch=1)
    paddle.seed(0)
    only_uncertain = sample_points_for_training(
        logits, 50, oversample_ratio=4, importance_ratio=1.0
    )
    assert np.abs(only_uncertain.numpy()[..., 0] - 0.5).max() < 0.2
    assert sample_points_for_training(logits, 50, importance_ratio=0.0).shape == [1, 50, 2]
    with pytest.raises(ValueError, match="oversample_ratio"):
        sample_points_for_training(logits, 50, oversample_ratio=0.5)
    with pytest.raises(ValueError, match="importance_ratio"):
        sample_points_for_training(logits, 50, importance_ratio=1.5)


@pytest.mark.parametrize("sample", SAMPLERS)
def test_zero_points_give_empty_output(sample):
    features = paddle.randn([2, 3, 4, 5])
    features.stop_gradient = False
    out = sample(features, paddle.zeros([2, 0, 2]), "bilinear")
    assert out.shape == [2, 3, 0]
    (grad,) = paddle.grad(out.sum(), features)
    np.testing.assert_array_equal(grad.numpy(), np.zeros([2, 3, 4, 5], dtype="float32"))
