"""Point operations: sampling features at points and choosing the points."""

from pointrend.ops.native import get_num_threads, native_available, set_num_threads
from pointrend.ops.point_sample import (
    grid_sample_labels,
    grid_sample_points,
    point_sample,
    sample_labels,
)
from pointrend.ops.point_selection import (
    CELL_COORDS,
    grid_cell_coords,
    sample_points_for_training,
    uncertain_points_on_grid,
    uncertainty,
)

__all__ = [
    "CELL_COORDS",
    "get_num_threads",
    "grid_cell_coords",
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
