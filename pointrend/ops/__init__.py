"""Point operations: sampling features at points and choosing the points."""
from pointrend.ops.point_sample import point_sample, sample_labels
from pointrend.ops.point_selection import sample_points_for_training, uncertain_points_on_grid, uncertainty

__all__ = ["point_sample", "sample_labels", "sample_points_for_training", "uncertain_points_on_grid", "uncertainty"]
