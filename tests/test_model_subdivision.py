"""Adaptive subdivision writes exactly the chosen points and nothing else."""

import numpy as np
import paddle
import paddle.nn.functional as F

from pointrend.models import adaptive_subdivision
from pointrend.ops import point_sample


def constant_head(value):
    def head(fine, coarse):
        return paddle.full_like(coarse, value)

    return head


def coarse_echo_head(fine, coarse):
    """Returns the coarse logits it was given, to show which map they were sampled from."""
    return coarse


def test_45x45_with_two_steps_gives_180x180():
    coarse = paddle.randn([1, 3, 45, 45])
    fine = paddle.randn([1, 4, 45, 45])
    trace = []
    out = adaptive_subdivision(coarse, fine, constant_head(0.0), 2, 500, trace)
    assert out.shape == [1, 3, 180, 180]
    assert [(t["height"], t["width"]) for t in trace] == [(90, 90), (180, 180)]


def test_writes_exactly_the_chosen_points():
    paddle.seed(1)
    coarse = paddle.randn([2, 4, 6, 8])
    fine = paddle.randn([2, 3, 6, 8])
    trace = []
    out = adaptive_subdivision(coarse, fine, constant_head(100.0), 1, 20, trace)
    upsampled = F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=False).numpy()
    chosen = np.zeros([2, 12 * 16], dtype=bool)
    np.put_along_axis(chosen, trace[0]["indices"].numpy(), True, axis=1)
    chosen = np.broadcast_to(chosen.reshape(2, 1, 12, 16), upsampled.shape)
    assert chosen[:, 0].sum() == 2 * 20
    np.testing.assert_array_equal(out.numpy()[chosen], 100.0)
    np.testing.assert_array_equal(out.numpy()[~chosen], upsampled[~chosen])


def test_second_step_upsamples_refined_logits_but_samples_original_coarse():
    paddle.seed(2)
    coarse = paddle.randn([1, 4, 5, 7])
    fine = paddle.randn([1, 3, 5, 7])
    trace = []
    out = adaptive_subdivision(coarse, fine, coarse_echo_head, 2, 30, trace)
    first = adaptive_subdivision(coarse, fine, coarse_echo_head, 1, 30)
    upsampled = (
        F.interpolate(first, scale_factor=2, mode="bilinear", align_corners=False)
        .numpy()
        .reshape(1, 4, -1)
    )
    expected = upsampled.copy()
    indices = trace[1]["indices"].numpy()
    expected[0][:, indices[0]] = point_sample(coarse, trace[1]["coords"]).numpy()[0]
    np.testing.assert_allclose(out.numpy().reshape(1, 4, -1), expected, atol=1e-6)


def test_more_points_than_cells_refines_every_cell():
    coarse = paddle.randn([1, 2, 2, 3])
    out = adaptive_subdivision(coarse, paddle.randn([1, 1, 2, 3]), constant_head(7.0), 1, 1000)
    np.testing.assert_array_equal(out.numpy(), 7.0)
