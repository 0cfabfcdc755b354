"""Point operations: sampling features at points and choosing the points."""
from pointrend.ops.native import get_num_threads, native_available, set_num_threads
from pointrend.ops.point_sample import grid_sample_labels, grid_sample_points, point_sample, sample_labels
from pointrend.ops.point_selection import sample_points_for_training, uncertain_points_on_grid, uncertainty

__all__ = [
    "get_num_threads",
    "grid_sample_labels",
    "grid_sample_points",
    "native_available",
    "point_sample",
    "sample_labels",
    "sample_points_for_training",
    "set_num_threads",
    "uncertain_points_on_grid",
    "uncertainty",
]
